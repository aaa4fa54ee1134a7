"""End to end: WebSocket messages a page sends, through a real mitmdump with formshield.

A client opens a socket through the proxy as a browser does, as ``ws://`` or as ``wss://``
(a CONNECT tunnel and TLS, which mitmproxy intercepts with its CA); the test routing addon sends
the connection to a local WebSocket upstream, plain or TLS, that records every message and
acknowledges each with a count (``tests/e2e/websocket.py``). A message the policy blocks is
dropped: it never arrives, and the count of the next one shows it. The default policy's rules
apply as to any request: the site is the page's Origin, the destination the host the socket was
opened to. Each case runs over both schemes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from detectors.engine import Scanner
from tests.e2e.harness import Mitmdump
from tests.e2e.websocket import WsClient, WsUpstream

pytestmark = pytest.mark.e2e

ID = "11010519491231002X"
PHONE = "13912345678"
SCHEMES = ["ws", "wss"]


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, WsUpstream]]:
    with WsUpstream() as plain, WsUpstream(tls=True) as tls:
        yield {"ws": plain, "wss": tls}


@pytest.fixture(scope="module")
def proxy(
    upstreams: dict[str, WsUpstream], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mitmdump]:
    with Mitmdump(
        upstreams["ws"].port,
        tmp_path_factory.mktemp("proxy-ws"),
        https_upstream_port=upstreams["wss"].port,
    ) as mitm:
        yield mitm


@pytest.fixture(params=SCHEMES)
def scheme(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def upstream(upstreams: dict[str, WsUpstream], scheme: str) -> WsUpstream:
    """The upstream that receives this scheme's sockets."""
    return upstreams[scheme]


def socket_to(proxy: Mitmdump, scheme: str, host: str, path: str) -> WsClient:
    """A socket to ``host`` opened by a page of shop.test, served over ``scheme``'s HTTP."""
    page = "https://shop.test" if scheme == "wss" else "http://shop.test"
    return WsClient(proxy.port, f"{scheme}://{host}{path}", {"Origin": page}, ca=proxy.ca_cert)


def test_id_to_a_tracker_socket_is_dropped(
    proxy: Mitmdump, upstream: WsUpstream, scheme: str
) -> None:
    with socket_to(proxy, scheme, "tracker.example", "/live?m=w1") as ws:
        ws.send(json.dumps({"idNo": ID}))
        ws.send("hello")
        assert ws.receive_text() == "ack 1"  # the first message never arrived
    assert upstream.messages("m=w1") == ["hello"]


@pytest.mark.parametrize("kind", [str, bytes])
def test_phone_to_a_tracker_socket_is_redacted(
    proxy: Mitmdump, upstream: WsUpstream, scheme: str, kind: type[str] | type[bytes]
) -> None:
    marker = f"m=w2-{kind.__name__}"
    text = json.dumps({"event": "input", "tel": PHONE})
    with socket_to(proxy, scheme, "tracker.example", f"/live?{marker}") as ws:
        ws.send(text if kind is str else text.encode())
        assert ws.receive_text() == "ack 1"
    [got] = upstream.messages(marker)
    assert isinstance(got, kind)
    plain = got if isinstance(got, str) else got.decode()
    assert json.loads(plain) == {"event": "input", "tel": "139****5678"}
    assert Scanner().scan_text(plain) == []


def test_first_party_socket_passes_intact(
    proxy: Mitmdump, upstream: WsUpstream, scheme: str
) -> None:
    message = json.dumps({"idNo": ID, "tel": PHONE})
    with socket_to(proxy, scheme, "www.shop.test", "/live?m=w3") as ws:
        ws.send(message)
        assert ws.receive_text() == "ack 1"
    assert upstream.messages("m=w3") == [message]


def test_clean_messages_pass_and_answers_come_back(
    proxy: Mitmdump, upstream: WsUpstream, scheme: str
) -> None:
    with socket_to(proxy, scheme, "tracker.example", "/live?m=w4") as ws:
        for n in range(1, 4):
            ws.send(json.dumps({"event": "scroll", "y": n * 100, "ts": 1732812345678 + n}))
            assert ws.receive_text() == f"ack {n}"
    assert len(upstream.messages("m=w4")) == 3


def test_socket_verdicts_are_audited_masked(
    proxy: Mitmdump, upstream: WsUpstream, scheme: str
) -> None:
    with socket_to(proxy, scheme, "tracker.example", f"/audit-{scheme}?m=w5") as ws:
        ws.send(f"idNo={ID}")
        ws.send("bye")
        assert ws.receive_text() == "ack 1"
    rows = proxy.audit_rows(
        "SELECT v.method, v.url, v.site, v.destination, f.entity_type, f.masked, f.action "
        "FROM findings f JOIN verdicts v ON v.id = f.verdict_id "
        f"WHERE v.url LIKE '%/audit-{scheme}'"
    )
    http = "https" if scheme == "wss" else "http"
    assert rows == [
        (
            "WS",
            f"{http}://tracker.example/audit-{scheme}",
            "shop.test",
            "tracker.example",
            "CN_RESIDENT_ID",
            "110***********002X",
            "block",
        )
    ]
    dump = proxy.audit_dump()
    assert ID not in dump
