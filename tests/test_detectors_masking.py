"""Masks: same length, little kept, and never detected again by any recognizer."""

from __future__ import annotations

import pytest

from detectors.masking import MASK_CHAR, mask
from detectors.recognizers import RECOGNIZER_CLASSES

RECOGNIZERS = [cls() for cls in RECOGNIZER_CLASSES]

SAMPLES = [
    ("CN_RESIDENT_ID", "11010519491231002X"),
    ("CN_RESIDENT_ID", "110105491231002"),
    ("CN_BANK_CARD", "6222021234567890128"),
    ("CN_BANK_CARD", "6222 0212 3456 7890 128"),
    ("CREDIT_CARD", "4111-1111-1111-1111"),
    ("CN_PHONE", "13812345678"),
    ("CN_PHONE", "+86 138 1234 5678"),
    ("CN_PHONE", "010-12345678转123"),
    ("CN_PHONE", "１３８１２３４５６７８"),
    ("EMAIL_ADDRESS", "zhang.san@example.com"),
    ("EMAIL_ADDRESS", "ab@example.com"),
    ("CN_PASSPORT", "E12345678"),
    ("CN_HK_MACAU_PERMIT", "H1234567801"),
    ("HK_ID", "A123456(3)"),
    ("TW_ID", "A123456789"),
]


@pytest.mark.parametrize("entity, value", SAMPLES)
def test_mask_keeps_length_and_hides_most(entity: str, value: str) -> None:
    masked = mask(entity, value)
    assert len(masked) == len(value)
    assert masked != value and MASK_CHAR in masked
    if entity != "EMAIL_ADDRESS":
        assert sum(a == b for a, b in zip(masked, value, strict=True)) <= 8


@pytest.mark.parametrize("entity, value", SAMPLES)
def test_masked_value_is_never_detected_again(entity: str, value: str) -> None:
    masked = mask(entity, value)
    for text in (masked, f"号码{masked}结束", f"phone: {masked}"):
        found = [r.entity_type for rec in RECOGNIZERS for r in rec.analyze(text, None)]
        assert found == [], (masked, found)


def test_short_values_fully_masked() -> None:
    assert mask("CN_PHONE", "12345") == "*****"
    assert mask("UNKNOWN", "abcdef") == "a****f"
