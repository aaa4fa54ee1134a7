"""Test-only mitmproxy addon: send every named host's requests to the local test upstream.

End-to-end tests browse ``http://shop.test/`` and ``http://tracker.example/`` through the proxy;
no DNS knows those names and the tests must stay on 127.0.0.1, so each request's server address
is set to the upstream given by ``formshield_test_upstream`` (``host:port``). The Host header
keeps the name the client asked for, which is what mitmproxy's ``pretty_host`` (and so
formshield) reads; the upstream can serve several sites by it.

This rewrites the request in ``requestheaders`` rather than the address in ``server_connect``:
with the latter mitmproxy cannot match a kept-alive server connection to later requests for the
same name, opens a new one each time and stalls once a client connection reaches ``max_conns``.

HTTPS: a CONNECT tunnel's target is set to ``formshield_test_https_upstream`` in
``http_connect``, which decides where the tunnel leads. The client's TLS name (SNI) and the
requests' Host or ``:authority`` keep the site's name.
"""

from __future__ import annotations

from typing import Any

from mitmproxy import ctx, http


class RouteToUpstream:
    def load(self, loader: Any) -> None:
        loader.add_option("formshield_test_upstream", str, "", "host:port of the test upstream")
        loader.add_option(
            "formshield_test_https_upstream", str, "", "host:port of the test HTTPS upstream"
        )

    def http_connect(self, flow: http.HTTPFlow) -> None:
        target = ctx.options.formshield_test_https_upstream
        if target:
            _send_to(flow.request, target)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        target = ctx.options.formshield_test_upstream
        if not target or flow.request.scheme != "http":
            return
        name = flow.request.host_header or flow.request.pretty_host
        _send_to(flow.request, target)
        flow.request.host_header = name


def _send_to(request: http.Request, target: str) -> None:
    """Point ``request`` at ``target`` (``host:port``)."""
    host, _, port = target.rpartition(":")
    request.host = host
    request.port = int(port)


addons = [RouteToUpstream()]
