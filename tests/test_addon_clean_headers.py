"""CleanHeaders: headers found clean are skipped later, and the findings never change.

The rule: scanning a stream of requests with one shared table gives, request by request, the
same findings and issues as scanning each request on its own. Checked on captured browsing,
on hand-written cases (repeated header and cookie names, where a skipped header must still count
its occurrences) and as a property over random header lists. Personal data here is generated
test data: the standard's example ID, 138-0000-xxxx phones.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy import http

from addon.capture import Capture, CapturedRequest
from addon.clean_headers import MAX_VALUE_BYTES, CleanHeaders
from addon.request_fields import ParseLimits, parse_request
from addon.scan import scan_request
from detectors.engine import Scanner
from detectors.model import ScanResult

ID_NO = "11010519491231002X"
PHONE = "13800001111"
CAPTURES = Path(__file__).parent / "fixtures" / "captures"
TRACKER_COOKIE = (
    "_ga=GA1.2.1234567890.1732812345; _gid=GA1.2.987654321.1732812345; "
    "sessionid=8f3a9c2e7b1d4f6a9e0c3b5d7f1a2c4e; _fbp=fb.1.1732812345678.1234567890; "
    "Hm_lvt_abc123=1732812345,1732812400; tz=Asia%2FShanghai; lang=zh-CN"
)


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


def get(headers: list[tuple[str, str]], url: str = "https://shop.example.cn/item") -> http.Request:
    request = http.Request.make("GET", url)
    request.headers = http.Headers([(k.encode(), v.encode()) for k, v in headers])
    return request


def same(a: ScanResult, b: ScanResult) -> None:
    assert a.findings == b.findings
    assert a.issues == b.issues


# --- the table ----------------------------------------------------------------------------------


def test_entries_are_per_name_and_value() -> None:
    table = CleanHeaders()
    table.add("cookie", b"a=1", 1)
    assert table.fields("cookie", b"a=1") == 1
    assert table.fields("cookie", b"a=2") is None
    assert table.fields("x-a", b"a=1") is None


def test_table_is_bounded() -> None:
    table = CleanHeaders(max_entries=3)
    for i in range(3):
        table.add("cookie", f"sid={i}".encode(), 1)
    assert len(table) == 3
    table.add("cookie", b"sid=3", 1)
    assert len(table) == 1
    assert table.fields("cookie", b"sid=3") == 1
    assert table.fields("cookie", b"sid=0") is None
    table.add("cookie", b"x" * (MAX_VALUE_BYTES + 1), 1)  # too long to keep
    assert len(table) == 1


def test_table_keeps_a_bounded_number_of_bytes() -> None:
    table = CleanHeaders(max_bytes=2 * MAX_VALUE_BYTES)
    for i in range(3):
        table.add("x-big", bytes([i]) * MAX_VALUE_BYTES, 1)
    assert len(table) == 1  # the third would pass the bound: the table started over
    assert table.fields("x-big", b"\x02" * MAX_VALUE_BYTES) == 1
    table.add("x-big", b"\x02" * MAX_VALUE_BYTES, 1)  # known already: not counted twice
    table.add("x-big", b"\x03" * MAX_VALUE_BYTES, 1)
    assert len(table) == 2


# --- learning and skipping -----------------------------------------------------------------------


def test_a_clean_cookie_is_learnt_then_skipped(scanner: Scanner) -> None:
    table = CleanHeaders()
    request = get([("Cookie", TRACKER_COOKIE), ("Referer", "https://shop.example.cn/")])
    first = parse_request(request, gate=scanner.value_gate, clean=table)
    assert [span[2:] for span in first.header_spans] == [(0, 7), (7, 8)]
    same(scan_request(request, scanner, clean=table), scan_request(request, scanner))
    assert len(table) == 2
    second = parse_request(request, gate=scanner.value_gate, clean=table)
    assert second.fields == [] and second.header_spans == []


@pytest.mark.parametrize(
    "value",
    [
        f"sid=abc; phone={PHONE}",
        f"u={quote(json.dumps({'idNo': ID_NO}))}",
        f"https://shop.example.cn/?mobile={PHONE}",
    ],
)
def test_a_header_with_personal_data_is_never_learnt(scanner: Scanner, value: str) -> None:
    table = CleanHeaders()
    request = get([("Cookie", value), ("X-Track", value), ("Referer", value)])
    for _ in range(3):
        result = scan_request(request, scanner, clean=table)
        assert {f.source for f in result.findings} == {"cookie", "header"}
        same(result, scan_request(request, scanner))
    assert len(table) == 0


def test_a_header_that_could_not_be_read_fully_is_not_learnt(scanner: Scanner) -> None:
    # Nested structure beyond max_nesting is reported as an issue: never taken as clean.
    value = "a=" + quote("b=" + quote("c=" + quote("d=1")))
    request = get([("X-Deep", value)])
    limits = ParseLimits(max_nesting=1)
    table = CleanHeaders()
    parsed = parse_request(request, limits, gate=scanner.value_gate, clean=table)
    assert parsed.issues and parsed.header_spans == []


@pytest.mark.parametrize("name", ["X-Trace", "Cookie"])
def test_a_skipped_header_still_counts_its_occurrence(scanner: Scanner, name: str) -> None:
    clean, leaking = ("a=1", f"a={PHONE}") if name == "Cookie" else ("1", PHONE)
    table = CleanHeaders()
    scan_request(get([(name, clean)]), scanner, clean=table)  # learnt
    request = get([(name, clean), (name, leaking)])
    result = scan_request(request, scanner, clean=table)
    assert parse_request(request, gate=scanner.value_gate, clean=table).fields[0].path[1] == 1
    same(result, scan_request(request, scanner))
    (finding,) = result.findings
    assert finding.location in ("cookie.a[1]", "header.x-trace[1]")
    assert finding.path[1] == 1  # what redaction uses to find the value again


@pytest.mark.parametrize("max_fields", [1, 2, 3, 5, 8])
def test_the_field_limit_cuts_at_the_same_place(scanner: Scanner, max_fields: int) -> None:
    limits = ParseLimits(max_fields=max_fields)
    table = CleanHeaders()
    warm = get([("Cookie", TRACKER_COOKIE), ("X-A", "1")])
    scan_request(warm, scanner, clean=table)
    request = get(
        [("X-A", "1"), ("Cookie", TRACKER_COOKIE), ("X-B", PHONE), ("Cookie", f"p={PHONE}")],
        url="https://shop.example.cn/u?a=1&b=2",
    )
    same(
        scan_request(request, scanner, limits, clean=table),
        scan_request(request, scanner, limits),
    )


# --- the rule, on the corpus and as a property ---------------------------------------------------


@pytest.mark.parametrize("name", ["shop.har", "shop.mitm", "clean.har", "clean.mitm"])
def test_captured_browsing_scans_the_same_with_a_shared_table(scanner: Scanner, name: str) -> None:
    requests = [
        item.request for item in Capture(CAPTURES / name) if isinstance(item, CapturedRequest)
    ]
    table = CleanHeaders()
    for request in requests + requests[::-1]:  # every request seen twice
        same(scan_request(request, scanner, clean=table), scan_request(request, scanner))
    assert len(table) > 0  # the captured Cookie and Referer headers were learnt


HEADER_NAMES = st.sampled_from(["Cookie", "Referer", "X-Trace", "X-User", "Authorization"])
HEADER_VALUES = st.sampled_from(
    [
        TRACKER_COOKIE,
        "a=1",
        f"a={PHONE}",
        f"sid=x; a={PHONE}",
        "https://shop.example.cn/",
        f"https://shop.example.cn/?mobile={PHONE}",
        ID_NO,
        "1732812345678",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        quote(json.dumps({"idNo": ID_NO})),
        "token",
    ]
)
HEADER_LISTS = st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(HEADER_LISTS, min_size=1, max_size=6), st.sampled_from([3, 6, 250_000]))
def test_a_stream_of_requests_scans_the_same_with_a_shared_table(
    scanner: Scanner, stream: list[list[tuple[str, str]]], max_fields: int
) -> None:
    limits = ParseLimits(max_fields=max_fields)
    table = CleanHeaders()
    for headers in stream + stream:
        request = get(headers)
        same(
            scan_request(request, scanner, limits, clean=table),
            scan_request(request, scanner, limits),
        )
