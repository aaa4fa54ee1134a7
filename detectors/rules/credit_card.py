"""CREDIT_CARD: international payment cards (Visa, Mastercard, Amex, Discover, JCB, Diners...).

Replaces Presidio's ``CreditCardRecognizer`` for formshield: its pattern uses ``\\b`` (fails next
to CJK text, which ``re`` treats as word characters) and stops at 17 digits. Here: 13-19 digits,
contiguous or grouped (see :data:`detectors.rules.cn_bank_card.CARD_NUMBER`), digit and
letter guards, Luhn check.

Scores: Luhn-valid with a brand prefix and a length that brand issues -> 1.0; Luhn-valid with
another prefix or length -> 0.3 (needs context); Luhn-invalid -> dropped. Numbers that
:mod:`cn_bank_card` recognizes (a Chinese issuer prefix, 16-19 digits) are left to it, so one card
is never reported as both.

Brand prefixes and lengths (ISO/IEC 7812 issuer ranges as published by the networks): Visa 4
(16, 19), Mastercard 51-55 and 2221-2720 (16), Amex 34/37 (15), Discover 6011/644-649/65 (16-19),
JCB 3528-3589 (16-19), Diners 300-305/36/38/39 (14-19), Maestro 50/56-58/6 (16-19; the rare
12-15 digit ones need context).
"""

from __future__ import annotations

import re
from typing import ClassVar

from detectors.rules.base import NUMBER_FAMILY, PatternRules, PatternSpec, digits_only, luhn_valid
from detectors.rules.cn_bank_card import CARD_NUMBER, is_cn_bank_card_candidate

# (prefix regex, allowed lengths)
_BRANDS: tuple[tuple[re.Pattern[str], frozenset[int]], ...] = (
    (re.compile(r"4"), frozenset({16, 19})),
    (re.compile(r"5[1-5]|222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720"), frozenset({16})),
    (re.compile(r"3[47]"), frozenset({15})),
    (re.compile(r"6011|64[4-9]|65"), frozenset(range(16, 20))),
    (re.compile(r"35(?:2[89]|[3-8][0-9])"), frozenset(range(16, 20))),
    (re.compile(r"30[0-5]|3[689]"), frozenset(range(14, 20))),
    (re.compile(r"5[06-8]|6"), frozenset(range(16, 20))),
)


# A digit string that brand_matches() accepts (prefix and length of one brand), for fullmatch.
BRAND_DIGITS_RE = re.compile(
    "|".join(
        f"(?=(?:{'|'.join(f'[0-9]{{{n}}}' for n in sorted(lengths))})\\Z)(?:{prefix.pattern})[0-9]*"
        for prefix, lengths in _BRANDS
    )
)


def brand_matches(number: str) -> bool:
    """True when ``number`` starts with a card brand prefix and has a length that brand uses."""
    return any(prefix.match(number) and len(number) in lengths for prefix, lengths in _BRANDS)


class CreditCardRules(PatternRules):
    """Recognize international card numbers (not Chinese bank cards) by brand, length, Luhn."""

    ENTITY: ClassVar[str] = "CREDIT_CARD"
    NAME: ClassVar[str] = "CreditCardRecognizer"
    PATTERNS: ClassVar[list[PatternSpec]] = [PatternSpec("Credit card (weak)", CARD_NUMBER, 0.3)]
    FAMILY_CHECK: ClassVar[re.Pattern[str] | None] = NUMBER_FAMILY
    # The pattern itself; brands issue 14 digits and more, so only those may score 1.0
    # without context.
    QUICK_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(CARD_NUMBER)
    SOLO_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(
        r"(?<![0-9A-Za-z])(?:[0-9]{14,19}(?![0-9A-Za-z])"
        r"|[0-9]{4}([ -])[0-9]{4}\1[0-9]{4}\1[0-9]|[0-9]{4}([ -])[0-9]{6}\2[0-9]{4})"
    )
    DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset(range(13, 20))
    SOLO_DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset(range(14, 20))
    # Only a brand's prefix and length scores 1.0 (any other Luhn-valid number 0.3).
    SOLO_DIGITS_CHECK: ClassVar[re.Pattern[str] | None] = BRAND_DIGITS_RE
    CONTEXT: ClassVar[list[str]] = [
        "信用卡", "卡号", "银行卡", "有效期", "安全码",
        "credit", "card", "cardno", "cardnumber", "creditcard", "cc", "ccnum", "ccnumber",
        "pan", "visa", "mastercard", "amex", "discover", "jcb", "diners", "maestro", "xyk",
    ]  # fmt: skip

    def validate_result(self, pattern_text: str) -> bool | None:
        """True: Luhn-valid with a brand prefix and length; None: Luhn-valid otherwise;
        False: Luhn-invalid, or a Chinese bank card (reported as CN_BANK_CARD)."""
        number = digits_only(pattern_text)
        if is_cn_bank_card_candidate(number) or not luhn_valid(number):
            return False
        return True if brand_matches(number) else None

    def invalidate_result(self, pattern_text: str) -> bool:
        """Drop numbers made of one repeated digit (``0000000000000``)."""
        return len(set(digits_only(pattern_text))) <= 1
