"""formshield's Presidio recognizers: one entity's rules (:mod:`detectors.rules`) each.

Register them with a plain Presidio ``AnalyzerEngine`` (:mod:`detectors.registry`). Every class
lists its rules first, then :class:`~detectors.recognizers.base.CnPatternRecognizer`, so a
recognizer matches, validates and scores exactly as the proxy's scanner does with the rules
alone. The formats, sources and scores are documented in each rules module.
"""

from __future__ import annotations

from presidio_analyzer.predefined_recognizers import EmailRecognizer

from detectors.recognizers.base import CnPatternRecognizer, apply_context
from detectors.rules.cn_bank_card import CnBankCardRules
from detectors.rules.cn_hk_macau_permit import CnHkMacauPermitRules
from detectors.rules.cn_passport import CnPassportRules
from detectors.rules.cn_phone import CnPhoneRules
from detectors.rules.cn_resident_id import CnResidentIdRules
from detectors.rules.credit_card import CreditCardRules
from detectors.rules.email_address import EmailAddressRules
from detectors.rules.hk_id import HkIdRules
from detectors.rules.tw_id import TwIdRules


class CnResidentIdRecognizer(CnResidentIdRules, CnPatternRecognizer):
    """CN_RESIDENT_ID: resident ID cards (18 characters, legacy 15 digits) and residence permits."""


class CnBankCardRecognizer(CnBankCardRules, CnPatternRecognizer):
    """CN_BANK_CARD: UnionPay and Chinese bank cards (Luhn, issuer prefixes)."""


class CnPhoneRecognizer(CnPhoneRules, CnPatternRecognizer):
    """CN_PHONE: mainland mobile and landline numbers."""


# EmailRecognizer's PATTERNS holds Presidio Patterns, the rules' hold PatternSpecs (the same
# fields); the rules' come first in the MRO and are the ones used.
class EmailAddressRecognizer(  # type: ignore[misc]
    EmailAddressRules, CnPatternRecognizer, EmailRecognizer
):
    """EMAIL_ADDRESS, next to CJK text too; a Presidio ``EmailRecognizer``."""


class CreditCardRecognizer(CreditCardRules, CnPatternRecognizer):
    """CREDIT_CARD: international card brands (Luhn)."""


class CnPassportRecognizer(CnPassportRules, CnPatternRecognizer):
    """CN_PASSPORT (needs context)."""


class CnHkMacauPermitRecognizer(CnHkMacauPermitRules, CnPatternRecognizer):
    """CN_HK_MACAU_PERMIT: home-return permits (needs context)."""


class HkIdRecognizer(HkIdRules, CnPatternRecognizer):
    """HK_ID: Hong Kong identity cards (needs context)."""


class TwIdRecognizer(TwIdRules, CnPatternRecognizer):
    """TW_ID: Taiwan national IDs (needs context)."""


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

__all__ = [
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
    "apply_context",
]
