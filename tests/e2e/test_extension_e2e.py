"""End to end: Chromium with the formshield extension, browsing through a real formshield proxy.

Processes, all on 127.0.0.1: the local test sites (``sites.py``: ``*.test`` shops and
``tracker.example``), ``mitmdump`` with formshield and its extension API (``harness.Mitmdump``,
routing every name to the sites server), and Debian's Chromium driven by Playwright with the
unpacked extension (``browser.py``). Chromium sends web traffic through the proxy and talks to
the API directly (loopback bypasses the proxy).

Each test uses a site of its own (``shop.test``, ``order.test``, ``policy.test``, ``ask.test``)
so that policy changes made by one cannot change another's verdicts; the browser and the proxy
are shared by the module because starting them takes seconds. Screenshots of the warning bar, the
popup and the prompt go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Mitmdump, free_port

pytestmark = pytest.mark.e2e

# CI sets FORMSHIELD_REQUIRE_BROWSER=1: there a missing Playwright or Chromium is a failure.
REQUIRE_BROWSER = bool(os.environ.get("FORMSHIELD_REQUIRE_BROWSER"))
if REQUIRE_BROWSER:
    import playwright.sync_api as playwright_sync_api
else:
    playwright_sync_api = pytest.importorskip("playwright.sync_api")

from tests.e2e.browser import (  # noqa: E402  (after the importorskip above)
    CHROMIUM,
    ExtensionBrowser,
    chromium_available,
    click_shadow_button,
    screenshot,
    shadow_button_center,
    shadow_text,
    wait_for_shadow_text,
)
from tests.e2e.sites import TRACKER, Sites  # noqa: E402

if not chromium_available():
    if REQUIRE_BROWSER:
        raise RuntimeError(f"FORMSHIELD_REQUIRE_BROWSER is set but {CHROMIUM} is missing")
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

Page = playwright_sync_api.Page

ID = "11010519491231002X"  # GB 11643 annex example: valid check digit
MASKED_ID = "110***********002X"
PHONE = "13912345678"
MASKED_PHONE = "139****5678"
OTHER_PHONE = "13800001111"
MASKED_OTHER_PHONE = "138****1111"

# Requests held for the person: phone numbers sent from ask.test (and askstay.test) to itself;
# on askpath.test only POSTs to its profile form (a rule that names a method and a path).
ASK_POLICY = """\
version: 1
rules:
  - id: ask-phone
    site: [ask.test, askstay.test]
    destination: [ask.test, askstay.test]
    entities: [CN_PHONE]
    action: ask
    fallback: block
    timeout: 60
    message: "{site} wants to send your {entity}"
  - id: ask-profile-phone
    site: askpath.test
    destination: askpath.test
    entities: [CN_PHONE]
    method: POST
    path: /profile/*
    action: ask
    fallback: block
    timeout: 60
"""


def wait_until(what: str, check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# --- processes ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    with Sites() as server:
        yield server


@dataclass(frozen=True)
class Proxy:
    """The running mitmdump with formshield, and where its extension API listens."""

    mitm: Mitmdump
    api_url: str

    @property
    def proxy_url(self) -> str:
        return self.mitm.proxy_url

    @property
    def token(self) -> str:
        """The API token the proxy generated (``formshield pair`` prints the same)."""
        return (self.mitm.data_dir / "api-token").read_text(encoding="ascii").strip()


@pytest.fixture(scope="module")
def proxy(sites: Sites, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    data_dir = tmp_path_factory.mktemp("formshield-data")
    policy = data_dir / "ask-policy.yaml"
    policy.write_text(ASK_POLICY, encoding="utf-8")
    api_port = free_port()
    extra = ["--set", f"formshield_api_port={api_port}"]
    with Mitmdump(sites.port, data_dir, policies=[policy], extra=extra) as mitm:
        token_file = data_dir / "api-token"
        wait_until(f"{token_file} (mitmdump output:\n{mitm.output()})", token_file.exists)
        yield Proxy(mitm, f"http://127.0.0.1:{api_port}")


@pytest.fixture(scope="module")
def browser(proxy: Proxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExtensionBrowser]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with ExtensionBrowser(profile, proxy_url=proxy.proxy_url) as chromium:
        yield chromium


def pair(browser: ExtensionBrowser, url: str, token: str) -> str:
    """Pair through the options page as a person would; return the status line it shows."""
    page = browser.new_page()
    try:
        page.goto(browser.extension_url("options.html"))
        page.fill("#url", url)
        page.fill("#token", token)
        page.click("#connect")
        status = page.locator("#status")
        wait_until(
            "the options page's verdict on the connection",
            lambda: (
                status.get_attribute("data-kind") in ("ok", "bad")
                and "Connecting" not in status.inner_text()
            ),
        )
        return status.inner_text()
    finally:
        page.close()


@pytest.fixture(scope="module")
def paired(browser: ExtensionBrowser, proxy: Proxy) -> ExtensionBrowser:
    status = pair(browser, proxy.api_url, proxy.token)
    assert status.startswith("Connected"), status
    wait_until(
        "the service worker's event stream",
        lambda: browser.connection_state().get("state") == "connected",
    )
    return browser


# --- helpers -----------------------------------------------------------------------------------


def open_checkout(browser: ExtensionBrowser, host: str) -> Page:
    page = browser.new_page()
    page.goto(f"http://{host}/checkout")
    page.wait_for_selector("#idNo")
    return page


def tracker_values(sites: Sites, host: str, field: str = "idNo") -> list[str]:
    """Values of ``field`` the tracker received from pages on ``host``, in order."""
    values = []
    for hit in sites.hits("POST", TRACKER, "/collect"):
        form = hit.form()
        if form.get("site") == [host]:
            values += form.get(field, [])
    return values


# --- the extension's own modules, in Chromium ----------------------------------------------------


MODULE_CASES = [
    # SSE parsing (lib/sse.js): chunks in, events out
    ("sse", [['event: verdict\ndata: {"a":1}\n\n']], [{"type": "verdict", "data": '{"a":1}'}]),
    ("sse", [["event: ask\r\ndata: x\r", "\n\r\n"]], [{"type": "ask", "data": "x"}]),
    ("sse", [["data:a\ndata: b\n", "\n"]], [{"type": "message", "data": "a\nb"}]),
    ("sse", [[": ping\n\n", "event: resolved\n\n"]], []),
    ("sse", [["event: verdict\nda", "ta: {}\n\n: ping\n\n"]], [{"type": "verdict", "data": "{}"}]),
    # registrable-domain approximation and site matching (lib/sites.js)
    ("site", "www.shop.test", "shop.test"),
    ("site", "zwfw.beijing.gov.cn", "beijing.gov.cn"),
    ("site", "pay.bank.com.cn", "bank.com.cn"),
    ("site", "a.b.jd.com", "jd.com"),
    ("site", "user.github.io", "user.github.io"),
    ("site", "127.0.0.1", "127.0.0.1"),
    ("site", "localhost", "localhost"),
    ("match", ["www.shop.test", "shop.test"], True),
    ("match", ["shop.test", "shop.test"], True),
    ("match", ["evilshop.test", "shop.test"], False),
    ("match", ["shop.test", None], False),
    # what happened to one finding: (its action, what the proxy did) (lib/notices.js)
    ("applied", ["block", "block"], "block"),
    ("applied", ["allow", "block"], "block"),
    ("applied", ["block", "redact"], "redact"),
    ("applied", ["warn", "redact"], "warn"),
    ("applied", ["allow", "redact"], "allow"),
    ("applied", ["allow", "warn"], "allow"),
    ("applied", ["warn", "warn"], "warn"),
    ("applied", ["ask", "allow"], "allow"),
    ("applied", ["ask", "warn"], "warn"),
    # backend URLs: loopback http only (lib/backend.js)
    ("url", "127.0.0.1:8765", "http://127.0.0.1:8765"),
    ("url", "http://localhost:9000/", "http://localhost:9000"),
    ("url", "https://127.0.0.1:8765", "bad-url"),
    ("url", "http://example.com:8765", "bad-url"),
    ("url", "http://127.0.0.1:8765/v1", "bad-url"),
    ("url", "", "bad-url"),
    # pasting `formshield pair` output (lib/backend.js)
    ("paste", "A" * 43, {"url": None, "token": "A" * 43}),
    (
        "paste",
        "URL:   http://127.0.0.1:8765\nToken: " + "b-_" * 14 + "c",
        {"url": "http://127.0.0.1:8765", "token": "b-_" * 14 + "c"},
    ),
    (
        "paste",
        "http://localhost:8777/#token=" + "d" * 43,
        {"url": "http://localhost:8777", "token": "d" * 43},
    ),
]

MODULE_RUNNER = """async ([kind, input]) => {
  const base = chrome.runtime.getURL("lib/");
  if (kind === "sse") {
    const { SseParser } = await import(base + "sse.js");
    const parser = new SseParser();
    return input[0].flatMap((chunk) => parser.feed(chunk));
  }
  if (kind === "applied") {
    const { appliedTo } = await import(base + "notices.js");
    return appliedTo(input[0], input[1]);
  }
  const sites = await import(base + "sites.js");
  if (kind === "site") return sites.approximateSite(input);
  if (kind === "match") return sites.hostMatchesSite(input[0], input[1]);
  const backend = await import(base + "backend.js");
  if (kind === "paste") return backend.parsePairingText(input);
  try {
    return backend.normalizeBaseUrl(input);
  } catch (error) {
    return error.kind;
  }
}"""


@pytest.fixture(scope="module")
def extension_page(browser: ExtensionBrowser) -> Iterator[Page]:
    page = browser.new_page()
    page.goto(browser.extension_url("popup.html?tab=-1"))
    yield page
    page.close()


@pytest.mark.parametrize("kind, given, expected", MODULE_CASES)
def test_extension_modules(extension_page: Page, kind: str, given: Any, expected: Any) -> None:
    assert extension_page.evaluate(MODULE_RUNNER, [kind, given]) == expected


def test_pasting_formshield_pair_output(extension_page: Page, tmp_path: Path) -> None:
    """The options page takes `formshield pair`'s whole output (as the CLI prints it)."""
    from addon.extension_api import pair_info

    printed = pair_info(tmp_path / "data", 8799)
    token = (tmp_path / "data" / "api-token").read_text(encoding="ascii").strip()
    expected = {"url": "http://127.0.0.1:8799", "token": token}
    assert extension_page.evaluate(MODULE_RUNNER, ["paste", printed]) == expected
    short_form = next(line for line in printed.splitlines() if "#token=" in line)
    assert extension_page.evaluate(MODULE_RUNNER, ["paste", short_form]) == expected


def test_notices_carry_masks_not_values(extension_page: Page) -> None:
    """What the worker sends to pages holds the backend's masks, never the checked value."""
    notices = extension_page.evaluate(
        """async ([id, masked]) => {
          const { noticesFromCheck } = await import(chrome.runtime.getURL("lib/notices.js"));
          const result = {
            site: "shop.test", destination: "shop.test", third_party: false,
            verdict: { action: "warn", rule: "r", message: "m" },
            findings: [{ field: "idNo", entity_type: "CN_RESIDENT_ID", masked, score: 1,
                         action: "warn", rule: "r" }],
          };
          return noticesFromCheck(result, [{ name: "idNo", label: "身份证号", value: id }]);
        }""",
        [ID, MASKED_ID],
    )
    assert [(n["label"], n["masked"], n["destination"], n["applied"]) for n in notices] == [
        ("身份证号", MASKED_ID, "shop.test", "warn")
    ]
    assert ID not in json.dumps(notices, ensure_ascii=False)


# --- pairing -------------------------------------------------------------------------------------


def test_options_page_tells_bad_token_unreachable_and_connected(
    browser: ExtensionBrowser, proxy: Proxy
) -> None:
    def stream_state() -> str:
        return str(browser.connection_state().get("state"))

    def global_badge() -> str:
        return str(browser.evaluate("chrome.action.getBadgeText({})"))

    # Each failure shows on the options page, and the service worker's event stream agrees
    # (the toolbar badge says "!" on tabs without a count of their own).
    assert pair(browser, proxy.api_url, "not-the-token-" + "x" * 30).startswith("Bad token")
    wait_until("the stream to see the bad token", lambda: stream_state() == "bad-token")
    assert global_badge() == "!"
    assert pair(browser, f"http://127.0.0.1:{free_port()}", proxy.token).startswith("Unreachable")
    wait_until("the stream to find nobody", lambda: stream_state() == "unreachable")
    assert pair(browser, "http://example.com:8765", proxy.token).startswith("Invalid URL")

    status = pair(browser, proxy.api_url, proxy.token)
    assert status.startswith("Connected to formshield"), status
    wait_until("the event stream to connect after pairing", lambda: stream_state() == "connected")
    assert global_badge() == ""


# --- the tracker, the warning bar, the badge -----------------------------------------------------


def test_tracker_blocked_warning_bar_and_badge(paired: ExtensionBrowser, sites: Sites) -> None:
    host = "shop.test"
    page = open_checkout(paired, host)
    try:
        page.fill("#name", "张三")
        page.locator("#idNo").press_sequentially(ID, delay=15)
        page.locator("#mobile").focus()  # the ID field loses focus: the extension checks it
        page.locator("#mobile").press_sequentially(PHONE, delay=5)
        page.locator("#name").focus()

        text = wait_for_shadow_text(page, MASKED_ID, "tracker.example", "blocked", "身份证号")
        shot = screenshot(page, "warning-bar", ui_only=True)
        # The check of the ID field names its label, the form's destination and the verdict...
        assert f"身份证号 (resident ID) {MASKED_ID} → {host}: would be sent, with a warning" in text
        # ...the proxy's verdict on the tracker's beacon says it was blocked...
        assert f"{MASKED_ID} → tracker.example: blocked" in text
        # The phone number may go to the site silently (first-party-allow): no line for it.
        assert MASKED_PHONE not in text
        assert ID not in text and PHONE not in text

        # The tracker got every keystroke before the ID was complete, never the complete one.
        prefixes = {ID[:i] for i in range(1, len(ID))}
        wait_until(
            "every partial ID at the tracker",
            lambda: prefixes <= set(tracker_values(sites, host)),
        )
        assert set(tracker_values(sites, host)) == prefixes

        tab = paired.tab_id(host)
        badge = wait_until("a badge count", lambda: paired.badge_text(tab))
        assert int(badge) >= 1
        assert shot.stat().st_size > 0
    finally:
        page.close()


def test_first_party_post_passes_with_a_warning(paired: ExtensionBrowser, sites: Sites) -> None:
    host = "order.test"
    page = open_checkout(paired, host)
    try:
        page.fill("#name", "李四")
        page.fill("#idNo", ID)
        page.fill("#mobile", PHONE)
        page.click("#submit")
        page.wait_for_selector("#done")
        [order] = wait_until("the order", lambda: sites.hits("POST", host, "/order"))
        assert order.form()["idNo"] == [ID]
        assert order.form()["mobile"] == [PHONE]
        # The page after the post shows what the proxy did with it.
        text = wait_for_shadow_text(page, f"{MASKED_ID} → {host}: sent (warning)")
        assert ID not in text
        assert "would be" not in text  # the submit's check is about the previous page
        screenshot(page, "after-post")
    finally:
        page.close()


# --- the popup and policy changes ----------------------------------------------------------------


def test_popup_lists_findings_and_its_policy_changes_apply(
    paired: ExtensionBrowser, sites: Sites
) -> None:
    host = "policy.test"
    page = open_checkout(paired, host)
    popup = paired.new_page()
    try:
        page.locator("#idNo").press_sequentially(ID, delay=10)
        wait_for_shadow_text(page, f"{MASKED_ID} → tracker.example: blocked")
        tab = paired.tab_id(host)

        popup.goto(paired.extension_url(f"popup.html?tab={tab}"))
        popup.wait_for_selector("body[data-ready=true]")
        findings = popup.locator("#findings").inner_text()
        assert MASKED_ID in findings and "tracker.example" in findings and "block" in findings
        assert ID not in popup.content()
        assert popup.locator("#site").inner_text() == host
        screenshot(popup, "popup", full_page=True)

        # "Redact instead of block": the next beacon reaches the tracker with the ID masked.
        popup.get_by_role("button", name="Redact instead of block").click()
        wait_until("the policy change", lambda: "Saved" in popup.locator("#message").inner_text())
        assert "redact" in popup.locator("#policy").inner_text()
        retype_last_character(page)
        wait_until("a redacted beacon", lambda: MASKED_ID in tracker_values(sites, host))
        assert ID not in tracker_values(sites, host)
        wait_until(  # the open popup lists the new verdict by itself
            "the redaction in the popup",
            lambda: "redact" in popup.locator("#findings").inner_text(),
        )

        # "Trust tracker.example": the tracker counts as the site's own; the beacon passes.
        popup.get_by_role("button", name=f"Trust {TRACKER}").click()
        wait_until(
            "the trust", lambda: f"Untrust {TRACKER}" in popup.locator("#destinations").inner_text()
        )
        retype_last_character(page)
        wait_until("the beacon passing", lambda: ID in tracker_values(sites, host))
        screenshot(popup, "popup-after-changes", full_page=True)

        popup.get_by_role("button", name="Reset this site").click()
        wait_until(
            "the reset", lambda: f"Trust {TRACKER}" in popup.locator("#destinations").inner_text()
        )
    finally:
        popup.close()
        page.close()


def retype_last_character(page: Page) -> None:
    """Delete and retype the ID's last character: the tracker sends the whole ID again."""
    field = page.locator("#idNo")
    field.focus()
    field.press("End")
    field.press("Backspace")
    field.press_sequentially(ID[-1])


# --- ask prompts ---------------------------------------------------------------------------------


def submit_profile(page: Page, host: str) -> None:
    """Save the profile form (its script posts with fetch; the page stays, with its prompt)."""
    page.goto(f"http://{host}/profile")
    page.fill("#nick", "小王")
    page.fill("#phone", PHONE)
    page.click("#save")


def result_of(page: Page) -> str:
    """What the profile page says about its save ("status 200", "status 403")."""
    return str(
        wait_until(
            "the save to finish",
            lambda: (text := page.locator("#result").inner_text()).startswith("status") and text,
        )
    )


def test_ask_prompt_answers_release_or_kill_the_held_request(
    paired: ExtensionBrowser, sites: Sites
) -> None:
    # The held request is a fetch, so the page stays and can be read through the DevTools
    # protocol: while a navigation is pending (a classic form post held by the proxy) Chromium
    # answers DevTools calls for the page only once it ends, though the old page stays on screen.
    host = "ask.test"
    page = paired.new_page()

    def saves() -> list[list[str]]:
        return [h.form()["phone"] for h in sites.hits("POST", host, "/profile/save")]

    try:
        # Block: the held request never reaches the site; the page gets formshield's 403.
        submit_profile(page, host)
        text = wait_for_shadow_text(page, "Send once", "Always allow for this site", MASKED_PHONE)
        assert f"{host} wants to send personal data to {host}" in text
        assert PHONE not in text
        screenshot(page, "ask-prompt", ui_only=True)
        click_shadow_button(page, "Block")
        assert result_of(page) == "status 403"
        assert saves() == []
        wait_for_shadow_text(page, "formshield: blocked")

        # Send once: released, the site gets it.
        submit_profile(page, host)
        click_shadow_button(page, "Send once")
        assert result_of(page) == "status 200"
        assert saves() == [[PHONE]]

        # Always allow: released, and the next save is not held at all.
        submit_profile(page, host)
        click_shadow_button(page, "Always allow for this site")
        assert result_of(page) == "status 200"
        submit_profile(page, host)
        assert result_of(page) == "status 200"
        assert saves() == [[PHONE]] * 3
        assert "Send once" not in shadow_text(page)
    finally:
        page.close()


def test_a_prompt_stays_put_when_the_warning_bar_changes(
    paired: ExtensionBrowser, sites: Sites
) -> None:
    # Notices come at any time (here: the check of a field the person leaves while the prompt
    # is up) and redraw the bar; the prompt's buttons must stay where the pointer is going.
    host = "askstay.test"
    page = paired.new_page()
    try:
        submit_profile(page, host)
        wait_for_shadow_text(page, "Send once", MASKED_PHONE)
        before = shadow_button_center(page, "Send once")
        assert before is not None
        page.fill("#phone", OTHER_PHONE)
        page.locator("#phone").blur()
        wait_for_shadow_text(page, MASKED_OTHER_PHONE)  # the bar, redrawn with the new notice
        assert shadow_button_center(page, "Send once") == before
        click_shadow_button(page, "Block")
        assert result_of(page) == "status 403"
    finally:
        page.close()


def test_always_allow_beats_an_ask_rule_with_method_and_path(
    paired: ExtensionBrowser, sites: Sites
) -> None:
    host = "askpath.test"
    page = paired.new_page()
    try:
        submit_profile(page, host)
        click_shadow_button(page, "Always allow for this site")
        assert result_of(page) == "status 200"
        submit_profile(page, host)
        assert result_of(page) == "status 200"  # not held: no prompt, no timeout
    finally:
        page.close()
