"""While formshield is not running inside a running proxy, let nothing through.

mitmproxy reloads a script (``-s``) when its file changes: it removes the script's addons (their
``done`` runs) and loads the file again. If that fails (a syntax error, an update half written),
it logs the error and goes on proxying without them, so every request would leave uninspected
(seen with mitmproxy 12). The same holds when the script is removed from a running proxy.

So when FormShield is removed while the proxy runs on, it adds :class:`OfflineGuard` to
mitmproxy's addons. The guard answers every request with ``503`` and a text that says why, and
drops every message a client sends on a WebSocket, until a FormShield is configured again and
removes it. A FormShield that is loaded but could not be configured (a broken policy file when
the script reloads), or that fails on a request past its scan, refuses in the same way
(:func:`refusal_response`).
"""

from __future__ import annotations

import logging
from typing import Any

from mitmproxy import http
from mitmproxy.log import ALERT

from addon.blockpage import RULE_HEADER

__all__ = [
    "ERROR_RULE",
    "GUARD_NAME",
    "OFFLINE_RULE",
    "OfflineGuard",
    "install_guard",
    "refusal_response",
    "remove_guard",
]

logger = logging.getLogger(__name__)

# The guard's name among mitmproxy's addons (what ``master.addons.get`` looks up).
GUARD_NAME = "formshield_offline"
# What the header naming the deciding rule says for these refusals: formshield not running
# (or not configured), and formshield failing on one request.
OFFLINE_RULE = "formshield-offline"
ERROR_RULE = "formshield-error"


def refusal_response(reason: str, rule: str = OFFLINE_RULE) -> http.Response:
    """A ``503`` saying that formshield did not send the request, and why."""
    text = f"formshield did not send this request: {reason}.\nSee the proxy's log.\n"
    return http.Response.make(
        503, text.encode(), {"Content-Type": "text/plain; charset=utf-8", RULE_HEADER: rule}
    )


class OfflineGuard:
    """mitmproxy addon: refuse every request and client WebSocket message (module docstring)."""

    name = GUARD_NAME

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is None:
            flow.response = refusal_response(f"formshield is not running ({self.reason})")

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is not None:
            message = flow.websocket.messages[-1]
            if message.from_client:
                message.drop()


def install_guard(master: Any, reason: str) -> None:
    """Add the guard to ``master``'s addons, unless it is there already."""
    if master.addons.get(GUARD_NAME) is None:
        master.addons.add(OfflineGuard(reason))
        logger.log(
            ALERT,
            "formshield: %s; every request is refused until formshield loads again",
            reason,
        )


def remove_guard(master: Any) -> None:
    """Take the guard out of ``master``'s addons, if it is there."""
    guard = master.addons.get(GUARD_NAME)
    if guard is not None:
        master.addons.remove(guard)
        logger.log(ALERT, "formshield: running again; requests are inspected and sent")
