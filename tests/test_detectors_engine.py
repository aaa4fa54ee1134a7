"""The scanner: fields in, findings out (decoding, structure in values, context, overlaps)."""

from __future__ import annotations

import base64
import html
import json
import urllib.parse
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from detectors.engine import Scanner
from detectors.model import Field, Finding
from detectors.registry import formshield_recognizers
from detectors.rules.base import to_halfwidth
from tests.test_recognizers_gates import TEXTS

ID = "11010519491231002X"  # GB 11643-1999 annex example
ID2 = "360426199101010071"
PHONE = "13912345678"
CARD = "6222021234567890128"  # Luhn-valid, ICBC BIN 622202


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def found(scanner: Scanner, fields: list[Field]) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [
        (f.location, f.entity_type, f.value, f.value_encodings) for f in scanner.scan_fields(fields)
    ]


@pytest.mark.parametrize(
    "value, name, expected",
    [
        # plain values
        (ID, "idNo", [("CN_RESIDENT_ID", ID, ())]),
        (ID.lower(), None, [("CN_RESIDENT_ID", ID.lower(), ())]),
        (PHONE, "tel", [("CN_PHONE", PHONE, ())]),
        (CARD, "cardNo", [("CN_BANK_CARD", CARD, ())]),
        ("user@example.com", "email", [("EMAIL_ADDRESS", "user@example.com", ())]),
        (f"身份证号{ID}手机{PHONE}", None, [("CN_RESIDENT_ID", ID, ()), ("CN_PHONE", PHONE, ())]),
        # encoded values
        (urllib.parse.quote(f"sfz {ID}"), "v", [("CN_RESIDENT_ID", ID, ("percent",))]),
        (urllib.parse.quote(urllib.parse.quote(f"id {ID}")), "v",
         [("CN_RESIDENT_ID", ID, ("percent", "percent"))]),
        (b64(f"id={ID2}"), "d", [("CN_RESIDENT_ID", ID2, ("base64", "urlencoded"))]),
        (base64.urlsafe_b64encode(f"tel:{PHONE}~~".encode()).decode().rstrip("="), "d",
         [("CN_PHONE", PHONE, ("base64",))]),
        ("".join(f"&#{ord(c)};" for c in ID), "x", [("CN_RESIDENT_ID", ID, ("html",))]),
        ("".join(f"\\u{ord(c):04x}" for c in PHONE), "x",
         [("CN_PHONE", PHONE, ("unicode_escape",))]),
        # hard negatives
        ("1732812345678", "ts", []),
        ("a13912345678f", "token", []),
        ("order 20241128000012345", "orderId", []),
        ("9787111213823", "isbn", []),
        ("4008123123", "hotline", []),
    ],
)  # fmt: skip
def test_scan_single_values(
    scanner: Scanner, value: str, name: str | None, expected: list[tuple[str, str, tuple[str, ...]]]
) -> None:
    got = [(e, v, enc) for _, e, v, enc in found(scanner, [Field("form.x", value, name=name)])]
    # The decoder names are the decoders module's; compare on entity and value, then chain kinds.
    assert [(e, v) for e, v, _ in got] == [(e, v) for e, v, _ in expected]
    for (_, _, enc), (_, _, want) in zip(got, expected, strict=True):
        assert len(enc) == len(want)


def test_structured_value_is_expanded_with_child_names_as_context(scanner: Scanner) -> None:
    payload = json.dumps({"user": {"passportNo": "E12345678", "mobile": PHONE}})
    findings = scanner.scan_fields([Field("form.payload", payload, source="form", name="payload")])
    assert [(f.location, f.entity_type) for f in findings] == [
        ("form.payload.user.passportNo", "CN_PASSPORT"),
        ("form.payload.user.mobile", "CN_PHONE"),
    ]


def test_context_from_field_name_lifts_context_dependent_entities(scanner: Scanner) -> None:
    assert scanner.scan_text("E12345678", name="remark") == []
    [finding] = scanner.scan_text("E12345678", name="passport_no")
    assert finding.entity_type == "CN_PASSPORT"
    assert finding.score >= 0.5


def test_hotel_is_not_tel(scanner: Scanner) -> None:
    # A placeholder-looking number scores 0.3 and needs context; "hotel" must not give it.
    assert scanner.scan_text("13800138000", name="hotelName") == []
    assert [f.entity_type for f in scanner.scan_text("13800138000", name="tel")] == ["CN_PHONE"]


def test_same_value_in_decoded_variant_reported_once(scanner: Scanner) -> None:
    # "%2B86" decodes to "+86": the phone is visible both raw and decoded.
    findings = scanner.scan_text(f"{PHONE}%20x", name="q")
    assert [f.entity_type for f in findings] == ["CN_PHONE"]


def test_entities_filter(scanner: Scanner) -> None:
    only_phones = Scanner(entities={"CN_PHONE"})
    text = f"{ID} {PHONE}"
    assert [f.entity_type for f in only_phones.scan_text(text)] == ["CN_PHONE"]
    assert only_phones.entities == frozenset({"CN_PHONE"})


def test_findings_never_show_raw_values_in_repr(scanner: Scanner) -> None:
    [finding] = scanner.scan_text(ID)
    assert ID not in repr(finding)
    assert finding.masked != ID and "*" in finding.masked


def test_finding_carries_encodings_and_path(scanner: Scanner) -> None:
    field = Field(
        "json.a.b", b64(ID), source="json", path=("a", "b"), name="b", encodings=("gzip",)
    )
    [finding] = scanner.scan_fields([field])
    assert finding.encodings == ("gzip", "base64")
    assert finding.value_encodings == ("base64",)
    assert finding.path == ("a", "b") and finding.source == "json"


# --- properties ---------------------------------------------------------------------------

PROVINCES = ["11", "12", "31", "32", "33", "44", "50", "51", "61", "65"]


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(PROVINCES)) + draw(st.sampled_from(["0101", "0105", "0302"]))
    date = draw(
        st.dates(
            min_value=__import__("datetime").date(1930, 1, 1),
            max_value=__import__("datetime").date(2020, 12, 31),
        )
    )
    seq = f"{draw(st.integers(0, 999)):03d}"
    body = prefix + date.strftime("%Y%m%d") + seq
    # stdnum computes the check character of a full-length number (its last char is ignored).
    return body + ric.calc_check_digit(body + "0")


ENCODERS: dict[str, Callable[[str], str]] = {
    "plain": lambda s: s,
    "percent": lambda s: urllib.parse.quote(s, safe=""),
    "percent2": lambda s: urllib.parse.quote(urllib.parse.quote(s, safe=""), safe=""),
    "base64": b64,
    "base64url": lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
    "html": lambda s: "".join(f"&#{ord(c)};" for c in s),
    "unicode": lambda s: "".join(f"\\u{ord(c):04x}" for c in s),
    "b64-in-percent": lambda s: urllib.parse.quote(b64(s), safe=""),
    "escape-html": html.escape,
}


@settings(max_examples=150, deadline=None)
@given(resident_ids(), st.sampled_from(sorted(ENCODERS)), st.sampled_from(["idNo", "data", "v"]))
def test_valid_id_is_found_through_any_encoding(rid: str, how: str, name: str) -> None:
    scanner = _SHARED
    value = ENCODERS[how](f"身份证 {rid} ok")
    findings = scanner.scan_fields([Field("form.x", value, name=name)])
    assert [f.value for f in findings if f.entity_type == "CN_RESIDENT_ID"] == [rid]


@settings(max_examples=150, deadline=None)
@given(resident_ids(), st.sampled_from(sorted(ENCODERS)))
def test_wrong_check_character_is_not_an_id(rid: str, how: str) -> None:
    wrong = next(c for c in "0123456789X" if c != rid[-1])
    value = ENCODERS[how](f"num {rid[:-1]}{wrong} ok")
    findings = _SHARED.scan_fields([Field("form.x", value, name="v")])
    assert not [f for f in findings if f.entity_type == "CN_RESIDENT_ID"]


_SHARED = Scanner()


# --- routing ----------------------------------------------------------------------------------


def _ungated() -> Scanner:
    scanner = Scanner()
    scanner._gated = False  # every recognizer on every text: the reference for routing
    return scanner


_UNGATED = _ungated()
_NAMES = st.sampled_from(
    [None, "remark", "idNo", "tel", "passport", "hkid", "twId", "cardNo", "hxzh", "orderNo"]
)


def _rows(findings: list[Finding]) -> list[tuple[str, str, int, int, float, str]]:
    return [
        (f.location, f.entity_type, f.start, f.end, round(f.score, 6), f.value) for f in findings
    ]


_WRAPS = st.sampled_from(["plain", "percent", "base64", "base64url", "json", "form"])


def _wrap(text: str, how: str) -> str:
    if how == "json":
        return json.dumps({"v": text, "tel": text})
    if how == "form":
        return urllib.parse.urlencode({"a": text, "idNo": text})
    return ENCODERS["plain" if how == "plain" else how](text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(TEXTS, _NAMES, _WRAPS), min_size=1, max_size=3))
def test_routing_never_changes_findings(values: list[tuple[str, str | None, str]]) -> None:
    # The routed scanner (gates, prefilter, inline fast paths) against every recognizer on
    # every decoded and expanded text.
    fields = [
        Field(f"form.f{i}", _wrap(text, how), name=name)
        for i, (text, name, how) in enumerate(values)
    ]
    assert _rows(_SHARED.scan_fields(fields)) == _rows(_UNGATED.scan_fields(fields))


@pytest.mark.parametrize(
    "value, name",
    [
        ("1732812345678", "ts"),  # 13-digit ms timestamp: card-shaped only with context
        ("DD2020110820493559387", "orderNo"),  # digits glued to letters, too long for an ID
        ("202305240226197535", "orderNo"),  # 18 digits without a date at the ID's place
        ("20230524022619753513", "orderNo"),  # 20 digits: no identifier is that long
        ("E12345678", "orderNo"),  # passport shape, no passport context
        ("河北省张家港县璧山东莞街g座 958589", "address"),  # a postcode
        ("4766.02", "amount"),
    ],
)
def test_hard_negatives_reach_no_recognizer(value: str, name: str) -> None:
    field = Field("json.x", value, name=name)
    assert _SHARED._routes_for(field, to_halfwidth(value)) == []
    assert _SHARED.scan_fields([field]) == []


@pytest.mark.parametrize(
    "value, name",
    [
        ("E202304112158194876", "orderNo"),  # "E" + 18 digits: an ID after a letter is possible
        ("6217001234567890", "orderNo"),  # Luhn-invalid card shape without context
        ("2024-11-28 12:34:56", "createdAt"),
    ],
)
def test_look_alikes_that_are_routed_are_not_reported(value: str, name: str) -> None:
    assert _SHARED.scan_fields([Field("json.x", value, name=name)]) == []


def test_custom_presidio_recognizer_runs_without_gates() -> None:
    from presidio_analyzer import Pattern, PatternRecognizer

    employee = PatternRecognizer("EMPLOYEE_ID", patterns=[Pattern("emp", r"EMP-[0-9]{4}", 0.9)])
    scanner = Scanner(recognizers=[employee, *formshield_recognizers()])
    findings = scanner.scan_text(f"EMP-1234 {PHONE}", name="x")
    assert [(f.entity_type, f.value) for f in findings] == [
        ("EMPLOYEE_ID", "EMP-1234"),
        ("CN_PHONE", PHONE),
    ]


# --- legacy IDs that also look like Amex cards ---------------------------------------------------

LEGACY_AMEX = "370102630410237"  # Shandong, born 1963-04-10; also a Luhn-valid Amex number


@pytest.mark.parametrize(
    "value, name, expected",
    [
        # ID context (field name or label before it): the legacy ID wins its span
        (LEGACY_AMEX, "idCard", "CN_RESIDENT_ID"),
        (LEGACY_AMEX, "sfzh", "CN_RESIDENT_ID"),
        (f"证件号码：{LEGACY_AMEX}", "remark", "CN_RESIDENT_ID"),
        (f"身份证 {LEGACY_AMEX} ok", None, "CN_RESIDENT_ID"),
        # no ID context: a valid Amex number is a card (card context or none at all)
        (LEGACY_AMEX, "cardNo", "CREDIT_CARD"),
        (LEGACY_AMEX, "remark", "CREDIT_CARD"),
        (f"信用卡号：{LEGACY_AMEX}", None, "CREDIT_CARD"),
        # not a plausible legacy ID (no such date): a card even in an ID field
        ("371449635398431", "idCard", "CREDIT_CARD"),
    ],
)
def test_legacy_id_with_id_context_beats_amex(
    scanner: Scanner, value: str, name: str | None, expected: str
) -> None:
    findings = scanner.scan_text(value, name=name)
    assert [f.entity_type for f in findings] == [expected]


@pytest.mark.parametrize(
    "value",
    [
        "contactEmail=gyu%2Bshop%40163.com&t=74",
        "".join(f"\\u{ord(c):04x}" for c in "contactEmail=gyu%2Bshop%40163.com&t=74"),
        urllib.parse.quote("contactEmail=gyu%2Bshop%40163.com&t=74", safe=""),
    ],
)
def test_a_form_is_split_before_its_values_are_decoded(scanner: Scanner, value: str) -> None:
    # Percent-decoding the whole form first would turn %2B into "+" and then into a space.
    findings = scanner.scan_text(value, name="data")
    assert [(f.entity_type, f.value) for f in findings] == [("EMAIL_ADDRESS", "gyu+shop@163.com")]


_FIRST_SCAN = """
import phonenumbers.phonemetadata as metadata
import stdnum.numdb as numdb
from detectors.engine import Scanner

Scanner()
loaded = {
    "counties": "cn/loc" in numdb._open_databases,
    "numbering plan": "CN" in metadata.PhoneMetadata._region_metadata,
}
print(",".join(name for name, ok in loaded.items() if not ok))
"""


def test_scanner_loads_its_tables_up_front() -> None:
    # Building the Scanner loads the GB/T 2260 counties and the CN numbering plan (with the
    # suffix list, ~100 ms), so the first request a proxy sees does not pay for them.
    # Checked in a fresh interpreter, where nothing else has loaded them yet.
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _FIRST_SCAN], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "", f"loaded lazily: {result.stdout.strip()}"


@pytest.mark.parametrize(
    "value, expected",
    [
        # "%22" before a quoted number glues "22" to it in the raw text: only the decoding counts
        (
            urllib.parse.quote(json.dumps({"bank_card": "6013822406325202", "t": "96"}), safe=""),
            [("CN_BANK_CARD", "6013822406325202", ("percent", "json"))],
        ),
        (urllib.parse.quote(f'"{PHONE}"', safe=""), [("CN_PHONE", PHONE, ("percent",))]),
        # a number next to an escape but not glued to its hex digits is found in the raw text
        (f"{PHONE}%20x", [("CN_PHONE", PHONE, ())]),
    ],
)
def test_numbers_glued_to_percent_escapes_are_not_findings(
    scanner: Scanner, value: str, expected: list[tuple[str, str, tuple[str, ...]]]
) -> None:
    findings = scanner.scan_text(value, name="info")
    assert [(f.entity_type, f.value, f.value_encodings) for f in findings] == expected
