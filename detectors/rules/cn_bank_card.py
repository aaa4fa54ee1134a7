"""CN_BANK_CARD: bank cards issued in mainland China (UnionPay and domestic BINs).

Numbers are 16-19 digits, written contiguously or in groups of four separated by one kind of
separator (space or dash): ``6222021234567890123``, ``6222 0212 3456 7890 123``,
``6222-0212-3456-7890``. Full-width digits are read as ASCII.

Issuer prefixes (source: /work/shared/reference/cn-pii.md): UnionPay 620, 621-626, 6270, 6272,
6276, 6277, 6282-6289, 6291, 6292, 81 (UnionPay International); domestic BINs outside 62: 95588
(ICBC), 95595-95599 (ABC), 955100 (PSBC), 601382 (BOC), 603367, 9111, 966666, 998800, and the
Visa co-branded 436742 (CCB).

Scores: Luhn-valid with a known BIN -> 1.0. Not every real UnionPay debit card passes Luhn (older
ICBC, Bank of Communications and Bank of Jiangsu cards), so a Luhn-invalid number with a known
BIN keeps 0.3 and is reported only with context (field name ``yhkh``, ``银行卡号：`` before it).
Luhn-valid numbers with other prefixes are :mod:`credit_card` numbers, never reported twice.
"""

from __future__ import annotations

import re
from typing import ClassVar

from detectors.rules.base import NUMBER_FAMILY, PatternRules, PatternSpec, digits_only, luhn_valid

CN_BIN_RE = re.compile(
    r"62(?:0|[1-6]|7[0267]|8[2-9]|9[12])"
    r"|81"
    r"|9558[8]|9559[5-9]|955100"
    r"|601382|603367|9111|966666|998800"
    r"|436742"
)
MIN_LEN = 16
MAX_LEN = 19

# Groups: contiguous 13-19 digits, or 4-4-4(-4)(-1..4) / 4-6-4..5 with one repeated separator.
# Shared with the CREDIT_CARD recognizer (which accepts 13-19 digits).
# The left guard follows the first digit (a 2-character look-behind) so that re can skip ahead
# to digits: 2-3x faster on long text than a leading look-behind.
CARD_NUMBER = (
    r"[0-9](?<![0-9A-Za-z][0-9])"
    r"(?:[0-9]{12,18}"
    r"|[0-9]{3}([ -])[0-9]{4}\1[0-9]{4}(?:\1[0-9]{4})?(?:\1[0-9]{1,4})?"
    r"|[0-9]{3}([ -])[0-9]{6}\2[0-9]{4,5})"
    r"(?![0-9A-Za-z])"
)


def has_cn_bin(number: str) -> bool:
    """True when the digit string starts with a known Chinese issuer prefix."""
    return CN_BIN_RE.match(number) is not None


def is_cn_bank_card_candidate(number: str) -> bool:
    """True for a 16-19 digit string with a known Chinese issuer prefix (Luhn not checked)."""
    return MIN_LEN <= len(number) <= MAX_LEN and has_cn_bin(number)


class CnBankCardRules(PatternRules):
    """Recognize Chinese bank card numbers by issuer prefix, length and Luhn check."""

    ENTITY: ClassVar[str] = "CN_BANK_CARD"
    NAME: ClassVar[str] = "CnBankCardRecognizer"
    PATTERNS: ClassVar[list[PatternSpec]] = [PatternSpec("CN bank card (weak)", CARD_NUMBER, 0.3)]
    FAMILY_CHECK: ClassVar[re.Pattern[str] | None] = NUMBER_FAMILY
    # 16-19 digits in a row or four groups of four (the 4-6-5 grouping has at most 15 digits),
    # with the pattern's guards.
    QUICK_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(
        r"(?<![0-9A-Za-z])"
        r"(?:[0-9]{16,19}(?![0-9A-Za-z])|[0-9]{4}([ -])[0-9]{4}\1[0-9]{4}\1[0-9]{4})"
    )
    SOLO_CHECK: ClassVar[re.Pattern[str] | None] = QUICK_CHECK
    DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset(range(MIN_LEN, MAX_LEN + 1))
    SOLO_DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = DIGIT_LENGTHS
    DIGITS_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(f"(?:{CN_BIN_RE.pattern})[0-9]*")
    CONTEXT: ClassVar[list[str]] = [
        "银行卡", "银行卡号", "卡号", "银行账号", "账号", "银行帐号", "帐号", "开户行", "储蓄卡",
        "借记卡", "信用卡", "银联", "收款账户", "收款卡号",
        "yhk", "yhkh", "yhzh", "khh", "bankcard", "bankcardno", "cardno", "cardnum",
        "cardnumber", "acctno", "accountno", "account", "bank", "card", "debit", "unionpay",
    ]  # fmt: skip

    def validate_result(self, pattern_text: str) -> bool | None:
        """True: known BIN, 16-19 digits, Luhn-valid. None: known BIN but Luhn-invalid (needs
        context). False: anything else (another issuer or length)."""
        number = digits_only(pattern_text)
        if not is_cn_bank_card_candidate(number):
            return False
        return True if luhn_valid(number) else None

    def invalidate_result(self, pattern_text: str) -> bool:
        """Drop runs of one repeated digit after the prefix (form placeholders)."""
        number = digits_only(pattern_text)
        return len(set(number[6:])) <= 1
