"""Test-only mitmproxy addon: connect every named host to the local test upstream.

End-to-end tests browse ``http://shop.test/`` and ``http://tracker.example/`` through the proxy;
no DNS knows those names and the tests must stay on 127.0.0.1, so the server connection is
pointed at the upstream given by ``formshield_test_upstream`` (``host:port``). The request keeps
its Host header, so the upstream (and formshield) still see which name the client asked for.
"""

from __future__ import annotations

from typing import Any

from mitmproxy import ctx
from mitmproxy.proxy.server_hooks import ServerConnectionHookData


class RouteToUpstream:
    def load(self, loader: Any) -> None:
        loader.add_option("formshield_test_upstream", str, "", "host:port of the test upstream")

    def server_connect(self, data: ServerConnectionHookData) -> None:
        target = ctx.options.formshield_test_upstream
        if target:
            host, _, port = target.rpartition(":")
            data.server.address = (host, int(port))


addons = [RouteToUpstream()]
