"""CN_PASSPORT, CN_HK_MACAU_PERMIT, HK_ID, TW_ID: reported only with context (HKID medium)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors.context import field_name_words
from detectors.recognizers import (
    CnHkMacauPermitRecognizer,
    CnPassportRecognizer,
    CnPatternRecognizer,
    HkIdRecognizer,
    TwIdRecognizer,
    apply_context,
)
from detectors.rules.hk_id import hkid_check_ok
from detectors.rules.tw_id import twid_check_ok

PASSPORT = CnPassportRecognizer()
PERMIT = CnHkMacauPermitRecognizer()
HKID = HkIdRecognizer()
TWID = TwIdRecognizer()


def found(recognizer: CnPatternRecognizer, text: str, field: str = "") -> list[tuple[str, float]]:
    """(matched text, score) pairs after context from ``field`` and the text."""
    words = field_name_words(field) if field else []
    results = apply_context(recognizer, text, recognizer.analyze(text, None), words)
    return sorted((text[r.start : r.end], round(r.score, 2)) for r in results)


@pytest.mark.parametrize(
    "recognizer, text, field, expected",
    [
        # valid shapes without context: low score
        (PASSPORT, "E12345678", "", [("E12345678", 0.3)]),
        (PASSPORT, "EA1234567", "", [("EA1234567", 0.3)]),
        (PASSPORT, "G12345678", "", [("G12345678", 0.3)]),
        (PERMIT, "H12345678", "", [("H12345678", 0.3)]),
        (PERMIT, "M1234567801", "", [("M1234567801", 0.3)]),
        (HKID, "A1234563", "", [("A1234563", 0.3)]),
        (HKID, "A123456(3)", "", [("A123456(3)", 0.6)]),  # parenthesised, right check: medium
        (HKID, "AB987654(3)", "", [("AB987654(3)", 0.6)]),
        (TWID, "A123456789", "", [("A123456789", 0.3)]),
        # valid with context: in the text before, or from the field name
        (PASSPORT, "护照号码：E12345678", "", [("E12345678", 0.65)]),
        (PASSPORT, "e12345678", "passportNo", [("e12345678", 0.65)]),
        (PASSPORT, "EA1234567", "hzh", [("EA1234567", 0.65)]),
        (PERMIT, "回乡证H12345678", "", [("H12345678", 0.65)]),
        (PERMIT, "H1234567801", "hxz_no", [("H1234567801", 0.65)]),
        (HKID, "香港身份证 A1234563", "", [("A1234563", 0.65)]),
        (HKID, "A123456(3)", "hkid", [("A123456(3)", 0.95)]),
        (TWID, "身分證字號A123456789", "", [("A123456789", 0.65)]),
        (TWID, "A123456789", "twId", [("A123456789", 0.65)]),
        # context from an unrelated field does nothing
        (PASSPORT, "E12345678", "productCode", [("E12345678", 0.3)]),
    ],
)
def test_valid(
    recognizer: CnPatternRecognizer, text: str, field: str, expected: list[tuple[str, float]]
) -> None:
    assert found(recognizer, text, field) == expected


@pytest.mark.parametrize(
    "recognizer, text",
    [
        (PASSPORT, "EI1234567"),  # I and O are not used
        (PASSPORT, "EO1234567"),
        (PASSPORT, "E1234567"),  # too short
        (PASSPORT, "E00000000"),  # filler
        (PASSPORT, "K12345678"),
        (PERMIT, "H1234567"),
        (PERMIT, "H123456780"),  # 9 digits: neither 8 nor 10
        (HKID, "A1234564"),  # wrong check
        (HKID, "A123456(4)"),
        (TWID, "A123456788"),  # wrong check
        (TWID, "A323456789"),  # second digit must be 1 or 2
        # non-ASCII letters that IGNORECASE lets [A-Z] match (Kelvin sign, long s): no
        # identifier, and no KeyError from the check
        (TWID, "\u212a123456789"),
        (TWID, "\u212a223456780"),
        (TWID, "\u017f123456789"),
        (HKID, "\u212a123456(3)"),
        (HKID, "\u212a1234563"),
        (HKID, "A\u212a1234563"),
    ],
)
def test_invalid(recognizer: CnPatternRecognizer, text: str) -> None:
    assert found(recognizer, text, "passportNo hxz hkid twid") == []


@pytest.mark.parametrize(
    "recognizer, text",
    [
        (PASSPORT, "XE12345678"),
        (PASSPORT, "E123456789"),
        (PASSPORT, "E12345678a"),
        (PERMIT, "1H12345678"),
        (PERMIT, "H12345678X"),
        (HKID, "9A1234563"),
        (HKID, "ZZA1234563"),
        (TWID, "A1234567890"),
        (TWID, "BA123456789"),
    ],
)
def test_adjacent_traps(recognizer: CnPatternRecognizer, text: str) -> None:
    assert found(recognizer, text) == []


@given(
    letters=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=2),
    digits=st.text("0123456789", min_size=6, max_size=6),
)
def test_hkid_exactly_one_check_character(letters: str, digits: str) -> None:
    assert sum(hkid_check_ok(letters + digits + c) for c in "0123456789A") == 1


@given(
    letter=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    digits=st.text("0123456789", min_size=7, max_size=7).map(lambda d: "1" + d),
)
def test_twid_exactly_one_check_digit(letter: str, digits: str) -> None:
    assert sum(twid_check_ok(letter + digits + c) for c in "0123456789") == 1


@given(
    digits=st.text("0123456789", min_size=9, max_size=9),
    odd=st.sampled_from("\u212a\u017f\u0131\u0130"),
)
def test_non_ascii_letters_never_pass_a_check(digits: str, odd: str) -> None:
    assert not twid_check_ok(odd + digits)
    assert not any(hkid_check_ok(odd + digits[:6] + c) for c in "0123456789A")
