"""CREDIT_CARD: international cards, next to CJK text, never double-reporting Chinese cards."""

from __future__ import annotations

import pytest

from detectors.context import field_name_words
from detectors.recognizers import CreditCardRecognizer, apply_context
from detectors.rules.credit_card import brand_matches

RECOGNIZER = CreditCardRecognizer()


def found(text: str, words: tuple[str, ...] = ()) -> list[tuple[str, float]]:
    """(matched text, score) pairs after context, as the scanner sees them."""
    results = apply_context(RECOGNIZER, text, RECOGNIZER.analyze(text, None), words)
    return sorted((text[r.start : r.end], round(r.score, 2)) for r in results)


@pytest.mark.parametrize(
    "text, expected",
    [
        # valid: the networks' published test numbers
        ("4111111111111111", [("4111111111111111", 1.0)]),
        ("信用卡4111111111111111有效期", [("4111111111111111", 1.0)]),
        ("4111 1111 1111 1111", [("4111 1111 1111 1111", 1.0)]),
        ("4111-1111-1111-1111", [("4111-1111-1111-1111", 1.0)]),
        ("5555555555554444", [("5555555555554444", 1.0)]),
        ("2223003122003222", [("2223003122003222", 1.0)]),
        ("378282246310005", [("378282246310005", 1.0)]),
        ("3782 822463 10005", [("3782 822463 10005", 1.0)]),
        ("6011111111111117", [("6011111111111117", 1.0)]),
        ("3530111333300000", [("3530111333300000", 1.0)]),
        ("30569309025904", [("30569309025904", 1.0)]),
        ("4000000000000000006", [("4000000000000000006", 1.0)]),  # 19-digit Visa
        ("４１１１１１１１１１１１１１１１", [("４１１１１１１１１１１１１１１１", 1.0)]),
        # Luhn-valid but no brand length (a 13-digit Visa shape): needs context
        ("4222222222222", [("4222222222222", 0.3)]),
    ],
)
def test_valid(text: str, expected: list[tuple[str, float]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text, words, expected",
    [
        ("4222222222222", tuple(field_name_words("ccNumber")), [("4222222222222", 0.65)]),
        ("credit card: 4222222222222", (), [("4222222222222", 0.65)]),
    ],
)
def test_valid_with_context(
    text: str, words: tuple[str, ...], expected: list[tuple[str, float]]
) -> None:
    assert found(text, words) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # Luhn-invalid
        "6222021234567890128",  # a Chinese bank card: reported as CN_BANK_CARD only
        "6200000000000005",
        "0000000000000000",
        "1732812345678",  # 13-digit millisecond timestamp
        "9787111213826",  # ISBN-13
        "4111 1111-1111 1111",  # mixed separators
    ],
)
def test_invalid(text: str) -> None:
    assert all(score < 0.5 for _, score in found(text)), found(text)


@pytest.mark.parametrize(
    "text",
    ["14111111111111111", "41111111111111110", "x4111111111111111", "4111111111111111y"],
)
def test_adjacent_traps(text: str) -> None:
    assert all(score < 0.5 for _, score in found(text)), found(text)


def test_brands() -> None:
    assert brand_matches("4111111111111111") and not brand_matches("411111111111111")
    assert brand_matches("378282246310005") and not brand_matches("3782822463100050")
