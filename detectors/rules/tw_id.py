"""TW_ID: Taiwan National Identification Card numbers.

Format: a letter (the place of first registration), ``1`` or ``2`` (sex), 7 digits and a check
digit, e.g. ``A123456789``. Check: the letter becomes a two-digit code (A=10 .. H=17, I=34, J=18
.. N=22, O=35, P=23 .. V=29, W=32, X=30, Y=31, Z=33); tens digit x1, units digit x9, the next
eight digits x8..x1, the check digit x1; the sum is a multiple of 10.

Scores: a wrong check drops the match; a right one scores 0.3 and is reported only with context
(``身分證``, ``twid``): 1 in 10 random strings of this shape pass.
"""

from __future__ import annotations

import re
from typing import ClassVar

from detectors.rules.base import LETTER_ID_FAMILY, PatternRules, PatternSpec

# Left guard after the first letter (2-character look-behind): lets re skip ahead, faster.
TWID_REGEX = r"[A-Z](?<![0-9A-Za-z][A-Z])[12][0-9]{8}(?![0-9A-Za-z])"
# Letters in the order of their codes 10..35.
_LETTER_CODES = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36), strict=True))


def twid_check_ok(number: str) -> bool:
    """True when the 10-character ``number`` passes the mod-10 check.

    False for a first letter outside A-Z: with IGNORECASE the pattern's [A-Z] also matches
    the Kelvin sign and a few other non-ASCII letters, which have no code.
    """
    if not number.isascii():  # before upper(): "ſ".upper() is "S"
        return False
    number = number.upper()
    code = _LETTER_CODES.get(number[0])
    if code is None:
        return False
    total = code // 10 + (code % 10) * 9
    total += sum(int(d) * w for d, w in zip(number[1:9], range(8, 0, -1), strict=True))
    total += int(number[9])
    return total % 10 == 0


class TwIdRules(PatternRules):
    """Recognize Taiwan ID numbers (needs context)."""

    ENTITY: ClassVar[str] = "TW_ID"
    NAME: ClassVar[str] = "TwIdRecognizer"
    FLAGS: ClassVar[int] = re.IGNORECASE
    PATTERNS: ClassVar[list[PatternSpec]] = [PatternSpec("Taiwan ID (weak)", TWID_REGEX, 0.3)]
    FAMILY_CHECK: ClassVar[re.Pattern[str] | None] = LETTER_ID_FAMILY
    QUICK_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(TWID_REGEX, FLAGS)  # the pattern
    SOLO_CHECK: ClassVar[re.Pattern[str] | None] = None  # 1 in 10 pass the check: context
    DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset()
    SOLO_DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset()
    CONTEXT: ClassVar[list[str]] = [
        "身分證", "身分证", "身份證", "身份证", "統一編號", "台湾身份证", "台灣身分證", "证件号",
        "twid", "taiwanid", "nationalid", "idno", "idcard", "identitycard",
    ]  # fmt: skip

    def validate_result(self, pattern_text: str) -> bool | None:
        """False for a wrong check digit; None (keep 0.3, needs context) otherwise."""
        return None if twid_check_ok(pattern_text) else False
