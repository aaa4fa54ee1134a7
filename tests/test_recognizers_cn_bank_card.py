"""CN_BANK_CARD: tables (valid, with context, invalid, adjacent-digit traps) and properties."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from detectors.context import field_name_words
from detectors.recognizers import CnBankCardRecognizer, CreditCardRecognizer, apply_context
from detectors.rules.base import luhn_valid
from detectors.rules.cn_bank_card import has_cn_bin

RECOGNIZER = CnBankCardRecognizer()


def found(text: str, words: tuple[str, ...] = ()) -> list[tuple[str, float]]:
    """(matched text, score) pairs after context, as the scanner sees them."""
    results = apply_context(RECOGNIZER, text, RECOGNIZER.analyze(text, None), words)
    return sorted((text[r.start : r.end], round(r.score, 2)) for r in results)


def with_luhn(body: str) -> str:
    """``body`` plus the digit that makes it Luhn-valid."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


@pytest.mark.parametrize(
    "text, expected",
    [
        # valid: known BIN, 16-19 digits, Luhn-valid (generated or payment-gateway test numbers)
        ("6222021234567890128", [("6222021234567890128", 1.0)]),
        ("6200000000000005", [("6200000000000005", 1.0)]),
        ("6205500000000000004", [("6205500000000000004", 1.0)]),
        ("卡号6222021234567890128结束", [("6222021234567890128", 1.0)]),
        ("6222 0212 3456 7890 128", [("6222 0212 3456 7890 128", 1.0)]),
        ("6222-0212-3456-7890-128", [("6222-0212-3456-7890-128", 1.0)]),
        (
            "６２２２０２１２３４５６７８９０１２８",
            [("６２２２０２１２３４５６７８９０１２８", 1.0)],
        ),
        (with_luhn("955880123456789012"), [(with_luhn("955880123456789012"), 1.0)]),
        (with_luhn("436742123456789012"), [(with_luhn("436742123456789012"), 1.0)]),
        (with_luhn("81001234567890123"), [(with_luhn("81001234567890123"), 1.0)]),
        # Luhn-invalid with a known BIN (older ICBC-style debit card): needs context
        ("6214832018989180", [("6214832018989180", 0.3)]),
    ],
)
def test_valid(text: str, expected: list[tuple[str, float]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text, words, expected",
    [
        ("银行卡号：6214832018989180", (), [("6214832018989180", 0.65)]),
        ("6214832018989180", tuple(field_name_words("yhkh")), [("6214832018989180", 0.65)]),
        ("6214832018989180", tuple(field_name_words("bankCardNo")), [("6214832018989180", 0.65)]),
        ("card no: 6214832018989180", (), [("6214832018989180", 0.65)]),
        ("6214832018989180", tuple(field_name_words("userId")), [("6214832018989180", 0.3)]),
    ],
)
def test_valid_with_context(
    text: str, words: tuple[str, ...], expected: list[tuple[str, float]]
) -> None:
    assert found(text, words) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",  # Visa: a CREDIT_CARD, not a Chinese bank card
        "5555555555554444",
        with_luhn("700012345678901"),  # unknown BIN
        with_luhn("62220212345678"),  # 15 digits: too short
        "6222020000000000000",  # repeated filler after the BIN
        "6222 0212-3456 7890",  # mixed separators
        "62 22 02 12 34 56 78 90 12",  # not grouped in fours
    ],
)
def test_invalid(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "16222021234567890128",  # glued digit before
        "62220212345678901281",  # 20 digits
        "a6222021234567890128",  # glued to letters
        "6222021234567890128f",
        "0x6222021234567890128e",
    ],
)
def test_adjacent_traps(text: str) -> None:
    assert found(text) == []


def test_bin_table() -> None:
    assert all(has_cn_bin(p) for p in ("620", "6212", "6270", "6282", "6292", "8100", "95588"))
    assert not any(has_cn_bin(p) for p in ("6271", "6281", "6293", "4111", "9558"))


# --- properties -----------------------------------------------------------------------------

_BINS = ["620", "621", "622", "623", "624", "625", "626", "6270", "6282", "6291", "95588", "81"]
_GLUE = set("0123456789０１２３４５６７８９ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_GLUE |= {chr(c) for c in range(0xFF21, 0xFF3B)} | {chr(c) for c in range(0xFF41, 0xFF5B)}


@st.composite
def unionpay_cards(draw: st.DrawFn) -> str:
    """A generated Luhn-valid card with a Chinese BIN and a length of 16-19 digits."""
    prefix = draw(st.sampled_from(_BINS))
    length = draw(st.integers(16, 19))
    body = draw(
        st.text("0123456789", min_size=length - 1 - len(prefix), max_size=length - 1 - len(prefix))
    )
    number = with_luhn(prefix + body)
    assume(len(set(number[6:])) > 1)
    return number


def _pad(before: str, after: str) -> tuple[str, str]:
    if before and before[-1] in _GLUE:
        before += "，"
    if after and after[0] in _GLUE:
        after = "，" + after
    return before, after


@settings(max_examples=300)
@given(number=unionpay_cards(), before=st.text(max_size=20), after=st.text(max_size=20))
def test_generated_card_found_at_full_score(number: str, before: str, after: str) -> None:
    before, after = _pad(before, after)
    text = before + number + after
    spans = {(r.start, r.end): r.score for r in RECOGNIZER.analyze(text, None)}
    assert spans.get((len(before), len(before) + len(number))) == 1.0
    # never reported twice: the CREDIT_CARD recognizer leaves it alone
    start = len(before)
    assert not any(r.start <= start < r.end for r in CreditCardRecognizer().analyze(text, None))


@settings(max_examples=300)
@given(number=unionpay_cards(), delta=st.integers(1, 9))
def test_changed_check_digit_needs_context(number: str, delta: int) -> None:
    changed = number[:-1] + str((int(number[-1]) + delta) % 10)
    assert all(score < 0.5 for _, score in found(changed))
