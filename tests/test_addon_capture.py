"""Tests of addon.capture: HAR and mitmproxy flow files as requests to scan."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.io import FlowWriter, tnetstring
from mitmproxy.test import tflow

from addon.capture import Capture, CapturedMessage, CapturedRequest, CaptureError, CaptureItem

CAPTURES = Path(__file__).parent / "fixtures" / "captures"

# What scripts/make_capture_fixtures.py sends in its "shop" session, in order.
SHOP_REQUESTS = [
    ("GET", "www.demo-shop.cn", "/"),
    ("POST", "www.demo-shop.cn", "/checkout"),
    ("POST", "www.gbk-mall.com.cn", "/member/register.do"),
    ("POST", "api.demo-shop.cn", "/v1/user/profile"),
    ("GET", "hm.stats-demo.com", "/hm.gif"),
    ("POST", "api.demo-shop.cn", "/v1/address"),
    ("POST", "log.stats-demo.com", "/collect"),
    ("POST", "www.demo-shop.cn", "/upload/resume"),
    ("POST", "api.demo-shop.cn", "/v1/order/query"),
    ("GET", "www.demo-shop.cn", "/search"),
    ("GET", "im.demo-shop.cn", "/ws"),
]


def _requests(items: list[CaptureItem]) -> list[CapturedRequest]:
    return [i for i in items if isinstance(i, CapturedRequest)]


def _messages(items: list[CaptureItem]) -> list[CapturedMessage]:
    return [i for i in items if isinstance(i, CapturedMessage)]


def _write_flows(path: Path, flows: list[Any]) -> Path:
    with path.open("wb") as f:
        writer = FlowWriter(f)
        for flow in flows:
            writer.add(flow)
    return path


def _write_har(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}), "utf-8")
    return path


def _entry(request: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "startedDateTime": "2024-05-20T10:00:00.000Z",
        "time": 1,
        "request": {"httpVersion": "HTTP/1.1", "headers": [], **request},
        "response": {"status": 0},
        **extra,
    }


# -- the real captures ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["shop.mitm", "shop.har"])
def test_shop_capture_requests_in_order(name: str) -> None:
    capture = Capture(CAPTURES / name)
    assert capture.format == ("mitm" if name.endswith(".mitm") else "har")
    items = list(capture)
    requests = _requests(items)
    seen = [
        (r.request.method, r.request.pretty_host, r.request.path.split("?")[0]) for r in requests
    ]
    assert seen == SHOP_REQUESTS
    assert [r.index for r in requests] == list(range(len(SHOP_REQUESTS)))
    assert all(r.issues == () for r in requests)
    # the WebSocket flow's client messages follow its request: hello, the chat line, binary
    messages = _messages(items)
    assert [(m.index, m.message, m.is_text) for m in messages] == [
        (10, 0, True),
        (10, 2, True),
        (10, 4, False),
    ]
    assert json.loads(messages[0].content) == {"type": "hello"}
    assert "我的手机号是".encode() in messages[1].content
    assert messages[2].content == bytes(range(16))
    assert items.index(messages[0]) == items.index(requests[10]) + 1
    assert capture.position() == capture.size


def test_flow_file_counts_skipped_non_http_flows() -> None:
    capture = Capture(CAPTURES / "shop.mitm")
    list(capture)
    assert capture.skipped == {"tcp": 1}
    har = Capture(CAPTURES / "shop.har")
    list(har)
    assert har.skipped == {}  # HAR holds HTTP only


def test_har_and_flow_file_give_the_same_request_bytes() -> None:
    from_flows = _requests(list(Capture(CAPTURES / "shop.mitm")))
    from_har = _requests(list(Capture(CAPTURES / "shop.har")))
    for a, b in zip(from_flows, from_har, strict=True):
        assert a.request.pretty_url == b.request.pretty_url
        assert a.request.get_content() == b.request.get_content()  # gzip re-applied and removed
        assert a.request.headers.get("content-type") == b.request.headers.get("content-type")
        assert a.request.headers.get("content-encoding") == b.request.headers.get(
            "content-encoding"
        )


def test_gbk_body_survives_the_har_round_trip() -> None:
    """The GBK form's percent-escapes are ASCII: the HAR keeps the exact bytes."""
    for name in ("shop.mitm", "shop.har"):
        req = _requests(list(Capture(CAPTURES / name)))[2].request
        assert req.raw_content is not None and req.raw_content.startswith(b"xm=%")
        assert "charset" not in req.headers["content-type"]


def test_clean_capture() -> None:
    for name in ("clean.mitm", "clean.har"):
        items = list(Capture(CAPTURES / name))
        assert len(_requests(items)) == 5
        assert _messages(items) == []


# -- format detection by content -------------------------------------------------------------


def test_format_is_detected_by_content_not_extension(tmp_path: Path) -> None:
    har_named_mitm = tmp_path / "actually-har.mitm"
    har_named_mitm.write_bytes((CAPTURES / "shop.har").read_bytes())
    flows_named_har = tmp_path / "actually-flows.har"
    flows_named_har.write_bytes((CAPTURES / "shop.mitm").read_bytes())
    assert Capture(har_named_mitm).format == "har"
    assert Capture(flows_named_har).format == "mitm"
    assert len(_requests(list(Capture(flows_named_har)))) == 11


def test_har_with_bom_and_leading_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "bom.har"
    body = json.dumps({"log": {"entries": [_entry({"method": "GET", "url": "https://a.cn/"})]}})
    path.write_bytes(b"\xef\xbb\xbf\n\n  " + body.encode())
    capture = Capture(path)
    assert capture.format == "har"
    assert [r.request.url for r in _requests(list(capture))] == ["https://a.cn/"]


@pytest.mark.parametrize("name", ["shop.mitm", "shop.har"])
def test_gzip_compressed_captures(tmp_path: Path, name: str) -> None:
    path = tmp_path / (name + ".gz")
    path.write_bytes(gzip.compress((CAPTURES / name).read_bytes()))
    capture = Capture(path)
    assert capture.compressed
    assert len(_requests(list(capture))) == 11


def test_empty_file_is_an_empty_capture(tmp_path: Path) -> None:
    path = tmp_path / "empty.mitm"
    path.write_bytes(b"")
    capture = Capture(path)
    assert capture.format == "empty"
    assert list(capture) == []


# -- unreadable input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"hello, this is not a capture", "unrecognised content"),
        (b"\x00\x01\x02binary", "unrecognised content"),
        (b"{ not json at all", "not valid JSON"),
        (b'{"log": {"entries": [', "not valid JSON"),
        (b'{"foo": 1}', "not a HAR file"),
        (b'{"log": {"entries": {}}}', "not a HAR file"),
        (b'{"log": {"entries": [{"request": {"url": "https://a.cn/"}}]}}', "HAR entry 0"),
        (b'{"log": {"entries": [42]}}', "HAR entry 0"),
        (b"\xff\xfe{\x00", "unrecognised content"),
        (b'{"log": "\xff\xfe"}', "not UTF-8"),
        (b"5:hello,", "corrupt flow file after 0"),
        (b"99999:abc", "corrupt flow file after 0"),
        (b"\x1f\x8b\x08\x00garbage", "gzip"),
    ],
)
def test_unreadable_content_raises_capture_error(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "bad.capture"
    path.write_bytes(content)
    with pytest.raises(CaptureError) as info:
        list(Capture(path))
    assert info.value.path == str(path)
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}: ")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no such file"):
        Capture(tmp_path / "nope.har")
    with pytest.raises(CaptureError, match="is a directory"):
        Capture(tmp_path)


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, which reads a chmod 000 file: make open() fail as it would for a user.
    path = tmp_path / "locked.mitm"
    path.write_bytes((CAPTURES / "clean.mitm").read_bytes())
    real_open = Path.open

    def locked_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", locked_open)
    with pytest.raises(CaptureError, match="permission denied"):
        Capture(path)


def test_truncated_flow_file_yields_good_flows_then_raises(tmp_path: Path) -> None:
    data = (CAPTURES / "shop.mitm").read_bytes()
    path = tmp_path / "truncated.mitm"
    path.write_bytes(data[: len(data) * 2 // 3])
    got: list[CaptureItem] = []
    with pytest.raises(CaptureError, match=r"corrupt flow file after \d+ HTTP flow") as info:
        got.extend(Capture(path))
    requests = _requests(got)
    assert 3 <= len(requests) < 11
    assert f"after {len(requests)} HTTP flow(s)" in info.value.reason


def test_capture_error_never_quotes_file_content(tmp_path: Path) -> None:
    secret = "11010519491231002X"
    for content in (f"{{ idNo: {secret}", f"{secret} is here", f'{{"log": "{secret}"}}'):
        path = tmp_path / "leak.har"
        path.write_text(content)
        with pytest.raises(CaptureError) as info:
            list(Capture(path))
        assert secret not in str(info.value)


@pytest.mark.parametrize(
    "record, reason",
    [
        ([b"11010519491231002X"], "a record is not a valid flow"),
        ({b"type": b"http", b"version": 21, b"id": b"11010519491231002X"}, "not a valid flow"),
        (
            {b"version": 21, b"idNo": b"11010519491231002X"},
            "a record is not a valid flow (KeyError)",
        ),
        ({b"type": b"http", b"version": 99, b"x": b"11010519491231002X"}, "flow format version 99"),
    ],
)
def test_records_that_are_not_flows(tmp_path: Path, record: Any, reason: str) -> None:
    path = tmp_path / "odd.mitm"
    path.write_bytes(tnetstring.dumps(record))
    with pytest.raises(CaptureError) as info:
        list(Capture(path))
    assert reason in info.value.reason
    assert "11010519491231002X" not in str(info.value)


# -- flow files made with mitmproxy's own writer ----------------------------------------------


def test_non_http_flows_are_skipped_and_counted(tmp_path: Path) -> None:
    flows = [
        tflow.ttcpflow(),
        tflow.tflow(),
        tflow.tudpflow(),
        tflow.tdnsflow(),
        tflow.tflow(err=True),  # failed flows still sent their request
        tflow.ttcpflow(),
    ]
    capture = Capture(_write_flows(tmp_path / "mixed.mitm", flows))
    requests = _requests(list(capture))
    assert [r.index for r in requests] == [0, 1]
    assert capture.skipped == {"tcp": 2, "udp": 1, "dns": 1}


def test_websocket_messages_from_client_only(tmp_path: Path) -> None:
    flow = tflow.twebsocketflow()
    assert flow.websocket is not None
    from_client = [m for m in flow.websocket.messages if m.from_client]
    assert from_client and len(from_client) < len(flow.websocket.messages)
    items = list(Capture(_write_flows(tmp_path / "ws.mitm", [tflow.tflow(), flow])))
    messages = _messages(items)
    assert [m.content for m in messages] == [m.content for m in from_client]
    assert all(m.index == 1 and m.request.path == flow.request.path for m in messages)
    positions = [i for i, m in enumerate(flow.websocket.messages) if m.from_client]
    assert [m.message for m in messages] == positions


def test_streamed_body_is_reported(tmp_path: Path) -> None:
    flow = tflow.tflow()
    flow.request.raw_content = None
    (item,) = _requests(list(Capture(_write_flows(tmp_path / "s.mitm", [flow]))))
    assert [i.kind for i in item.issues] == ["body_missing"]


def test_large_flow_file_is_streamed(tmp_path: Path) -> None:
    flow = tflow.tflow()
    flow.request.content = b"x" * 10_000
    path = _write_flows(tmp_path / "big.mitm", [flow] * 500)  # ~5 MB
    capture = Capture(path)
    iterator = iter(capture)
    first = next(iterator)
    assert isinstance(first, CapturedRequest)
    # Only the first flow (plus read buffering) has been read.
    assert capture.position() < capture.size // 10
    assert sum(1 for _ in iterator) == 499


# -- HAR variants other tools write ----------------------------------------------------------


def test_har_from_a_browser(tmp_path: Path) -> None:
    """Chrome-style: ws:// URL, params-only postData, base64 binary frames, missing bodies."""
    entries = [
        _entry(
            {
                "method": "POST",
                "url": "https://www.shop.cn/login",
                "httpVersion": "http/2.0",
                "headers": [{"name": "content-type", "value": "application/x-www-form-urlencoded"}],
                "postData": {
                    "mimeType": "application/x-www-form-urlencoded",
                    "params": [
                        {"name": "tel", "value": "13912345678"},
                        {"name": "x", "value": "一"},
                    ],
                },
            }
        ),
        _entry(
            {
                "method": "GET",
                "url": "wss://im.shop.cn/chat",
                "headers": [["Origin", "https://www.shop.cn"]],
            },
            _resourceType="websocket",
            _webSocketMessages=[
                {"type": "send", "opcode": 1, "data": '{"m":"你好"}'},
                {"type": "receive", "opcode": 1, "data": "ignored"},
                {"type": "send", "opcode": 2, "data": "AAEC"},
                {"type": "send", "opcode": 9, "data": ""},
            ],
        ),
        _entry({"method": "PUT", "url": "https://api.shop.cn/f", "bodySize": 120}),
        _entry(
            {
                "method": "POST",
                "url": "https://api.shop.cn/upload",
                "postData": {
                    "mimeType": "multipart/form-data; boundary=x",
                    "params": [{"name": "file", "fileName": "a.txt"}],
                },
            }
        ),
        _entry(
            {
                "method": "POST",
                "url": "https://api.shop.cn/bin",
                "postData": {
                    "mimeType": "application/octet-stream",
                    "text": "AAEC",
                    "encoding": "base64",
                },
            }
        ),
    ]
    items = list(Capture(_write_har(tmp_path / "chrome.har", entries)))
    requests = _requests(items)
    login = requests[0].request
    assert login.http_version == "HTTP/2"
    assert login.urlencoded_form["tel"] == "13912345678"
    assert login.urlencoded_form["x"] == "一"
    ws = requests[1].request
    assert ws.scheme == "https" and ws.pretty_host == "im.shop.cn"
    assert ws.headers["origin"] == "https://www.shop.cn"  # [name, value] header pairs (Slack)
    assert [(m.message, m.content, m.is_text) for m in _messages(items)] == [
        (0, '{"m":"你好"}'.encode(), True),
        (2, b"\x00\x01\x02", False),
    ]
    assert [i.kind for i in requests[2].issues] == ["body_missing"]
    assert "120 bytes" in requests[2].issues[0].detail
    assert [i.kind for i in requests[3].issues] == ["body_missing"]
    assert requests[4].request.raw_content == b"\x00\x01\x02"


def test_har_get_without_body_has_no_invented_content_length(tmp_path: Path) -> None:
    path = _write_har(tmp_path / "g.har", [_entry({"method": "GET", "url": "http://a.cn/?q=1"})])
    (item,) = _requests(list(Capture(path)))
    assert "content-length" not in item.request.headers
    assert item.request.query["q"] == "1"
    assert isinstance(item.request, http.Request)
