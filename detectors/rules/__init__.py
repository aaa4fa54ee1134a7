"""What formshield detects, one entity per module, without Presidio; and a cheap pre-filter.

Each module holds one entity's rules (:class:`~detectors.rules.base.PatternRules`): patterns,
context words, validation, scores and the gates a scanner uses. :mod:`detectors.recognizers`
makes Presidio recognizers of them; :class:`detectors.engine.Scanner` scans with the rules
directly, so a proxy that imports the scanner does not import Presidio.

Entities: ``CN_RESIDENT_ID``, ``CN_BANK_CARD``, ``CN_PHONE``, ``EMAIL_ADDRESS``, ``CREDIT_CARD``
(strong on their own), and ``CN_PASSPORT``, ``CN_HK_MACAU_PERMIT``, ``HK_ID``, ``TW_ID`` (need
context). Scores: >= 0.85 when strong on their own (validated ones 1.0), <= 0.3 when context is
needed; :mod:`detectors.context` adds 0.35 (floor 0.4) for context; the scanner's threshold is 0.5.
"""

from __future__ import annotations

import re

from detectors.rules.base import PatternRules, to_halfwidth
from detectors.rules.cn_bank_card import CnBankCardRules
from detectors.rules.cn_hk_macau_permit import CnHkMacauPermitRules
from detectors.rules.cn_passport import CnPassportRules
from detectors.rules.cn_phone import CnPhoneRules
from detectors.rules.cn_resident_id import CnResidentIdRules
from detectors.rules.credit_card import CreditCardRules
from detectors.rules.email_address import EmailAddressRules
from detectors.rules.hk_id import HkIdRules
from detectors.rules.tw_id import TwIdRules

RULE_CLASSES: tuple[type[PatternRules], ...] = (
    CnResidentIdRules,
    CnBankCardRules,
    CnPhoneRules,
    EmailAddressRules,
    CreditCardRules,
    CnPassportRules,
    CnHkMacauPermitRules,
    HkIdRules,
    TwIdRules,
)
ENTITIES: tuple[str, ...] = tuple(cls.ENTITY for cls in RULE_CLASSES)


def formshield_rules(language: str = "zh") -> list[PatternRules]:
    """New instances of every entity's rules, in :data:`RULE_CLASSES` order (the order a
    scanner breaks ties in)."""
    return [cls(supported_language=language) for cls in RULE_CLASSES]


# What every default pattern needs at least: an '@' (email), a run of 6 digits (HKID has the
# shortest: 6 digits + check; passports, permits, TW IDs, IDs and cards have longer runs), or
# 10 digits in all (the shortest phone, a landline written "010-123-4567", has 10 digits in runs
# of at most 4). Full-width digits and '＠' count too.
_AT = re.compile("[@\uff20]")
_RUN6 = re.compile(r"[0-9\uff10-\uff19]{6}")
_DIGIT = re.compile(r"[0-9\uff10-\uff19]")
_MIN_PHONE_DIGITS = 10


def has_candidate(text: str) -> bool:
    """False only when no formshield recognizer (with its default patterns) can match ``text``.

    Cheap: at most three regex scans, meant to skip most form values before any recognizer runs.
    """
    if _AT.search(text) or _RUN6.search(text):
        return True
    return any(count >= _MIN_PHONE_DIGITS for count, _ in enumerate(_DIGIT.finditer(text), start=1))


__all__ = [
    "ENTITIES",
    "RULE_CLASSES",
    "CnBankCardRules",
    "CnHkMacauPermitRules",
    "CnPassportRules",
    "CnPhoneRules",
    "CnResidentIdRules",
    "CreditCardRules",
    "EmailAddressRules",
    "HkIdRules",
    "PatternRules",
    "TwIdRules",
    "formshield_rules",
    "has_candidate",
    "to_halfwidth",
]
