"""Tests of addon.scan_output: safe URLs, JSON Lines records, the table."""

from __future__ import annotations

import io
import json
from collections import Counter
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mitmproxy import http

from addon.scan_output import (
    JsonlOutput,
    RequestContext,
    Summary,
    TableOutput,
    finding_record,
    issue_record,
    printable,
    safe_url,
)
from detectors.masking import mask
from detectors.model import Finding, ScanIssue


@pytest.fixture(autouse=True)
def _no_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """Table output sizes itself to COLUMNS when set; pytest-xdist workers set it to 80."""
    monkeypatch.delenv("COLUMNS", raising=False)


ID = "11010519491231002X"
PHONE = "13912345678"


def _finding(entity: str, value: str, location: str = "query.u", score: float = 0.8567) -> Finding:
    return Finding(
        entity_type=entity,
        score=score,
        location=location,
        masked=mask(entity, value),
        value=value,
        end=len(value),
        encodings=("query",),
        recognizer="TestRecognizer",
    )


@pytest.mark.parametrize(
    "url, findings, expected",
    [
        ("https://a.cn/", [], "https://a.cn/"),
        ("https://a.cn/p?u=13912345678&t=1", [], "https://a.cn/p?u=*&t=*"),
        ("https://a.cn/p?u=13912345678", [_finding("CN_PHONE", PHONE)], "https://a.cn/p?u=*"),
        # names that are not plain identifiers are masked like values
        ("https://a.cn/p?13912345678", [], "https://a.cn/p?*"),
        ("https://a.cn/p?%E6%89%8B%E6%9C%BA=1&ok=", [], "https://a.cn/p?*&ok=*"),
        ("https://a.cn/p?a=1;b=2&&", [], "https://a.cn/p?a=*&b=*"),
        ("https://a.cn/p?", [], "https://a.cn/p"),
        # a reported value in the path is masked, raw or percent-encoded
        (
            f"https://a.cn/user/{ID}/profile",
            [_finding("CN_RESIDENT_ID", ID, "path")],
            f"https://a.cn/user/{mask('CN_RESIDENT_ID', ID)}/profile",
        ),
        (
            "https://a.cn/u/%2B86%20139",
            [_finding("CN_PHONE", "+86 139", "path")],
            f"https://a.cn/u/{mask('CN_PHONE', '+86 139')}",
        ),
        ("https://a.cn:8443/x?y=z", [], "https://a.cn:8443/x?y=*"),
    ],
)
def test_safe_url(url: str, findings: list[Finding], expected: str) -> None:
    request = http.Request.make("GET", url)
    assert safe_url(request, findings) == expected


def test_safe_url_uses_the_host_header() -> None:
    # As recorded by a reverse proxy: connection to 127.0.0.1, Host header names the site.
    request = http.Request.make("GET", "http://127.0.0.1:8080/hm.gif?u=1")
    request.headers["Host"] = "hm.t.com"
    assert safe_url(request) == "http://hm.t.com/hm.gif?u=*"


CTX = RequestContext(
    file="a.har",
    entry=3,
    method="POST",
    url="https://hm.t.com/c?u=*",
    site="shop.cn",
    destination="t.com",
    third_party=True,
)


def test_finding_record_holds_no_raw_value() -> None:
    record = finding_record(CTX, _finding("CN_PHONE", PHONE))
    assert record == {
        "type": "finding",
        "file": "a.har",
        "entry": 3,
        "ws_message": None,
        "method": "POST",
        "url": "https://hm.t.com/c?u=*",
        "site": "shop.cn",
        "destination": "t.com",
        "third_party": True,
        "location": "query.u",
        "entity_type": "CN_PHONE",
        "score": 0.857,
        "masked": "139****5678",
        "encodings": ["query"],
        "recognizer": "TestRecognizer",
    }
    assert PHONE not in json.dumps(record)


def test_issue_record() -> None:
    record = issue_record(CTX, ScanIssue("truncated_body", "body", "body cut at 1 MiB"))
    assert record["type"] == "issue"
    assert (record["kind"], record["location"], record["detail"]) == (
        "truncated_body",
        "body",
        "body cut at 1 MiB",
    )
    assert record["entry"] == 3


def test_jsonl_output() -> None:
    out = io.StringIO()
    writer = JsonlOutput(out)
    writer.add(CTX, [_finding("CN_PHONE", PHONE), _finding("CN_RESIDENT_ID", ID)], [])
    writer.add(CTX, [], [ScanIssue("invalid_json", "body", "not JSON")])
    writer.close(Summary(files=1, requests=4, findings=2))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["type"] for line in lines] == ["finding", "finding", "issue", "summary"]
    assert lines[-1]["findings"] == 2
    assert PHONE not in out.getvalue() and ID not in out.getvalue()


@pytest.mark.parametrize(
    "summary, expected",
    [
        (Summary(files=1, requests=1), "0 findings (0 to third parties) in 0 of 1 request, 1 file"),
        (
            Summary(
                files=2,
                requests=11,
                ws_messages=3,
                findings=9,
                third_party_findings=2,
                requests_with_findings=6,
                issues=1,
                skipped=Counter({"tcp": 1, "dns": 2}),
                unreadable=["x: bad"],
            ),
            "9 findings (2 to third parties) in 6 of 11 requests and 3 WebSocket messages, "
            "2 files; 1 scan issue; skipped non-HTTP flows: 2 dns, 1 tcp; 1 unreadable",
        ),
    ],
)
def test_summary_line(summary: Summary, expected: str) -> None:
    assert summary.line() == expected


def test_table_output_renders_rows_notes_and_summary() -> None:
    out = io.StringIO()
    table = TableOutput(out)
    table.add(CTX, [_finding("CN_PHONE", PHONE)], [ScanIssue("truncated_body", "body", "cut")])
    ws_ctx = RequestContext(**{**CTX.as_dict(), "ws_message": 2, "third_party": False})
    table.add(ws_ctx, [_finding("CN_RESIDENT_ID", ID, "ws.text")], [])
    table.close(Summary(files=1, requests=4, findings=2, requests_with_findings=1))
    text = out.getvalue()
    for expected in ("Entry", "139****5678", "CN_PHONE", "query.u", "0.86", "3P", "3.ws2", "t.com"):
        assert expected in text
    assert "note: entry 3 POST https://hm.t.com/c?u=*: body: truncated_body: cut" in text
    assert "2 findings" in text
    assert PHONE not in text and ID not in text
    assert "\x1b[" not in text  # not a terminal: no colour codes


def test_table_output_neutralises_markup_and_control_characters() -> None:
    out = io.StringIO()
    hostile = RequestContext(**{**CTX.as_dict(), "destination": "evil\x1b[2Jhost"})
    finding = _finding("CN_PHONE", PHONE, location="json.[bold red]x[/]\u202e")
    table = TableOutput(out)
    table.add(hostile, [finding], [])
    table.close(Summary())
    text = out.getvalue()
    assert "\x1b" not in text
    assert "[bold red]x[/]" in text  # shown literally, not interpreted
    assert "\\x1b[2J" in text and "\\x202e" in text


@pytest.mark.parametrize(
    "text, expected",
    [("plain", "plain"), ("a\tb", "a\\x09b"), ("中文 ok", "中文 ok"), ("x\u200by", "x\\x200by")],
)
def test_printable(text: str, expected: str) -> None:
    assert printable(text) == expected


def test_table_output_caps_rows_and_notes() -> None:
    out = io.StringIO()
    table = TableOutput(out, max_rows=3, max_notes=1)
    for entry in range(5):
        ctx = RequestContext(**{**CTX.as_dict(), "entry": entry})
        table.add(ctx, [_finding("CN_PHONE", PHONE)], [ScanIssue("too_large", "body", "big")])
    table.close(Summary(findings=5))
    text = out.getvalue()
    assert text.count("139****5678") == 3
    assert "... 2 more finding(s) not shown (--format jsonl lists all)" in text
    assert text.count("note: ") == 1
    assert "... 4 more scan issue(s) not shown" in text


_QUERY_VALUE = st.text(alphabet="0123456789abcdefXYZ中文%+", min_size=6, max_size=20)


@given(
    path=st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30),
    values=st.lists(_QUERY_VALUE, min_size=1, max_size=4),
)
def test_safe_url_never_shows_query_values(path: str, values: list[str]) -> None:
    request = http.Request.make("GET", "https://a.cn/")
    request.path = "/" + quote(path) + "?" + "&".join(f"k{i}={v}" for i, v in enumerate(values))
    url = safe_url(request)
    query = url.partition("?")[2]
    for value in values:
        assert value not in query
    assert url.startswith("https://a.cn/")
