"""Chromium with the formshield extension, driven by Playwright, for end-to-end tests.

Uses Debian's Chromium (``/usr/bin/chromium``, or ``$FORMSHIELD_CHROMIUM``), never a browser
downloaded by Playwright. The extension is loaded unpacked from ``extension/`` into a fresh
profile, in Chromium's new headless mode (which runs extensions). With ``proxy_url`` every web
request goes through the formshield proxy, except loopback ones: Chromium bypasses proxies for
127.0.0.1 and localhost by default, which is what keeps the extension's calls to the backend API
direct while ``shop.test`` and ``tracker.example`` go through the proxy.

The warning bar lives in a *closed* shadow root that page scripts (and Playwright's selectors)
cannot enter; :func:`shadow_text` and :func:`click_shadow_button` reach it through the DevTools
protocol (``DOM.getDocument`` with ``pierce``) and click with real mouse events, which the
extension's buttons require (they ignore synthetic clicks).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, Playwright, Worker, sync_playwright

from tests.e2e.harness import ROOT

CHROMIUM = Path(os.environ.get("FORMSHIELD_CHROMIUM", "/usr/bin/chromium"))
EXTENSION_DIR = ROOT / "extension"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
UI_TAG = "FORMSHIELD-UI"


def chromium_available() -> bool:
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


def chromium_args(extension: Path, proxy_url: str | None) -> list[str]:
    """Command-line switches: load only our extension, stay quiet and offline, use the proxy."""
    args = [
        f"--load-extension={extension}",
        f"--disable-extensions-except={extension}",
        "--no-sandbox",  # containers and CI runners rarely allow Chromium's sandbox
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-dev-shm-usage",
        # http:// test sites must stay http:// (no automatic upgrade attempts through the proxy).
        "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
    ]
    if proxy_url:
        args.append(f"--proxy-server={proxy_url}")
    return args


class ExtensionBrowser:
    """A persistent Chromium context with the extension loaded (a context manager)."""

    def __init__(
        self, profile: Path, *, proxy_url: str | None = None, extension: Path = EXTENSION_DIR
    ) -> None:
        self.profile = profile
        self.proxy_url = proxy_url
        self.extension = extension
        self._playwright: Playwright | None = None
        self._context: BrowserContext | None = None
        self._worker: Worker | None = None

    def __enter__(self) -> ExtensionBrowser:
        self._playwright = sync_playwright().start()
        try:
            self._context = self._playwright.chromium.launch_persistent_context(
                str(self.profile),
                executable_path=str(CHROMIUM),
                headless=True,
                args=chromium_args(self.extension, self.proxy_url),
                viewport={"width": 1100, "height": 720},
                locale="zh-CN",
            )
            workers = self._context.service_workers
            self._worker = (
                workers[0]
                if workers
                else self._context.wait_for_event("serviceworker", timeout=15000)
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._context is not None:
            self._context.close()
            self._context = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None

    @property
    def context(self) -> BrowserContext:
        assert self._context is not None, "use ExtensionBrowser as a context manager"
        return self._context

    @property
    def worker(self) -> Worker:
        """The extension's service worker (a new one if Chromium restarted it)."""
        current = [w for w in self.context.service_workers if w.url.startswith("chrome-extension:")]
        if current:
            self._worker = current[-1]
        assert self._worker is not None
        return self._worker

    @property
    def extension_id(self) -> str:
        """From the worker's URL: chrome-extension://<id>/background.js."""
        return self.worker.url.split("/")[2]

    def extension_url(self, path: str) -> str:
        return f"chrome-extension://{self.extension_id}/{path.lstrip('/')}"

    def evaluate(self, expression: str, arg: Any = None) -> Any:
        """Evaluate JavaScript in the service worker (``chrome.*`` APIs available)."""
        return self.worker.evaluate(expression, arg)

    def new_page(self) -> Page:
        return self.context.new_page()

    def tab_id(self, host: str, timeout: float = 10.0) -> int:
        """The id of the tab whose top page is on ``host``, as the extension recorded it.

        Chromium gives the extension no tab URLs without the "tabs" permission, which it does
        not ask for; its own per-tab state (from the content scripts' hello) names the host.
        """
        deadline = time.monotonic() + timeout
        while True:
            tabs = self.evaluate("chrome.storage.session.get('tabs').then(s => s.tabs ?? {})")
            ids = [int(i) for i, state in tabs.items() if state.get("host") == host]
            if len(ids) == 1:
                return ids[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"tabs on {host}: {ids} (all: {tabs})")
            time.sleep(0.1)

    def badge_text(self, tab_id: int) -> str:
        return str(self.evaluate("id => chrome.action.getBadgeText({tabId: id})", tab_id))

    def connection_state(self) -> dict[str, Any]:
        """The event stream's state as the worker stored it."""
        stored = self.evaluate("chrome.storage.session.get('connection')")
        return dict(stored.get("connection") or {})


def screenshot(page: Page, name: str, *, ui_only: bool = False, full_page: bool = False) -> Path:
    """Save a screenshot under test-output/screenshots/ and print its path.

    ``full_page`` captures the whole page, not only the viewport. With ``ui_only`` only the
    extension's in-page UI is captured (the page around it may show
    what was typed into the form, and screenshots are kept: they should hold masks only).
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if ui_only:
        x0, y0, x1, y1 = ui_box(page)
        page.screenshot(
            path=str(path), clip={"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}
        )
    else:
        page.screenshot(path=str(path), full_page=full_page)
    print(f"screenshot: {path}")
    return path


# --- the closed shadow root of the in-page UI ------------------------------------------------


def _walk(node: dict[str, Any]) -> Any:
    yield node
    for child in node.get("children", []):
        yield from _walk(child)
    for root in node.get("shadowRoots", []):
        yield from _walk(root)


def _ui_roots(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        root
        for node in _walk(document)
        if node.get("nodeName") == UI_TAG
        for root in node.get("shadowRoots", [])
    ]


def _text(node: dict[str, Any]) -> str:
    if node.get("nodeName") == "STYLE":
        return ""
    if node.get("nodeType") == 3:
        return str(node.get("nodeValue", ""))
    parts = [_text(child) for child in node.get("children", [])]
    if node.get("nodeName") in ("DIV", "UL"):  # one line per list item and panel
        return "\n".join(p for p in parts if p)
    return "".join(parts)


def shadow_text(page: Page) -> str:
    """All text inside the extension's shadow root in ``page`` ("" when it is not there)."""
    cdp = page.context.new_cdp_session(page)
    try:
        document = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
        return "\n".join(_text(root) for root in _ui_roots(document))
    finally:
        cdp.detach()


def wait_for_shadow_text(page: Page, *needles: str, timeout: float = 15.0) -> str:
    """Poll :func:`shadow_text` until it contains every needle; return it."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = shadow_text(page)
        if all(n in text for n in needles):
            return text
        time.sleep(0.2)
    raise AssertionError(f"in-page UI lacks {needles!r}; it reads:\n{text}")


def ui_box(page: Page) -> tuple[float, float, float, float]:
    """Bounding box (x0, y0, x1, y1) of the panels shown in the extension's shadow root."""
    cdp = page.context.new_cdp_session(page)
    try:
        document = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
        boxes = []
        for root in _ui_roots(document):
            containers = [n for n in root.get("children", []) if n.get("nodeName") == "DIV"]
            for container in containers:  # the .root div, holding one div per panel
                for panel in container.get("children", []):
                    quad = cdp.send("DOM.getBoxModel", {"nodeId": panel["nodeId"]})["model"]
                    boxes.append(quad["border"])
        if not boxes:
            raise AssertionError("the extension shows nothing in this page")
        xs = [v for quad in boxes for v in quad[0::2]]
        ys = [v for quad in boxes for v in quad[1::2]]
        return min(xs), min(ys), max(xs), max(ys)
    finally:
        cdp.detach()


def shadow_button_center(page: Page, label: str) -> tuple[float, float] | None:
    """Where the enabled button labelled ``label`` in the shadow root is (the center of its
    content box, in CSS pixels); None when there is none."""
    cdp = page.context.new_cdp_session(page)
    try:
        document = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
        buttons = [
            node
            for root in _ui_roots(document)
            for node in _walk(root)
            if node.get("nodeName") == "BUTTON"
            and _text(node) == label
            and "disabled" not in node.get("attributes", [])[::2]
        ]
        if not buttons:
            return None
        box = cdp.send("DOM.getBoxModel", {"nodeId": buttons[-1]["nodeId"]})["model"]
        xs, ys = box["content"][0::2], box["content"][1::2]
        return sum(xs) / 4, sum(ys) / 4
    finally:
        cdp.detach()


def click_shadow_button(page: Page, label: str, timeout: float = 15.0) -> None:
    """Click (a real mouse click) the enabled button labelled ``label`` in the shadow root."""
    deadline = time.monotonic() + timeout
    while True:
        center = shadow_button_center(page, label)
        if center is not None:
            page.mouse.click(*center)
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no button {label!r} in the in-page UI:\n{shadow_text(page)}")
        time.sleep(0.2)
