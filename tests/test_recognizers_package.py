"""The recognizer set as a whole: has_candidate never skips a match; hard negatives stay quiet."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.recognizers import RECOGNIZER_CLASSES
from detectors.rules import ENTITIES, has_candidate

RECOGNIZERS = [cls() for cls in RECOGNIZER_CLASSES]


def all_results(text: str) -> list[tuple[str, str, float]]:
    """(entity, matched text, score) from every recognizer, without context."""
    return [
        (r.entity_type, text[r.start : r.end], r.score)
        for recognizer in RECOGNIZERS
        for r in recognizer.analyze(text, None)
    ]


def test_entities() -> None:
    assert ENTITIES == (
        "CN_RESIDENT_ID", "CN_BANK_CARD", "CN_PHONE", "EMAIL_ADDRESS", "CREDIT_CARD",
        "CN_PASSPORT", "CN_HK_MACAU_PERMIT", "HK_ID", "TW_ID",
    )  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        # hard negatives: nothing reaches the scanner's threshold of 0.5
        "订单号：202411281234567890",  # order numbers
        "order 2024112812345678901234",
        "1732812345678",  # 13-digit millisecond timestamp
        "ts=1732812345678&t2=1732812345679",
        "ISBN 978-7-111-21382-6",
        "9787111213826",
        "SF1234567890123",  # waybills
        "YT2212345678901",
        "JDVA12345678901",
        "75123456789012",  # a 14-digit waybill number
        "5f3e2a1b9c8d7e6f5a4b3c2d1e0f9a8b",  # hex ids
        "a13812345678f0e1d2c3b4a5",
        "116.397128,39.916527",  # coordinates
        "39.9165271163971",
        "v1.2.3-beta+20241128",
        "sha256:6222021234567890128abcdef",  # digits glued to letters
        "uid13812345678x",
        "2024-11-28T12:34:56.789Z",
        "价格：¥1,234,567.89",
        "IMEI 490154203237518",  # IMEI (15 digits, Luhn-valid)
    ],
)
def test_hard_negatives(text: str) -> None:
    assert [r for r in all_results(text) if r[2] >= 0.5] == []


_PIECES = [
    "11010519491231002X", "110105491231002", "6222021234567890128", "6222 0212 3456 7890 128",
    "4111111111111111", "378282246310005", "13812345678", "+86 138 1234 5678", "010-12345678",
    "(010)12345678", "+86-10-123-4567", "0755 1234 5678", "a@example.com",
    "ｚ＠ｅｘａｍｐｌｅ．ｃｏｍ", "E12345678", "EA1234567", "H1234567801", "A123456(3)",
    "AB9876543", "A123456789",
    "１３８１２３４５６７８", "转123", "-", " ", "@", "(", ")", "+86", "0", "1", "x", "身份证",
]  # fmt: skip


@settings(max_examples=500)
@given(
    st.lists(
        st.one_of(st.sampled_from(_PIECES), st.text("0123456789 -()+@.xA转０１", max_size=6)),
        max_size=6,
    ).map("".join)
)
def test_has_candidate_never_skips_a_match(text: str) -> None:
    if not has_candidate(text):
        assert all_results(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", False),
        ("张三", False),
        ("12345", False),
        ("2024-11-28", False),
        ("a@b", True),
        ("１２３４５６", True),
        ("A123456(3)", True),
        ("+86-10-123-4567", True),
    ],
)
def test_has_candidate(text: str, expected: bool) -> None:
    assert has_candidate(text) is expected
