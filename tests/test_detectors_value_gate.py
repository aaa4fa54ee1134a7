"""ValueGate: a value it lets a parser skip is one the scanner finds nothing in, in any field.

The oracle is a scanner with routing turned off (every recognizer on every decoded text), asked
with field names that give every recognizer its context. Then whole requests: scanning with the
gate (what ``scan_request`` does) finds exactly what scanning every field finds.
"""

from __future__ import annotations

import base64
import html
import json
import urllib.parse

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mitmproxy import http
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from addon.request_fields import ParseLimits, parse_request
from addon.scan import scan_request
from detectors.engine import (
    _NATIVE_NUMBER_MIN_LEN,
    _NATIVE_PREFILTER,
    Scanner,
    _native_token_candidate,
)
from detectors.model import Field
from detectors.structure import _float_text
from detectors.value_gate import ValueGate
from scripts.corpus import generate, json_records_body
from tests.test_recognizers_gates import TEXTS, card_numbers, resident_ids

# Names that give each recognizer its context (and none).
PHONE = "13800001111"
NAMES = [None, "sfzh", "idNo", "cardNo", "credit_card", "mobile", "tel", "email", "passport",
         "txz", "hkid", "twid", "xyk"]  # fmt: skip


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


@pytest.fixture(scope="module")
def reference() -> Scanner:
    ungated = Scanner()
    ungated._gated = False
    return ungated


@pytest.fixture(scope="module")
def gate(scanner: Scanner) -> ValueGate:
    assert scanner.value_gate is not None
    return scanner.value_gate


def _encodings(text: str) -> list[str]:
    """The text as it may sit in a leaf: plain, encoded, or structured."""
    return [
        text,
        base64.b64encode(text.encode()).decode(),
        base64.urlsafe_b64encode(text.encode()).decode().rstrip("="),
        urllib.parse.quote(text),
        html.escape(text).replace("0", "&#48;"),
        json.dumps(text),
        json.dumps({"v": text}),
        f"a=1&tel={urllib.parse.quote(text)}",
        "".join(f"\\u{ord(c):04x}" for c in text),
    ]


def _assert_gate_is_safe(gate: ValueGate, reference: Scanner, value: str) -> None:
    if gate.needs_scan(value):
        return
    for name in NAMES:
        found = reference.scan_fields([Field("json.x", value, "json", ("x",), name)])
        assert found == [], (name, [f.masked for f in found])


@settings(max_examples=400, deadline=None)
@given(TEXTS)
@example("ZhangSan")
@example("E202304112158194876")
@example("１３８１２３４５６７８")
@example("138\u201212345678")
def test_a_skipped_value_holds_nothing_for_any_name(
    gate: ValueGate, reference: Scanner, text: str
) -> None:
    for value in _encodings(text):
        _assert_gate_is_safe(gate, reference, value)


DIGIT_VALUES = st.one_of(
    st.text("0123456789", min_size=9, max_size=20),
    st.sampled_from(["1659256688991", "2021072816302630086", "6222021234567890128",
                     "4111111111111111", "378282246310005", "11010519491231002",
                     "110105491231002", "13812345678", "01012345678", "8613812345678"]),
)  # fmt: skip
LABELS = st.sampled_from([(), ("card",), ("订单",), ("身份证",), ("order", "ts")])


@settings(max_examples=400, deadline=None)
@given(DIGIT_VALUES, st.sampled_from(NAMES), LABELS)
def test_keeper_skips_only_what_the_scanner_finds_nothing_in_for_that_name(
    gate: ValueGate, reference: Scanner, value: str, name: str | None, labels: tuple[str, ...]
) -> None:
    if gate.keeper(labels)(value, name):
        return
    found = reference.scan_fields([Field("json.x", value, "json", ("x",), name, labels)])
    assert found == [], (name, labels, [f.masked for f in found])


@pytest.mark.parametrize(
    "value, name, needed",
    [
        ("1659256688991", "ts", False),  # 13 digits: a card only with card context
        ("1659256688991", "cardNo", True),
        ("2021072816302630086", "orderNo", False),
        ("6222021234567890128", "orderNo", True),  # a UnionPay card stands on its own
        ("13812345678", None, True),
        ("12345", "cardNo", False),  # too short for anything
    ],
)
def test_keeper_table(gate: ValueGate, value: str, name: str | None, needed: bool) -> None:
    assert gate.keeper()(value, name) is needed


@pytest.mark.parametrize(
    "value, needed",
    [
        # Plain values of big bodies: skipped.
        ("张三", False),
        ("paid", False),
        ("Lorem ipsum dolor sit amet.", False),
        ("北京市朝阳区建国路88号", False),
        ("1234.56", False),
        ("42", False),
        ("E202304112158194876", False),  # an order number: not base64 of text
        ("", False),
        # Candidates, encodings and structure: kept.
        ("13812345678", True),
        ("11010519491231002X", True),
        ("1659256688991", True),  # 13 digits: a card length (with context)
        ("a@b.cn", True),
        ("%E5%BC%A0", True),
        ('{"a": 1}', True),
        ("a=1&b=2", True),
        ("MTM4MTIzNDU2Nzg=", True),
        ("１３８１２３４５６７８", True),
        ("E12345678", True),
        ("tel: 138-1234-5678", True),
    ],
)
def test_needs_scan_table(gate: ValueGate, value: str, needed: bool) -> None:
    assert gate.needs_scan(value) is needed


def test_no_gate_for_recognizers_without_gates() -> None:
    assert Scanner(recognizers=[EmailRecognizer()]).value_gate is None
    ungated = Scanner()
    ungated._gated = False
    assert ungated.value_gate is None


ASCII_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Tokens of ASCII letters and digits, with the digit runs the prefilter looks for glued in.
TOKENS = st.lists(
    st.one_of(
        st.text(ASCII_LETTERS, min_size=1, max_size=3),
        st.text("0123456789", min_size=1, max_size=20),
        resident_ids().filter(str.isalnum),
        card_numbers(),
    ),
    min_size=1,
    max_size=4,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(TOKENS)
@example("E202304112158194876")
@example("sfz11010519491231002X")
@example("sfz110105491231002")
@example("E12345678")
@example("AB1234567")
def test_the_token_shortcut_answers_as_the_prefilter(token: str) -> None:
    assert _native_token_candidate(token) is (_NATIVE_PREFILTER.search(token) is not None)


NUMBER_TEXTS = st.one_of(
    # JSON's number grammar.
    st.from_regex(
        r"-?(?:0|[1-9][0-9]{0,20})(?:\.[0-9]{1,12})?(?:[eE][+-]?[0-9]{1,3})?", fullmatch=True
    ),
    st.floats().map(_float_text),
    st.integers().map(str),
)


@settings(max_examples=1000, deadline=None)
@given(NUMBER_TEXTS)
@example("-1381234567")
@example("1.3812345678e+16")
def test_a_short_number_never_matches_the_prefilter(text: str) -> None:
    if len(text) < _NATIVE_NUMBER_MIN_LEN:
        assert _NATIVE_PREFILTER.search(text) is None


@settings(max_examples=300, deadline=None)
@given(st.floats())
@example(13812345678.0)
@example(1.3812345678e16)
def test_a_float_the_walker_skips_holds_nothing_for_any_name(
    gate: ValueGate, reference: Scanner, number: float
) -> None:
    text = _float_text(number)
    if len(text) >= gate.min_number_text:
        return
    for name in NAMES:
        assert reference.scan_fields([Field("json.x", text, "json", ("x",), name)]) == []


JSON_NUMBERS = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False),
    resident_ids().filter(str.isdigit).map(int),
    card_numbers().map(int),
    st.sampled_from([13812345678, -13812345678, 13812345678.0, 1659256688991]),
)
JSON_DOCUMENTS = st.recursive(
    st.one_of(JSON_NUMBERS, TOKENS, TEXTS, st.booleans(), st.none()),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from([n or "v" for n in NAMES]), children, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSON_DOCUMENTS)
def test_json_bodies_scan_the_same_with_the_gate(scanner: Scanner, document: object) -> None:
    body = json.dumps(document, ensure_ascii=False).encode()
    request = http.Request.make(
        "POST", "https://a.example.cn/api", body, http.Headers(content_type="application/json")
    )
    every_field = scanner.scan_fields(parse_request(request).fields)
    assert scan_request(request, scanner).findings == every_field


CORPUS = generate(150, seed=7)


@pytest.mark.parametrize("sample", CORPUS, ids=lambda s: f"{s.index}-{s.body_format}")
def test_requests_scan_the_same_with_the_gate(scanner: Scanner, sample: object) -> None:
    request = sample.request  # type: ignore[attr-defined]
    every_field = scanner.scan_fields(parse_request(request).fields)
    assert scan_request(request, scanner).findings == every_field


def test_gated_parse_skips_plain_leaves_of_a_big_body(scanner: Scanner) -> None:
    body, planted = json_records_body(100_000)
    request = http.Request.make(
        "POST", "https://a.example.cn/import", body, http.Headers(content_type="application/json")
    )
    full = parse_request(request)
    gated = parse_request(request, gate=scanner.value_gate)
    assert len(gated.fields) < len(full.fields) / 2
    assert scanner.scan_fields(gated.fields) == scanner.scan_fields(full.fields)
    assert len(scanner.scan_fields(gated.fields)) == planted


# Query strings and form bodies: values the gate passes over get no field (and count towards
# max_fields as if they had one), so the findings and the issues, a cut included, are the same.
PAIR_NAMES = st.sampled_from([n or "v" for n in NAMES] + ["ts", "page", "q", "13812345678"])
PAIR_VALUES = st.one_of(
    TOKENS,
    TEXTS,
    st.sampled_from(["", "1732812345678", "SKU43432", "张三", "x y", "a&b=c", "&#24352;"]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(PAIR_NAMES, PAIR_VALUES), max_size=8),
    st.sampled_from(["query", "raw query", "form", "gbk form"]),
    st.sampled_from([1, 3, 6, 250_000]),
)
def test_queries_and_forms_scan_the_same_with_the_gate(
    scanner: Scanner, pairs: list[tuple[str, str]], shape: str, max_fields: int
) -> None:
    limits = ParseLimits(max_fields=max_fields)
    if shape == "raw query":
        # As some scripts send them: no percent-encoding at all (the ASCII fast path when the
        # values allow it).
        query = "&".join(f"{k}={v}" for k, v in pairs)
        request = http.Request.make("GET", "https://a.example.cn/p")
        request.data.path = b"/p?" + query.encode()
    elif shape == "query":
        query = urllib.parse.urlencode(pairs)
        request = http.Request.make("GET", "https://a.example.cn/p?" + query)
    else:
        charset = "gbk" if shape == "gbk form" else "utf-8"
        body = urllib.parse.urlencode(pairs, encoding=charset, errors="replace").encode()
        request = http.Request.make(
            "POST", "https://a.example.cn/p", body,
            http.Headers(content_type="application/x-www-form-urlencoded"),
        )  # fmt: skip
    every_field = parse_request(request, limits)
    gated = scan_request(request, scanner, limits)
    assert gated.findings == scanner.scan_fields(every_field.fields)
    assert gated.issues == every_field.issues


def test_gated_query_skips_what_the_scanner_passes_over(scanner: Scanner) -> None:
    request = http.Request.make(
        "GET", f"https://a.example.cn/p?page=3&ts=1732812345678&sku=SKU43432&mobile={PHONE}"
    )
    assert [f.location for f in parse_request(request).fields] == [
        "query.page", "query.ts", "query.sku", "query.mobile",
    ]  # fmt: skip
    gated = parse_request(request, gate=scanner.value_gate)
    assert [f.location for f in gated.fields] == ["query.mobile"]
