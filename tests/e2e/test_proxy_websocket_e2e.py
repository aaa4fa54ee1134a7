"""End to end: WebSocket messages a page sends, through a real mitmdump with formshield.

A client opens ``ws://`` through the proxy as a browser does; the test routing addon sends the
connection to a local WebSocket upstream that records every message and acknowledges each with
a count (``tests/e2e/websocket.py``). A message the policy blocks is dropped: it never arrives,
and the count of the next one shows it. The default policy's rules apply as to any request:
the site is the page's Origin, the destination the host the socket was opened to.
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
PAGE = {"Origin": "http://shop.test"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[WsUpstream]:
    with WsUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def proxy(upstream: WsUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mitmdump]:
    with Mitmdump(upstream.port, tmp_path_factory.mktemp("proxy-ws")) as mitm:
        yield mitm


def test_id_to_a_tracker_socket_is_dropped(proxy: Mitmdump, upstream: WsUpstream) -> None:
    with WsClient(proxy.port, "ws://tracker.example/live?m=w1", PAGE) as ws:
        ws.send(json.dumps({"idNo": ID}))
        ws.send("hello")
        assert ws.receive_text() == "ack 1"  # the first message never arrived
    assert upstream.messages("m=w1") == ["hello"]


@pytest.mark.parametrize("kind", [str, bytes])
def test_phone_to_a_tracker_socket_is_redacted(
    proxy: Mitmdump, upstream: WsUpstream, kind: type[str] | type[bytes]
) -> None:
    marker = f"m=w2-{kind.__name__}"
    text = json.dumps({"event": "input", "tel": PHONE})
    with WsClient(proxy.port, f"ws://tracker.example/live?{marker}", PAGE) as ws:
        ws.send(text if kind is str else text.encode())
        assert ws.receive_text() == "ack 1"
    [got] = upstream.messages(marker)
    assert isinstance(got, kind)
    plain = got if isinstance(got, str) else got.decode()
    assert json.loads(plain) == {"event": "input", "tel": "139****5678"}
    assert Scanner().scan_text(plain) == []


def test_first_party_socket_passes_intact(proxy: Mitmdump, upstream: WsUpstream) -> None:
    message = json.dumps({"idNo": ID, "tel": PHONE})
    with WsClient(proxy.port, "ws://www.shop.test/live?m=w3", PAGE) as ws:
        ws.send(message)
        assert ws.receive_text() == "ack 1"
    assert upstream.messages("m=w3") == [message]


def test_clean_messages_pass_and_answers_come_back(proxy: Mitmdump, upstream: WsUpstream) -> None:
    with WsClient(proxy.port, "ws://tracker.example/live?m=w4", PAGE) as ws:
        for n in range(1, 4):
            ws.send(json.dumps({"event": "scroll", "y": n * 100, "ts": 1732812345678 + n}))
            assert ws.receive_text() == f"ack {n}"
    assert len(upstream.messages("m=w4")) == 3


def test_socket_verdicts_are_audited_masked(proxy: Mitmdump, upstream: WsUpstream) -> None:
    with WsClient(proxy.port, "ws://tracker.example/audit-ws?m=w5", PAGE) as ws:
        ws.send(f"idNo={ID}")
        ws.send("bye")
        assert ws.receive_text() == "ack 1"
    rows = proxy.audit_rows(
        "SELECT v.method, v.site, v.destination, f.entity_type, f.masked, f.action "
        "FROM findings f JOIN verdicts v ON v.id = f.verdict_id WHERE v.url LIKE '%/audit-ws'"
    )
    assert rows == [
        ("WS", "shop.test", "tracker.example", "CN_RESIDENT_ID", "110***********002X", "block")
    ]
    dump = proxy.audit_dump()
    assert ID not in dump
