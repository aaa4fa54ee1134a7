"""CN_RESIDENT_ID: tables (valid, with context, invalid, adjacent-digit traps) and properties."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from detectors.context import field_name_words
from detectors.recognizers import CnResidentIdRecognizer, apply_context
from detectors.rules.cn_resident_id import (
    PROVINCES,
    calc_check_char,
    county_known,
    prefix_in_use,
    real_birth_date,
)

RECOGNIZER = CnResidentIdRecognizer()


def found(text: str, words: tuple[str, ...] = ()) -> list[tuple[str, float]]:
    """(matched text, score) pairs after context, as the scanner sees them."""
    results = apply_context(RECOGNIZER, text, RECOGNIZER.analyze(text, None), words)
    return sorted((text[r.start : r.end], round(r.score, 2)) for r in results)


@pytest.mark.parametrize(
    "text, expected",
    [
        # valid: the standard's annex and cn-pii.md test vectors, alone and between CJK text
        ("11010519491231002X", [("11010519491231002X", 1.0)]),
        ("360426199101010071", [("360426199101010071", 1.0)]),
        ("44011320141005001x", [("44011320141005001x", 1.0)]),
        ("号码412723199010050012结束", [("412723199010050012", 1.0)]),
        ("身份证号：110102199101010078。", [("110102199101010078", 1.0)]),
        ("id=11010519491231002X&name=x", [("11010519491231002X", 1.0)]),
        # grouped 6-8-4 with one kind of separator
        ("110105 19491231 002X", [("110105 19491231 002X", 1.0)]),
        ("身份证：360426-19910101-0071", [("360426-19910101-0071", 1.0)]),
        # full-width digits and check character (NFKC forms)
        ("１１０１０５１９４９１２３１００２Ｘ", [("１１０１０５１９４９１２３１００２Ｘ", 1.0)]),
        # residence permits (HK, Macau, Taiwan) and the foreign permanent resident card
        ("810000199001010019", [("810000199001010019", 1.0)]),
        ("820000198512310029", [("820000198512310029", 1.0)]),
        ("830000200002290031", [("830000200002290031", 1.0)]),
        ("911840199001010018", [("911840199001010018", 1.0)]),
        # right check and date, prefix not in use: needs context
        ("990000199001010017", [("990000199001010017", 0.3)]),
        ("100105194912310028", [("100105194912310028", 0.3)]),
        # legacy 15 digits: needs context (0.3 with a county python-stdnum knows)
        ("110105491231002", [("110105491231002", 0.3)]),
    ],
)
def test_valid(text: str, expected: list[tuple[str, float]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text, words, expected",
    [
        ("身份证号 110105491231002", (), [("110105491231002", 0.65)]),
        ("110105491231002", tuple(field_name_words("sfzh")), [("110105491231002", 0.65)]),
        ("110105491231002", tuple(field_name_words("idCardNo")), [("110105491231002", 0.65)]),
        ("公民身份号码:990000199001010017", (), [("990000199001010017", 0.65)]),
        # a valid ID stays at 1.0 with context
        ("身份证 11010519491231002X", (), [("11010519491231002X", 1.0)]),
        # unrelated field name: no boost
        ("110105491231002", tuple(field_name_words("orderNo")), [("110105491231002", 0.3)]),
    ],
)
def test_valid_with_context(
    text: str, words: tuple[str, ...], expected: list[tuple[str, float]]
) -> None:
    assert found(text, words) == expected


@pytest.mark.parametrize(
    "text",
    [
        "110105194912310021",  # wrong check character
        "11010519491231002Y",
        "110105194902300028",  # 30 February: the regex allows it, the date check does not
        "110105209912310029",  # born in 2099
        "110105189912310023",  # born before 1900
        "110105190013010021",  # month 13
        "810001199001010019",  # 81 prefix but not the permit code 810000 (check fails too)
        "110105991301002",  # legacy with month 13
        "110105 19491231-002X",  # mixed separators
        "110105 19491231 0021",  # grouped, wrong check
        "710105491231002",  # legacy numbers never had 71/81-83 prefixes
        "",
        "no digits at all",
    ],
)
def test_invalid(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "111010519491231002X",  # digit glued before
        "3601104261991010100711",  # ID inside a longer run
        "4127231990100500123",  # 19 digits
        "202411281101051949123100",  # order-number style run
        "1101051949123100",  # 16 digits: neither 15 nor 18
    ],
)
def test_adjacent_digit_traps(text: str) -> None:
    assert all(score < 0.5 for _, score in found(text)), found(text)


def test_helpers() -> None:
    assert calc_check_char("11010519491231002") == "X"
    assert real_birth_date(2000, 2, 29) and not real_birth_date(1900, 2, 29)
    assert real_birth_date(2024, 1, 1, today=datetime.date(2024, 1, 1))
    assert not real_birth_date(2024, 1, 2, today=datetime.date(2024, 1, 1))
    assert prefix_in_use("911840199001010018") and not prefix_in_use("991840199001010018")
    assert county_known("110105") and not county_known("119999") and not county_known("x")


# --- properties -----------------------------------------------------------------------------

_USABLE_PROVINCES = sorted(PROVINCES - {"81", "82", "83"})
_BOUNDARY_BAD = set("0123456789０１２３４５６７８９")


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    """A generated 18-character ID: allowed province, random county, real date, computed check."""
    province = draw(st.sampled_from(_USABLE_PROVINCES))
    county = draw(st.integers(0, 9999))
    born = draw(st.dates(datetime.date(1900, 1, 1), datetime.date.today()))
    sequence = draw(st.integers(0, 999))
    body = f"{province}{county:04d}{born:%Y%m%d}{sequence:03d}"
    return body + calc_check_char(body)


surroundings = st.text(max_size=30)


@settings(max_examples=300)
@given(number=valid_ids(), before=surroundings, after=surroundings)
def test_generated_id_found_at_full_score(number: str, before: str, after: str) -> None:
    if before and before[-1] in _BOUNDARY_BAD:
        before += "，"
    if after and after[0] in _BOUNDARY_BAD:
        after = "，" + after
    text = before + number + after
    results = RECOGNIZER.analyze(text, None)
    spans = {(r.start, r.end): r.score for r in results}
    assert spans.get((len(before), len(before) + 18)) == 1.0


@settings(max_examples=300)
@given(number=valid_ids(), replacement=st.sampled_from("0123456789X"), before=surroundings)
def test_changed_check_character_disappears(number: str, replacement: str, before: str) -> None:
    if replacement == number[-1]:
        replacement = "0" if number[-1] != "0" else "1"
    if before and before[-1] in _BOUNDARY_BAD:
        before += " "
    text = before + number[:-1] + replacement
    start = len(before)
    assert not any(r.start <= start < r.end for r in RECOGNIZER.analyze(text, None))


@given(st.text("0123456789", min_size=17, max_size=17))
def test_check_char_equals_stdnum(first17: str) -> None:
    assert calc_check_char(first17) == ric.calc_check_digit(first17 + "0")
