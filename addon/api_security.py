"""Who may talk to the extension API: Host, Origin and bearer-token checks (pure functions).

The API listens on 127.0.0.1, but any web page the browser opens can still send requests to
127.0.0.1 and, through DNS rebinding (``evil.example`` resolving to 127.0.0.1), even read the
answers. Every request therefore passes three checks, in this order (docs: notes/extension-api):

1. **Host** is ``127.0.0.1:<port>``, ``localhost:<port>`` or ``[::1]:<port>`` (a rebinding page
   sends its own name, ``evil.example:<port>`` or ``127.0.0.1.nip.io:<port>``) -> else 421.
2. **Origin** is a browser extension's: ``chrome-extension://<32 letters a-p>`` (Chrome, Edge)
   or ``moz-extension://<UUID>`` (Firefox), and the configured extension id when one is set.
   Pages (``https://...``, ``http://localhost``), ``null`` and a missing Origin -> 403, with one
   exception: Chromium sends an extension's own ``GET`` requests to hosts it may access without
   any Origin (w3c/webextensions#777), but with ``Sec-Fetch-Site: none``. Web pages cannot send
   that value (``Sec-Fetch-*`` are forbidden headers the browser sets: a page's request to
   127.0.0.1 says ``cross-site``), so an Origin-less ``GET``/``HEAD`` with ``Sec-Fetch-Site:
   none`` passes this step. It cannot name its extension, so a configured extension id does not
   narrow it; the token is still required.
3. **Authorization** is ``Bearer <token>`` with the token of ``<data dir>/api-token``, compared
   in constant time -> else 401. Only that header counts: a token in the query string would end
   up in logs and browser history, so it is ignored.

CORS: allowed requests get ``Access-Control-Allow-Origin: <that exact origin>`` and
``Vary: Origin``, never ``*``. A refused Origin gets no CORS header at all.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

ALLOWED_HOST_NAMES = ("127.0.0.1", "localhost", "[::1]")
CHROME_SCHEME = "chrome-extension"
FIREFOX_SCHEME = "moz-extension"
# Chrome extension ids are 32 letters a-p (a SHA-256 prefix written in base 16 with a..p).
_CHROME_ID = r"[a-p]{32}"
# Firefox gives each installed extension a random UUID for its moz-extension:// origin.
_FIREFOX_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_CHROME_ID_RE = re.compile(_CHROME_ID)
_FIREFOX_ID_RE = re.compile(_FIREFOX_ID)
_ANY_EXTENSION_RE = re.compile(rf"{CHROME_SCHEME}://{_CHROME_ID}|{FIREFOX_SCHEME}://{_FIREFOX_ID}")
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_BEARER_RE = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([^\s]+) *")


class OriginPolicy:
    """Which ``Origin`` values may use the API (see the module docstring).

    ``extension_id`` is ``""`` (any Chrome or Firefox extension), a Chrome id (32 letters
    a-p), a Firefox moz-extension UUID, or a full origin (``chrome-extension://<id>``).
    Raises ``ValueError`` with the reason for anything else.
    """

    def __init__(self, extension_id: str = "") -> None:
        self.extension_id = extension_id.strip()
        self.origin: str | None = None
        if self.extension_id:
            self.origin = parse_extension_origin(self.extension_id)

    def allows(self, origin: str | None) -> bool:
        """True when ``origin`` (the header value, or None when absent) may use the API."""
        if not origin:
            return False
        if self.origin is not None:
            return hmac.compare_digest(origin, self.origin) if origin.isascii() else False
        return _ANY_EXTENSION_RE.fullmatch(origin) is not None


def parse_extension_origin(value: str) -> str:
    """The one origin an extension id stands for; ``ValueError`` when it is none."""
    text = value.strip().rstrip("/")
    if "://" in text:
        if _ANY_EXTENSION_RE.fullmatch(text) is None:
            raise ValueError(
                f"'{value}' is not a browser extension origin (expected "
                f"{CHROME_SCHEME}://<32 letters a-p> or {FIREFOX_SCHEME}://<uuid>)"
            )
        return text
    if _CHROME_ID_RE.fullmatch(text):
        return f"{CHROME_SCHEME}://{text}"
    if _FIREFOX_ID_RE.fullmatch(text):
        return f"{FIREFOX_SCHEME}://{text}"
    raise ValueError(
        f"'{value}' is not an extension id (a Chrome id is 32 letters a-p, a Firefox one the "
        "UUID of its moz-extension:// address)"
    )


def host_allowed(host: str | None, port: int) -> bool:
    """True when the ``Host`` header names this loopback server exactly (name and port)."""
    if not host or not host.isascii():
        return False
    name, sep, port_text = host.strip().lower().rpartition(":")
    return bool(sep) and port_text == str(port) and name in ALLOWED_HOST_NAMES


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    match = _BEARER_RE.fullmatch(authorization.strip())
    return match.group(1) if match else None


def token_matches(authorization: str | None, expected: str) -> bool:
    """Constant-time comparison of the header's bearer token with ``expected``."""
    given = bearer_token(authorization)
    if given is None or not expected or not given.isascii():
        return False
    return hmac.compare_digest(given.encode("ascii"), expected.encode("ascii"))


def browser_internal(origin: str | None, method: str, sec_fetch_site: str | None) -> bool:
    """An Origin-less safe request the browser itself marks as not from any site.

    Chromium's extension ``GET`` requests look like this (see the module docstring).
    """
    return (
        not origin and method in _SAFE_METHODS and (sec_fetch_site or "").strip().lower() == "none"
    )


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: HTTP status and a reason for the JSON body.

    ``cors`` is True when the Origin was acceptable, so that the extension may read the error
    (a 401 tells it to pair again); False for refused origins, which get no CORS headers.
    """

    status: int
    reason: str
    cors: bool


def check_request(
    *,
    host: str | None,
    origin: str | None,
    authorization: str | None,
    port: int,
    origins: OriginPolicy,
    token: str,
    method: str = "GET",
    sec_fetch_site: str | None = None,
    preflight: bool = False,
) -> Refusal | None:
    """Run the three checks in order; None when the request may proceed.

    A CORS ``preflight`` (OPTIONS) carries no credentials, so only Host and Origin are checked.
    """
    if not host_allowed(host, port):
        return Refusal(421, f"wrong Host header: use http://127.0.0.1:{port}", cors=False)
    if not origins.allows(origin) and not browser_internal(origin, method, sec_fetch_site):
        return Refusal(403, "origin not allowed", cors=False)
    if preflight:
        return None
    if not token_matches(authorization, token):
        return Refusal(401, "missing or wrong token: pair the extension again", cors=True)
    return None
