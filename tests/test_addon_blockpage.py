"""Block responses: HTML for navigations, JSON otherwise, equal to what Response.make builds."""

from __future__ import annotations

import json

import pytest
from mitmproxy import http

from addon.blockpage import (
    ACTION_HEADER,
    BLOCK_STATUS,
    RULE_HEADER,
    BlockedItem,
    block_response,
    is_navigation,
)

ITEMS = [
    BlockedItem("CN_RESIDENT_ID", "form.idNo", "110***********002X"),
    BlockedItem("CN_PHONE", "json.user.<b>tel</b>", "139****5678"),
]


def request(**headers: str) -> http.Request:
    fields: dict[str | bytes, str | bytes] = dict(headers.items())
    return http.Request.make("POST", "https://t.example/c", b"x", fields)


@pytest.mark.parametrize(
    "headers, navigation",
    [
        ({"Sec-Fetch-Mode": "navigate"}, True),
        ({"Sec-Fetch-Mode": "cors", "Accept": "text/html"}, False),
        ({"Accept": "text/html,application/xhtml+xml"}, True),
        ({"Accept": "*/*"}, False),
        ({}, False),
    ],
)
def test_is_navigation(headers: dict[str, str], navigation: bool) -> None:
    assert is_navigation(request(**headers)) is navigation


@pytest.mark.parametrize("navigation", [True, False])
def test_response_equals_what_response_make_builds(navigation: bool) -> None:
    req = request(**({"Sec-Fetch-Mode": "navigate"} if navigation else {}))
    got = block_response(req, destination="t.example", rule="no ids: trackers", items=ITEMS)
    assert got.content is not None
    expected = http.Response.make(BLOCK_STATUS, got.content, dict(got.headers))
    state, want = got.get_state(), expected.get_state()
    for key in ("timestamp_start", "timestamp_end"):
        assert abs(state.pop(key) - want.pop(key)) < 60
    assert state == want
    assert got.headers[RULE_HEADER] == "no ids: trackers"
    assert got.headers[ACTION_HEADER] == "block"
    assert got.headers["content-length"] == str(len(got.content or b""))


def test_responses_do_not_share_state() -> None:
    a = block_response(request(), destination="a.example", rule="r1", items=ITEMS)
    b = block_response(request(), destination="b.example", rule="r2", items=[])
    a.headers["X-Extra"] = "1"
    a.content = b"changed"
    assert "X-Extra" not in b.headers
    assert json.loads(b.content or b"")["destination"] == "b.example"
    assert b.headers[RULE_HEADER] == "r2"


def test_json_body_names_findings_masked_only() -> None:
    got = block_response(
        request(), destination="t.example", rule="r", items=ITEMS, message="Not to trackers"
    )
    doc = json.loads(got.content or b"")
    assert got.headers["content-type"] == "application/json; charset=utf-8"
    assert doc["findings"][0] == {
        "entity_type": "CN_RESIDENT_ID",
        "location": "form.idNo",
        "masked": "110***********002X",
    }
    assert (doc["blocked_by"], doc["destination"], doc["message"]) == (
        "formshield",
        "t.example",
        "Not to trackers",
    )


def test_html_page_escapes_what_it_shows() -> None:
    req = request(**{"Sec-Fetch-Mode": "navigate"})
    page = (block_response(req, destination="t.example", rule="r", items=ITEMS).text) or ""
    assert "json.user.&lt;b&gt;tel&lt;/b&gt;" in page
    assert "<b>tel</b>" not in page
    assert "139****5678" in page


def test_rule_header_is_made_header_safe() -> None:
    got = block_response(request(), destination="t.example", rule="a\r\nX-Evil: 1 名", items=[])
    assert got.headers[RULE_HEADER] == "a X-Evil: 1 ?"
    assert "X-Evil" not in got.headers
