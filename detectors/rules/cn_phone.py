"""CN_PHONE: mainland Chinese mobile and landline numbers, validated with ``phonenumbers``.

Formats found in forms (source: /work/shared/reference/cn-pii.md), full-width forms included:

- mobiles ``13812345678``, ``138 1234 5678``, ``138-1234-5678``, with ``+86``, ``0086``,
  ``(+86)`` or ``86-`` / ``86 `` before them;
- landlines with a literal leading ``0`` or a ``+86``/``0086`` prefix: ``010-12345678``,
  ``(010)12345678``, ``（0755）12345678``, ``0755 1234 5678``, ``+86-10-12345678``;
- extensions after ``转``, ``分机``, ``ext``/``ext.``, ``x``, ``#`` or ``-`` (kept in the match,
  removed before parsing).

One candidate regex finds these; Google's ``phonenumbers`` CN metadata (mobile segments,
per-area landline lengths) then decides through ``parse`` + ``is_valid_number``.
``PhoneNumberMatcher`` is not used: it is much slower. Not phones: numbers inside longer digit
runs or glued to ASCII letters (``a13812345678f``, 13-digit millisecond timestamps, 13-digit IoT
numbers), 400/800 business numbers (shared-cost and toll-free types), 149 data-card numbers.

Scores: a valid personal number (mobile or fixed line) scores 1.0. Placeholders score 0.3 so
they are reported only in a field or after a label that says "phone": ``13800138000`` is China
Mobile's own customer-service number and the usual filler in Chinese form examples, and numbers
whose last eight digits repeat one digit (``13888888888``) are far more often typed as filler
than owned; a real owner of such a vanity number is still protected wherever context says phone.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import ClassVar

import phonenumbers
from phonenumbers import PhoneNumberType

from detectors.rules.base import NUMBER_FAMILY, PatternRules, PatternSpec, digits_only

# The leading look-ahead names the possible first characters so that re can skip ahead to them
# (5-10x faster on long text than starting with the look-behind guard).
PHONE_REGEX = (
    r"(?=[(+0-9])(?<![0-9A-Za-z+])"
    r"(?:(?P<cc>\( ?(?:\+|00)86 ?\)|(?:\+|00)86|86(?=[ -]?1[3-9]))[ -]?)?"
    r"(?:(?P<mobile>1[3-9][0-9](?P<ms>[ -]?)[0-9]{4}(?P=ms)[0-9]{4})"
    r"|(?P<area>\( ?0?[1-9][0-9]{1,2} ?\)|\(0\)[1-9][0-9]{1,2}|0?[1-9][0-9]{1,2})[ -]?"
    r"(?P<local>[0-9]{3,4}[ -]?[0-9]{4}))"
    r"(?:(?: ?(?:转|分机|ext\.?|x|#) ?|-)(?P<ext>[0-9]{1,6}))?"
    r"(?![0-9A-Za-z])"
)
_PHONE_RE = re.compile(PHONE_REGEX, re.IGNORECASE)

# Types a personal number has; 400/800 numbers are SHARED_COST / TOLL_FREE, others are services.
# A landline-shaped match must be a fixed line: "0" + a mobile parses as that mobile (trunk
# prefix), but it is far more often a digit glued in front of one.
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_FIXED_TYPES = frozenset({PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
PLACEHOLDER_SCORE = 0.3
_SERVICE_PLACEHOLDERS = frozenset({"13800138000"})
# CN's national prefix for parsing is "(1(?:[12]\d|79)\d\d)|0": carrier selection codes.
_CARRIER_PREFIX = re.compile(r"1(?:[12][0-9]|79)[0-9][0-9]")
_MOBILE_DIGITS = re.compile(r"1[3-9][0-9]{9}")


def is_placeholder_mobile(number: str) -> bool:
    """True for a well-known filler mobile (see the module docstring)."""
    return number in _SERVICE_PLACEHOLDERS or len(set(number[3:])) == 1


def national_number(match: re.Match[str]) -> tuple[str, bool] | None:
    """The number to parse (``+86...`` or a national one) and whether it is a mobile, from a
    :data:`PHONE_REGEX` match; None when it cannot be a Chinese personal number."""
    if match.group("mobile"):
        return digits_only(match.group("mobile")), True
    area = digits_only(match.group("area"))
    local = digits_only(match.group("local"))
    if match.group("cc"):
        return "+86" + area.lstrip("0") + local, False
    if not area.startswith("0"):  # a landline needs a literal trunk 0 or a country code
        return None
    return area + local, False


def is_personal_number(number: str, mobile: bool) -> bool:
    """True when ``phonenumbers`` calls ``number`` a valid CN mobile (``mobile``) or fixed line.

    ``number`` is ``+86`` and a national number, or a national number (mobiles as 11 digits,
    landlines with their trunk ``0``), as :func:`national_number` gives it.
    """
    significant = _significant_number(number)
    if significant is None:
        return _parsed_is_personal(number, mobile)
    kind = cn_number_type(significant)
    return kind in (_MOBILE_TYPES if mobile else _FIXED_TYPES)


def _parsed_is_personal(number: str, mobile: bool) -> bool:
    """:func:`is_personal_number` through ``phonenumbers.parse`` (the reference; ~5x slower)."""
    try:
        parsed = phonenumbers.parse(number, "CN")
    except phonenumbers.NumberParseException:
        return False
    return (
        parsed.country_code == 86
        and phonenumbers.is_valid_number(parsed)
        and phonenumbers.number_type(parsed) in (_MOBILE_TYPES if mobile else _FIXED_TYPES)
    )


def _significant_number(number: str) -> str | None:
    """The national significant number ``phonenumbers.parse(number, "CN")`` would find, or None
    when parsing might do more than drop ``+86`` / the trunk ``0`` (CN's prefix for parsing also
    strips a ``0`` after ``+86`` and carrier codes ``1[12]xx`` / ``179xx``: such numbers take
    the parsing path). Parsing keeps a trunk ``0`` before fewer than 7 digits, which no
    number type matches either way."""
    if number.startswith("+86"):
        rest = number[3:]
    elif number.startswith("0"):
        rest = number[1:]
    elif _MOBILE_DIGITS.fullmatch(number):
        rest = number
    else:
        return None  # e.g. "86..." may be read with its country code
    if not rest.isdigit() or not rest.isascii() or rest[0] == "0" or _CARRIER_PREFIX.match(rest):
        return None
    return rest


class _NumberTypes:
    """CN metadata of ``phonenumbers`` compiled once: ``number_type`` without ``parse``."""

    def __init__(self) -> None:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
        if metadata is None:  # pragma: no cover - the package ships CN metadata
            raise LookupError("phonenumbers has no CN metadata")
        self.same_mobile_and_fixed = bool(metadata.same_mobile_and_fixed_line_pattern)
        self.general = self._desc(metadata.general_desc)
        self.special = [
            (kind, self._desc(getattr(metadata, attr)))
            for attr, kind in (
                ("premium_rate", PhoneNumberType.PREMIUM_RATE),
                ("toll_free", PhoneNumberType.TOLL_FREE),
                ("shared_cost", PhoneNumberType.SHARED_COST),
                ("voip", PhoneNumberType.VOIP),
                ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
                ("pager", PhoneNumberType.PAGER),
                ("uan", PhoneNumberType.UAN),
                ("voicemail", PhoneNumberType.VOICEMAIL),
            )
        ]
        self.fixed = self._desc(metadata.fixed_line)
        self.mobile = self._desc(metadata.mobile)

    @staticmethod
    def _desc(desc: object) -> tuple[frozenset[int], re.Pattern[str]] | None:
        pattern = getattr(desc, "national_number_pattern", None)
        if not pattern:
            return None
        return frozenset(getattr(desc, "possible_length", ()) or ()), re.compile(pattern)

    @staticmethod
    def _matches(number: str, desc: tuple[frozenset[int], re.Pattern[str]] | None) -> bool:
        if desc is None:
            return False
        lengths, pattern = desc
        if lengths and len(number) not in lengths:
            return False
        return pattern.fullmatch(number) is not None

    def type_of(self, number: str) -> int:
        """The ``PhoneNumberType`` of a CN national significant number (same order of tests as
        ``phonenumbers``' own type lookup)."""
        if not self._matches(number, self.general):
            return PhoneNumberType.UNKNOWN
        for kind, desc in self.special:
            if self._matches(number, desc):
                return kind
        if self._matches(number, self.fixed):
            if self.same_mobile_and_fixed or self._matches(number, self.mobile):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if not self.same_mobile_and_fixed and self._matches(number, self.mobile):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN


@lru_cache(maxsize=1)
def _number_types() -> _NumberTypes:
    return _NumberTypes()


def cn_number_type(significant: str) -> int:
    """``phonenumbers.number_type`` of a CN national significant number (digits without +86 or
    trunk 0), from the CN metadata compiled once; UNKNOWN for an invalid number."""
    return _number_types().type_of(significant)


class CnPhoneRules(PatternRules):
    """Recognize Chinese mobile and landline numbers."""

    ENTITY: ClassVar[str] = "CN_PHONE"
    NAME: ClassVar[str] = "CnPhoneRecognizer"
    FLAGS: ClassVar[int] = re.IGNORECASE
    PATTERNS: ClassVar[list[PatternSpec]] = [PatternSpec("CN phone (weak)", PHONE_REGEX, 0.3)]
    FAMILY_CHECK: ClassVar[re.Pattern[str] | None] = NUMBER_FAMILY
    # A personal number has 10 to 16 digits (a mobile 11, "0" + area + local at least 10,
    # "0086" + "0755" + 8 at most 16; an extension follows a separator) with at most 5 of
    # " ()+-" between two of them ("(+86) (010)" has " ) ( "); its first digit never follows a
    # letter or digit, and a digit never follows its last one (so an 18-digit ID is no phone).
    QUICK_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(
        r"[0-9](?<![0-9A-Za-z][0-9])(?:[ ()+\-]{0,5}[0-9]){9,15}(?![0-9])"
    )
    SOLO_CHECK: ClassVar[re.Pattern[str] | None] = QUICK_CHECK
    # 10 ("0" + 2-digit area + 7) .. 16 ("0086" + "0755" + 8) digits when written without any
    # separator.
    DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset(range(10, 17))
    SOLO_DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = DIGIT_LENGTHS
    # Without separators: a mobile (after 86 or 0086), a landline after its trunk 0, or 0086
    # and a landline (a 13-digit millisecond timestamp is none of these).
    DIGITS_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(
        r"(?:0086|86)?1[3-9][0-9]{9}|0[1-9][0-9]{8,10}|0086[0-9]{9,12}"
    )
    CONTEXT: ClassVar[list[str]] = [
        "手机", "手机号", "手机号码", "电话", "联系电话", "联系方式", "座机", "电话号码",
        "移动电话", "固话", "联系人电话", "手機", "電話",
        "sjh", "sjhm", "lxdh", "lxfs", "dh", "dhhm", "mobile", "phone", "tel", "telephone",
        "mobilephone", "phoneno", "phonenumber", "mobileno", "cellphone", "cell", "contact",
        "msisdn",
    ]  # fmt: skip

    def load(self) -> None:
        """Compile the CN numbering plan now, not on the first phone number."""
        cn_number_type("1")

    def score_candidate(self, value: str, pattern: PatternSpec) -> float:
        """1.0 for a valid personal number, 0.3 for a placeholder mobile, else 0 (dropped)."""
        match = _PHONE_RE.fullmatch(value)
        if match is None:
            return 0.0
        found = national_number(match)
        if found is None:
            return 0.0
        number, mobile = found
        if not is_personal_number(number, mobile):
            return 0.0
        if mobile and is_placeholder_mobile(number):
            return PLACEHOLDER_SCORE
        return 1.0

    def validate_result(self, pattern_text: str) -> bool | None:
        """Presidio-style answer: True for a valid personal number, False otherwise."""
        match = _PHONE_RE.fullmatch(pattern_text)
        found = national_number(match) if match else None
        return found is not None and is_personal_number(*found)
