"""CN_HK_MACAU_PERMIT: Mainland Travel Permits for Hong Kong and Macao Residents (回乡证).

Format (source: /work/shared/reference/cn-pii.md): ``H`` (Hong Kong) or ``M`` (Macau) + 8 digits,
optionally followed by a 2-digit renewal count (``H1234567801``). No check digit: 0.3, reported
only with context (``回乡证``, ``港澳居民来往内地通行证``, ``hxz``). Guards reject letters or digits
glued to either side.
"""

from __future__ import annotations

import re
from typing import ClassVar

from detectors.rules.base import LETTER_ID_FAMILY, PatternRules, PatternSpec

# Left guard after the first letter (2-character look-behind): lets re skip ahead, faster.
PERMIT_REGEX = r"[HM](?<![0-9A-Za-z][HM])[0-9]{8}(?:[0-9]{2})?(?![0-9A-Za-z])"


class CnHkMacauPermitRules(PatternRules):
    """Recognize Home Return Permit numbers of Hong Kong and Macau residents (needs context)."""

    ENTITY: ClassVar[str] = "CN_HK_MACAU_PERMIT"
    NAME: ClassVar[str] = "CnHkMacauPermitRecognizer"
    FLAGS: ClassVar[int] = re.IGNORECASE
    PATTERNS: ClassVar[list[PatternSpec]] = [
        PatternSpec("HK/Macau permit (weak)", PERMIT_REGEX, 0.3)
    ]
    FAMILY_CHECK: ClassVar[re.Pattern[str] | None] = LETTER_ID_FAMILY
    QUICK_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(PERMIT_REGEX, FLAGS)  # the pattern
    SOLO_CHECK: ClassVar[re.Pattern[str] | None] = None  # no check digit: context always
    DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset()
    SOLO_DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset()
    CONTEXT: ClassVar[list[str]] = [
        "回乡证", "回鄉證", "通行证", "通行證", "港澳居民来往内地通行证", "来往内地通行证",
        "港澳通行证", "证件号", "证件号码",
        "hxz", "hxzh", "txz", "txzh", "gatxz", "permit", "permitno", "homereturn",
        "homereturnpermit", "reentrypermit",
    ]  # fmt: skip

    def invalidate_result(self, pattern_text: str) -> bool:
        """Drop one-repeated-digit serials (``H00000000``)."""
        return len(set(pattern_text[1:9])) == 1
