"""CN_PHONE: every format of cn-pii.md, hard negatives, placeholders, and properties."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from detectors.context import field_name_words
from detectors.recognizers import CnPhoneRecognizer, apply_context
from detectors.rules.cn_phone import _parsed_is_personal, is_personal_number, is_placeholder_mobile

RECOGNIZER = CnPhoneRecognizer()


def found(text: str, words: tuple[str, ...] = ()) -> list[tuple[str, float]]:
    """(matched text, score) pairs after context, as the scanner sees them."""
    results = apply_context(RECOGNIZER, text, RECOGNIZER.analyze(text, None), words)
    return sorted((text[r.start : r.end], round(r.score, 2)) for r in results)


@pytest.mark.parametrize(
    "text, expected",
    [
        # mobiles
        ("13812345678", [("13812345678", 1.0)]),
        ("手机13812345678结束", [("13812345678", 1.0)]),
        ("138 1234 5678", [("138 1234 5678", 1.0)]),
        ("138-1234-5678", [("138-1234-5678", 1.0)]),
        ("+86 138 1234 5678", [("+86 138 1234 5678", 1.0)]),
        ("+8613812345678", [("+8613812345678", 1.0)]),
        ("0086-13812345678", [("0086-13812345678", 1.0)]),
        ("86-13812345678", [("86-13812345678", 1.0)]),
        ("(+86)13812345678", [("(+86)13812345678", 1.0)]),
        ("１３８１２３４５６７８", [("１３８１２３４５６７８", 1.0)]),
        ("＋８６　１３８１２３４５６７８", [("＋８６　１３８１２３４５６７８", 1.0)]),
        ("19912345678", [("19912345678", 1.0)]),
        # landlines: literal leading 0, +86 or 0086
        ("010-12345678", [("010-12345678", 1.0)]),
        ("01062345678", [("01062345678", 1.0)]),
        ("(010)12345678", [("(010)12345678", 1.0)]),
        ("（0755）12345678", [("（0755）12345678", 1.0)]),
        ("0755 1234 5678", [("0755 1234 5678", 1.0)]),
        ("+86-10-12345678", [("+86-10-12345678", 1.0)]),
        ("0086 755 12345678", [("0086 755 12345678", 1.0)]),
        # extensions stay in the match
        ("010-12345678转123", [("010-12345678转123", 1.0)]),
        ("0755-12345678 分机 88", [("0755-12345678 分机 88", 1.0)]),
        ("010-12345678 ext. 12", [("010-12345678 ext. 12", 1.0)]),
        ("010-12345678-123", [("010-12345678-123", 1.0)]),
        # two numbers in one value
        ("13812345678/13912345678", [("13812345678", 1.0), ("13912345678", 1.0)]),
        # placeholders: reported only with context
        ("13800138000", [("13800138000", 0.3)]),
        ("13888888888", [("13888888888", 0.3)]),
    ],
)
def test_valid(text: str, expected: list[tuple[str, float]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text, words, expected",
    [
        ("手机号：13800138000", (), [("13800138000", 0.65)]),
        ("13800138000", tuple(field_name_words("sjhm")), [("13800138000", 0.65)]),
        ("13888888888", tuple(field_name_words("mobilePhone")), [("13888888888", 0.65)]),
        ("tel: 13800138000", (), [("13800138000", 0.65)]),
        # whole words only: "hotel" is not "tel"
        ("hotel 13800138000", (), [("13800138000", 0.3)]),
        ("13800138000", tuple(field_name_words("hotelName")), [("13800138000", 0.3)]),
    ],
)
def test_valid_with_context(
    text: str, words: tuple[str, ...], expected: list[tuple[str, float]]
) -> None:
    assert found(text, words) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4001234567",  # 400 business numbers
        "400-123-4567",
        "800-123-4567",
        "+86 400 123 4567",
        "14912345678",  # data-card segment, not in phonenumbers' mobile ranges
        "12345678901",
        "1012345678",  # landline without a trunk 0 or country code
        "10-12345678",
        "86-10-12345678",  # bare 86 only before mobiles
        "138 1234-5678",  # mixed separators
        "2024-01-15 13:45:00",
        "116.397128,39.916527",  # coordinates
    ],
)
def test_invalid(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "a13812345678f",  # glued to letters
        "tel13812345678",
        "13812345678abc",
        "1732812345678",  # 13-digit millisecond timestamp
        "14401234567890",  # 13/14-digit IoT numbers
        "1064812345678",
        "113812345678",  # inside a longer digit run
        "138123456789",
        "+113812345678",  # another country's code
        "订单号202411281381234567812",
    ],
)
def test_adjacent_traps(text: str) -> None:
    assert found(text) == []


def test_placeholders() -> None:
    assert is_placeholder_mobile("13800138000") and is_placeholder_mobile("18800000000")
    assert not is_placeholder_mobile("13812345678")


# --- properties -----------------------------------------------------------------------------

_SEGMENTS = [f"13{d}" for d in range(10)] + ["150", "151", "152", "157", "158", "159", "177",
             "180", "181", "186", "187", "188", "189", "191", "198", "199"]  # fmt: skip
_GLUE = set("0123456789０１２３４５６７８９+＋ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_GLUE |= {chr(c) for c in range(0xFF21, 0xFF3B)} | {chr(c) for c in range(0xFF41, 0xFF5B)}


@st.composite
def mobiles(draw: st.DrawFn) -> str:
    """A generated mobile that phonenumbers accepts and that is not a placeholder."""
    number = draw(st.sampled_from(_SEGMENTS)) + draw(st.text("0123456789", min_size=8, max_size=8))
    assume(phonenumbers.is_valid_number(phonenumbers.parse(number, "CN")))
    assume(not is_placeholder_mobile(number))
    return number


@settings(max_examples=300)
@given(number=mobiles(), before=st.text(max_size=20), after=st.text(max_size=20))
def test_generated_mobile_found(number: str, before: str, after: str) -> None:
    if before and before[-1] in _GLUE:
        before += "，"
    if after and after[0] in _GLUE:
        after = "，" + after
    text = before + number + after
    start = len(before)
    assert any(
        r.start <= start and r.end >= start + 11 and r.score == 1.0
        for r in RECOGNIZER.analyze(text, None)
    )


@settings(max_examples=200)
@given(
    number=mobiles(), letter=st.sampled_from("abcxyzABCXYZ"), digit=st.sampled_from("0123456789")
)
def test_glued_mobile_never_found(number: str, letter: str, digit: str) -> None:
    for text in (letter + number, number + letter, digit + number, number + digit):
        assert not any(r.start <= 1 < r.end for r in RECOGNIZER.analyze(text, None)), text


# --- the numbering plan without phonenumbers.parse --------------------------------------------

_DIGIT = "0123456789"


@settings(max_examples=400)
@given(
    st.one_of(
        st.builds(lambda p, r: p + r, st.sampled_from([f"1{d}" for d in "0123456789"]),
                  st.text(_DIGIT, min_size=7, max_size=11)),
        st.builds(lambda p, r: p + r, st.sampled_from(["0", "+86", "+860", "86", "00", "0086"]),
                  st.text(_DIGIT, min_size=3, max_size=13)),
    ),
    st.booleans(),
)  # fmt: skip
@example("13812345678", True)
@example("17951381234567", True)  # a carrier selection code first: parsing path
@example("+8613812345678", True)
@example("01012345678", False)
@example("+861012345678", False)
@example("+86010123456789", False)
@example("4008123123", False)
def test_number_type_lookup_equals_phonenumbers_parse(number: str, mobile: bool) -> None:
    assert is_personal_number(number, mobile) == _parsed_is_personal(number, mobile)
