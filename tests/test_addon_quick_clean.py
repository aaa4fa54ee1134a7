"""clean_at_a_glance: True only for requests the full scan finds nothing in.

The rule: when :func:`clean_at_a_glance` says a request is clean, :func:`scan_request` on the
same request gives no finding and no issue. Checked on a table of requests it must send down the
full path (each for one reason), on the plain requests it is for, and as a property over random
requests built from values that hold personal data, encoded or not, and values that do not.
Personal data here is generated test data: the standard's example ID, 138-0000-xxxx phones,
the card networks' test numbers.
"""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mitmproxy import http

from addon.clean_headers import CleanHeaders
from addon.quick_clean import MAX_BODY, clean_at_a_glance
from addon.request_fields import ParseLimits
from addon.scan import scan_request
from detectors.engine import Scanner
from detectors.value_gate import ValueGate

ID_NO = "11010519491231002X"
PHONE = "13800001111"
CARD = "4111111111111111"
JSON = "application/json"
LIMITS = ParseLimits()
REFERER = "https://shop.example.cn/cart?page=2"
COOKIE = "_ga=GA1.2.1234567890.1732812345; sessionid=8f3a9c2e7b1d4f6a9e0c3b5d7f1a2c4e; lang=zh-CN"


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


@pytest.fixture(scope="module")
def gate(scanner: Scanner) -> ValueGate:
    assert scanner.value_gate is not None
    return scanner.value_gate


def request(
    method: str,
    url: str,
    body: bytes | None = b"",
    headers: list[tuple[str, str]] | None = None,
) -> http.Request:
    r = http.Request.make(method, url, body or b"")
    r.headers = http.Headers([(k.encode(), v.encode()) for k, v in headers or []])
    if body is None:
        r.raw_content = None  # as for a body streamed past the addon
    return r


def learnt(scanner: Scanner, *requests: http.Request, limits: ParseLimits = LIMITS) -> CleanHeaders:
    """The table the proxy holds after scanning ``requests`` (earlier requests of a page)."""
    clean = CleanHeaders()
    for r in requests:
        scan_request(r, scanner, limits, clean=clean)
    return clean


def assert_full_scan_is_clean(
    scanner: Scanner, r: http.Request, limits: ParseLimits = LIMITS
) -> None:
    result = scan_request(r, scanner, limits)
    assert [(f.entity_type, f.location) for f in result.findings] == []
    assert result.issues == []


BROWSER = [("Referer", REFERER), ("Cookie", COOKIE), ("Accept", "*/*"), ("User-Agent", "Mozilla")]


# --- the requests it is for --------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, url, body, extra",
    [
        ("GET", "http://www.shop.test/", b"", []),
        ("GET", "http://cdn.shop.test/item/12345?page=3&ts=1732812345678&sku=SKU12345", b"", []),
        ("GET", "http://cdn.shop.test/static/app.js?v=2&flag&empty=", b"", []),
        ("GET", "http://cdn.shop.test/img/a.png#frag?mobile=13800001111", b"", []),
        ("GET", "http://t.example/s?q=a+b&ref=https%3A%2F%2Fshop.example.cn%2Fcart", b"", []),
        ("GET", "http://t.example/s?city=%E6%9D%AD%E5%B7%9E&q=a%20b", b"", []),
        ("POST", "http://tracker.example/collect", b"", []),
        (
            "POST",
            "http://tracker.example/collect",
            b'{"event": "view", "item": 538211, "ts": 17, "ok": true, "x": null, "r": 0.25}',
            [("Content-Type", JSON)],
        ),
        ("POST", "http://tracker.example/c", b" {} \n", [("Content-Type", "Application/JSON")]),
        (
            "POST",
            "http://tracker.example/c",
            b'{"event": "add", "sku": "SKU12345", "qty": 2}',
            [("Content-Type", "application/json; charset=UTF-8")],
        ),
    ],
)
def test_plain_requests_are_clean_at_a_glance(  # noqa: PLR0917 (one argument per table column)
    scanner: Scanner,
    gate: ValueGate,
    method: str,
    url: str,
    body: bytes,
    extra: list[tuple[str, str]],
) -> None:
    r = request(method, url, body, BROWSER + extra)
    clean = learnt(scanner, request("GET", "http://www.shop.test/", b"", BROWSER))
    assert clean_at_a_glance(r, gate, clean, LIMITS)
    assert_full_scan_is_clean(scanner, r)


# --- what it leaves to the full path, one reason each -------------------------------------------

JSON_POST = [("Content-Type", JSON)]
FORM_POST = [("Content-Type", "application/x-www-form-urlencoded")]
GBK_JSON_POST = [("Content-Type", "application/json; charset=gbk")]
GZIP_JSON_POST = [*JSON_POST, ("Content-Encoding", "gzip")]
POST_TO = "http://t.example/c"


FULL_PATH_CASES = [
    ("POST", POST_TO, None, [], "body streamed past the addon"),
    ("GET", f"http://t.example/u/{PHONE}/orders", b"", [], "phone in a path segment"),
    ("GET", "http://t.example/u/%E5%BC%A0", b"", [], "percent-encoded path segment"),
    ("GET", f"http://t.example/s?mobile={PHONE}", b"", [], "phone in the query"),
    ("GET", "http://t.example/s?m=%31%33%38%30%30%30%30%31%31%31%31", b"", [], "encoded phone"),
    ("GET", "http://t.example/s?q=%FF%FE", b"", [], "a query that is not valid text"),
    ("GET", f"http://t.example/s?{PHONE}", b"", [], "a name that may be data"),
    ("GET", "http://t.example/s?u=dGVzdEBleGFtcGxlLmNvbQ", b"", [], "base64-like value"),
    ("GET", "http://t.example/", b"", [("X-User", "zhang")], "a header not seen before"),
    ("POST", POST_TO, b"idNo=1", FORM_POST, "form body"),
    ("POST", POST_TO, b'{"a": 1}', [], "no Content-Type"),
    ("POST", POST_TO, b'{"a": 1}', [("Content-Type", "text/plain")], "other type"),
    ("POST", POST_TO, b'{"a": 1}', GBK_JSON_POST, "other charset"),
    ("POST", POST_TO, b'{"a": 1}', JSON_POST + JSON_POST, "Content-Type twice"),
    ("POST", POST_TO, gzip.compress(b'{"a": 1}', mtime=0), GZIP_JSON_POST, "compressed"),
    ("POST", POST_TO, json.dumps({"mobile": PHONE}).encode(), JSON_POST, "phone"),
    ("POST", POST_TO, json.dumps({"card": int(CARD)}).encode(), JSON_POST, "card number"),
    ("POST", POST_TO, json.dumps({PHONE: 1}).encode(), JSON_POST, "a key that may be data"),
    ("POST", POST_TO, b'{"user": {"a": 1}}', JSON_POST, "nested object"),
    ("POST", POST_TO, b'{"a": [1, 2]}', JSON_POST, "array"),
    ("POST", POST_TO, b"[1, 2]", JSON_POST, "top-level array"),
    ("POST", POST_TO, b'{"a": NaN}', JSON_POST, "not a finite number"),
    ("POST", POST_TO, b'{"a": 1', JSON_POST, "invalid JSON"),
    ("POST", POST_TO, b'{"a": 1} {"b": 2}', JSON_POST, "two documents"),
    ("POST", POST_TO, '{"城市": "杭州"}'.encode(), JSON_POST, "not ASCII"),
    ("POST", POST_TO, b'{"query": "q", "variables": {}}', JSON_POST, "GraphQL"),
    ("POST", POST_TO, b'{"a": "' + b"x" * MAX_BODY + b'"}', JSON_POST, "too big"),
]


# Named by the reason: test ids must not hold the bodies (gzip's would differ between the
# processes of a parallel run, which then refuses to start).
@pytest.mark.parametrize(
    "method, url, body, extra, why", FULL_PATH_CASES, ids=[case[-1] for case in FULL_PATH_CASES]
)
def test_anything_else_takes_the_full_path(  # noqa: PLR0917 (one argument per table column)
    scanner: Scanner,
    gate: ValueGate,
    method: str,
    url: str,
    body: bytes | None,
    extra: list[tuple[str, str]],
    why: str,
) -> None:
    r = request(method, url, body, BROWSER + extra)
    clean = learnt(scanner, request("GET", "http://www.shop.test/", b"", BROWSER))
    assert not clean_at_a_glance(r, gate, clean, LIMITS), why


def test_headers_are_clean_only_once_learnt(scanner: Scanner, gate: ValueGate) -> None:
    r = request("GET", "http://t.example/p.gif?x=1", b"", BROWSER)
    clean = CleanHeaders()
    assert not clean_at_a_glance(r, gate, clean, LIMITS)
    scan_request(r, scanner, LIMITS, clean=clean)
    assert clean_at_a_glance(r, gate, clean, LIMITS)
    # A Cookie that now holds a phone is a new value: the full path scans it.
    leaking = request("GET", "http://t.example/p.gif", b"", [("Cookie", f"{COOKIE}; m={PHONE}")])
    assert not clean_at_a_glance(leaking, gate, clean, LIMITS)


@pytest.mark.parametrize(
    "limits, why",
    [
        (ParseLimits(max_decoded_bytes=16), "the body passes max_decoded_bytes"),
        (ParseLimits(max_body=16), "the body passes max_body"),
        (ParseLimits(max_fields=5), "the fields pass max_fields"),
    ],
)
def test_requests_the_limits_cut_take_the_full_path(
    scanner: Scanner, gate: ValueGate, limits: ParseLimits, why: str
) -> None:
    body = b'{"event": "view", "item": 538211}'
    # Six fields: path segments 1 and 2, query a and b, JSON event and item.
    r = request("POST", "http://t.example/v/1/2?a=1&b=2", body, JSON_POST)
    assert clean_at_a_glance(r, gate, CleanHeaders(), LIMITS)
    assert not clean_at_a_glance(r, gate, CleanHeaders(), limits), why
    assert scan_request(r, scanner, limits).issues  # the full path reports the cut


# --- the rule, as a property -------------------------------------------------------------------

# Values with and without personal data, plain and encoded as requests carry them.
VALUES = st.sampled_from(
    [
        "", "1", "3", "view", "SKU12345", "zh-CN", "1732812345678", "20241128000000", "538211",
        PHONE, f"+86{PHONE}", "138-0000-1111", ID_NO, ID_NO.lower(), CARD, "6222021234567890128",
        "a@b.cn", "zhang.san@example.com", "MTM4MDAwMDExMTE", "MTEwMTA1MTk0OTEyMzEwMDJY",
        "dGVzdA", "0571-88888888", "02188888888", "{}", "[1]", "a=1", "x%3D1", "%E5%BC%A0",
        "１３８００００１１１１", "8f3a9c2e7b1d4f6a9e0c3b5d7f1a2c4e", "GA1.2.1234567890.1732812345",
    ]
)  # fmt: skip
NAMES = st.sampled_from(
    ["page", "ts", "sku", "q", "mobile", "tel", "idNo", "sfzh", "card", "cardNo", "email",
     "uid", "x", "", PHONE, "a b"]
)  # fmt: skip
SEGMENTS = st.lists(st.one_of(VALUES, st.sampled_from(["item", "api", "u", "static"])), max_size=4)
QUERY = st.lists(st.tuples(NAMES, VALUES, st.booleans()), max_size=5)
HEADERS = st.lists(
    st.sampled_from(
        [("Referer", REFERER), ("Referer", f"https://shop.example.cn/?mobile={PHONE}"),
         ("Cookie", COOKIE), ("Cookie", f"{COOKIE}; m={PHONE}"), ("X-Trace", "abc123"),
         ("X-User", PHONE), ("Accept", "*/*"), ("Content-Type", JSON)]
    ),
    max_size=4,
)  # fmt: skip
SCALARS = st.one_of(
    VALUES,
    st.sampled_from([0, 7, 538211, 1732812345678, int(PHONE), int(CARD), 11010519491231002]),
    st.sampled_from([0.25, 1e21, 13800001111.0, 4.111111111111111e15, True, False, None]),
)
BODIES = st.one_of(
    st.just(b""),
    st.dictionaries(NAMES, SCALARS, max_size=5).map(lambda d: json.dumps(d).encode()),
    st.dictionaries(NAMES, SCALARS, max_size=3).map(lambda d: json.dumps({"v": d}).encode()),
)


Parts = tuple[list[str], list[tuple[str, str, bool]], list[tuple[str, str]], bytes]


def build(parts: Parts) -> http.Request:
    """A request with these path segments, query items (name, value, with "="), headers and
    body (a POST when there is one)."""
    segments, query, headers, body = parts
    items = [f"{n}={v}" if eq else n for n, v, eq in query]
    path = "/" + "/".join(segments) + (f"?{'&'.join(items)}" if items else "")
    r = request("POST" if body else "GET", "http://t.example/", body, headers)
    r.data.path = path.encode()  # as sent: raw UTF-8 where a value is not ASCII
    return r


# The default limits, and field limits small enough for random requests to reach.
ANY_LIMITS = st.one_of(
    st.just(LIMITS),
    st.builds(ParseLimits, max_fields=st.integers(1, 12)),
    st.builds(ParseLimits, max_decoded_bytes=st.integers(1, 64)),
)


@settings(max_examples=500, deadline=None)
@given(st.tuples(SEGMENTS, QUERY, HEADERS, BODIES), ANY_LIMITS)
@example((["item", "12345"], [("ts", "1732812345678", True)], [("Referer", REFERER)], b""), LIMITS)
@example(([], [], [("Content-Type", JSON)], b'{"item": 13800001111}'), LIMITS)
@example((["1", "2"], [("a", "1", True), ("b", "2", True)], [], b""), ParseLimits(max_fields=3))
def test_clean_at_a_glance_only_when_the_full_scan_finds_nothing(
    scanner: Scanner, gate: ValueGate, parts: Parts, limits: ParseLimits
) -> None:
    r = build(parts)
    # The headers as an earlier request of the page taught them (clean ones only).
    clean = learnt(scanner, request("GET", "http://t.example/", b"", parts[2]), limits=limits)
    if clean_at_a_glance(r, gate, clean, limits):
        assert_full_scan_is_clean(scanner, r, limits)
