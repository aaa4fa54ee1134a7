"""The shared recognizer machinery: half-width reading, Luhn, Presidio-compatible results."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from presidio_analyzer import Pattern, RecognizerResult
from stdnum import luhn

from detectors.recognizers import CnPatternRecognizer, CnPhoneRecognizer
from detectors.rules.base import digits_only, luhn_valid, to_halfwidth


def test_halfwidth_equals_nfkc_and_keeps_length() -> None:
    for code in range(0xFF01, 0xFF5F):
        char = chr(code)
        assert to_halfwidth(char) == unicodedata.normalize("NFKC", char)
    assert to_halfwidth("\u3000") == " "
    text = "身份证：１１０１０５（０１０）－Ｘ ﬁ㈠"
    assert len(to_halfwidth(text)) == len(text)
    assert to_halfwidth("１３８—１２３４") == "138-1234"


@pytest.mark.parametrize(
    "number, valid",
    [("4111111111111111", True), ("4111111111111112", False), ("0", True), ("18", True)],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


def test_digits_only() -> None:
    assert digits_only("+86 (010) 1234-5678") == "86010" + "12345678"


def test_results_are_presidio_results() -> None:
    recognizer = CnPhoneRecognizer(supported_language="en")
    [result] = recognizer.analyze("call 13912345678", ["CN_PHONE"])
    assert isinstance(result, RecognizerResult)
    assert (result.entity_type, result.start, result.end, result.score) == ("CN_PHONE", 5, 16, 1.0)
    assert result.recognition_metadata[RecognizerResult.RECOGNIZER_NAME_KEY] == "CnPhoneRecognizer"
    assert result.analysis_explanation is not None
    assert recognizer.analyze("call 13912345678", ["EMAIL_ADDRESS"]) == []
    assert recognizer.supported_language == "en"


def test_custom_patterns_and_default_scoring() -> None:
    class Digits(CnPatternRecognizer):
        ENTITY = "DIGITS"
        PATTERNS = [Pattern("six digits", r"(?<![0-9])[0-9]{6}(?![0-9])", 0.2)]  # noqa: RUF012

        def invalidate_result(self, pattern_text: str) -> bool:
            return pattern_text == "000000"

    recognizer = Digits()
    assert [(r.start, r.score) for r in recognizer.analyze("a 123456 b 000000", None)] == [(2, 0.2)]
    # instances do not share the class's pattern list
    assert recognizer.patterns is not Digits.PATTERNS


@given(st.text("0123456789", min_size=1, max_size=24))
def test_luhn_equals_stdnum(number: str) -> None:
    assert luhn_valid(number) is luhn.is_valid(number)
