"""HK_ID: Hong Kong Identity Card numbers.

Format: 1 or 2 letters, 6 digits, a check character ``0-9`` or ``A``, written ``A123456(3)``,
``A1234563`` or ``AB987654(3)``. Check (as published by the HKSAR Immigration Department and
implemented by python-stdnum's neighbours): letters count A=10 .. Z=35, a single-letter number is
padded with a space worth 36; weights 9..2 over the 8 leading characters; the check value makes the
weighted sum plus itself a multiple of 11 (10 is written ``A``).

Scores: a wrong check character drops the match. A right one written with parentheses (the way
the card prints it) scores 0.6 (medium: 1 in 11 random strings of that shape pass); without
parentheses 0.3, reported only with context (``香港身份证``, ``hkid``).
"""

from __future__ import annotations

import re
from typing import ClassVar

from detectors.rules.base import LETTER_ID_FAMILY, PatternRules, PatternSpec

# Left guard after the first letter (2-character look-behind): lets re skip ahead, faster.
HKID_REGEX = r"[A-Z](?<![0-9A-Za-z][A-Z])[A-Z]?[0-9]{6}(?:\([0-9A]\)|[0-9A])(?![0-9A-Za-z])"
PARENTHESISED_SCORE = 0.6
_SPACE_VALUE = 36


def hkid_check_ok(number: str) -> bool:
    """True when ``number`` (letters, 6 digits, check; parentheses removed) checks out.

    False for letters outside A-Z (IGNORECASE lets the pattern's [A-Z] match the Kelvin sign
    and a few other non-ASCII letters, which have no value in the check).
    """
    if not number.isascii():  # before upper(): "ſ".upper() is "S"
        return False
    number = number.upper()
    letters, rest = number[:-7], number[-7:]
    if len(letters) == 1:
        values = [_SPACE_VALUE, ord(letters) - 55]
    else:
        values = [ord(c) - 55 for c in letters]
    values += [int(d) for d in rest[:6]]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True))
    check = 10 if rest[6] == "A" else int(rest[6])
    return (total + check) % 11 == 0


class HkIdRules(PatternRules):
    """Recognize Hong Kong ID card numbers (medium with parentheses, else needs context)."""

    ENTITY: ClassVar[str] = "HK_ID"
    NAME: ClassVar[str] = "HkIdRecognizer"
    FLAGS: ClassVar[int] = re.IGNORECASE
    PATTERNS: ClassVar[list[PatternSpec]] = [PatternSpec("HKID (weak)", HKID_REGEX, 0.3)]
    FAMILY_CHECK: ClassVar[re.Pattern[str] | None] = LETTER_ID_FAMILY
    QUICK_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(HKID_REGEX, FLAGS)  # the pattern
    # Only the parenthesised form scores above 0.3 on its own.
    SOLO_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(r"[A-Z][0-9]{6}\([0-9A]\)", FLAGS)
    DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset()
    SOLO_DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset()
    CONTEXT: ClassVar[list[str]] = [
        "香港身份证", "香港身份證", "身份证", "身份證", "身份证号", "身份證號碼", "证件号",
        "hkid", "hkidno", "hkic", "idcard", "idno", "hongkongid", "identitycard",
    ]  # fmt: skip

    def validate_result(self, pattern_text: str) -> bool | None:
        """False for a wrong check character; None (score from :meth:`score_candidate`) else."""
        compact = pattern_text.replace("(", "").replace(")", "")
        return None if hkid_check_ok(compact) else False

    def score_candidate(self, value: str, pattern: PatternSpec) -> float:
        """0 for a wrong check, 0.6 with parentheses, else the pattern's 0.3."""
        score = super().score_candidate(value, pattern)
        if score > 0 and value.endswith(")"):
            return PARENTHESISED_SCORE
        return score
