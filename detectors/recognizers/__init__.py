"""formshield's Presidio recognizers, one per module, and a cheap pre-filter for the scanner.

Entities: ``CN_RESIDENT_ID``, ``CN_BANK_CARD``, ``CN_PHONE``, ``EMAIL_ADDRESS``, ``CREDIT_CARD``
(strong on their own), and ``CN_PASSPORT``, ``CN_HK_MACAU_PERMIT``, ``HK_ID``, ``TW_ID`` (need
context). Scores: >= 0.85 when strong on their own (validated ones 1.0), <= 0.3 when context is
needed; :mod:`detectors.context` adds 0.35 (floor 0.4) for context; the scanner's threshold is 0.5.
"""

from __future__ import annotations

import re

from detectors.recognizers.base import CnPatternRecognizer, to_halfwidth
from detectors.recognizers.cn_bank_card import CnBankCardRecognizer
from detectors.recognizers.cn_hk_macau_permit import CnHkMacauPermitRecognizer
from detectors.recognizers.cn_passport import CnPassportRecognizer
from detectors.recognizers.cn_phone import CnPhoneRecognizer
from detectors.recognizers.cn_resident_id import CnResidentIdRecognizer
from detectors.recognizers.credit_card import CreditCardRecognizer
from detectors.recognizers.email_address import EmailAddressRecognizer
from detectors.recognizers.hk_id import HkIdRecognizer
from detectors.recognizers.tw_id import TwIdRecognizer

RECOGNIZER_CLASSES: tuple[type[CnPatternRecognizer], ...] = (
    CnResidentIdRecognizer,
    CnBankCardRecognizer,
    CnPhoneRecognizer,
    EmailAddressRecognizer,
    CreditCardRecognizer,
    CnPassportRecognizer,
    CnHkMacauPermitRecognizer,
    HkIdRecognizer,
    TwIdRecognizer,
)
ENTITIES: tuple[str, ...] = tuple(cls.ENTITY for cls in RECOGNIZER_CLASSES)

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
    "RECOGNIZER_CLASSES",
    "CnBankCardRecognizer",
    "CnHkMacauPermitRecognizer",
    "CnPassportRecognizer",
    "CnPatternRecognizer",
    "CnPhoneRecognizer",
    "CnResidentIdRecognizer",
    "CreditCardRecognizer",
    "EmailAddressRecognizer",
    "HkIdRecognizer",
    "TwIdRecognizer",
    "has_candidate",
    "to_halfwidth",
]
