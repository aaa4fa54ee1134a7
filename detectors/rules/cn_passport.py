"""CN_PASSPORT: passports of the People's Republic of China (ordinary passports).

Formats (source: /work/shared/reference/cn-pii.md): ``E`` + 8 digits (e-passports from 2012),
``E`` + a letter other than I/O + 7 digits (from 2017, when the E+8 range ran out), and the older
``G`` + 8 digits. There is no check digit, so the shape alone is weak (product codes and order
numbers look the same): 0.3, reported only with context (``护照号``, ``passportNo``, ``hzh``).
Letters may be lower-case in forms; ASCII letters or digits glued to either side reject a match.
"""

from __future__ import annotations

import re
from typing import ClassVar

from detectors.rules.base import LETTER_ID_FAMILY, PatternRules, PatternSpec

# Left guard after the first letter (2-character look-behind): lets re skip ahead, faster.
PASSPORT_REGEX = (
    r"[EG](?<![0-9A-Za-z][EG])"
    r"(?:(?<=E)(?:[0-9]{8}|[A-HJ-NP-Z][0-9]{7})|(?<=G)[0-9]{8})"
    r"(?![0-9A-Za-z])"
)


class CnPassportRules(PatternRules):
    """Recognize Chinese passport numbers (needs context)."""

    ENTITY: ClassVar[str] = "CN_PASSPORT"
    NAME: ClassVar[str] = "CnPassportRecognizer"
    FLAGS: ClassVar[int] = re.IGNORECASE
    PATTERNS: ClassVar[list[PatternSpec]] = [PatternSpec("CN passport (weak)", PASSPORT_REGEX, 0.3)]
    FAMILY_CHECK: ClassVar[re.Pattern[str] | None] = LETTER_ID_FAMILY
    QUICK_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(PASSPORT_REGEX, FLAGS)  # the pattern
    SOLO_CHECK: ClassVar[re.Pattern[str] | None] = None  # no check digit: context always
    DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset()
    SOLO_DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset()
    CONTEXT: ClassVar[list[str]] = [
        "护照", "护照号", "护照号码", "證照", "護照", "出入境证件",
        "hz", "hzh", "hzhm", "passport", "passportno", "passportnumber", "passportid",
    ]  # fmt: skip

    def invalidate_result(self, pattern_text: str) -> bool:
        """Drop all-zero or one-repeated-digit serials (``E00000000``)."""
        return len(set(pattern_text[-7:])) == 1
