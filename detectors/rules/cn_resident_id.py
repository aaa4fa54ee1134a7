"""CN_RESIDENT_ID: Chinese Resident Identity Card numbers (GB 11643-1999) and their relatives.

Formats (source: GB 11643-1999, GB/T 2260, /work/shared/reference/cn-pii.md):

- 18 characters: 6-digit address code, birth date ``YYYYMMDD``, 3-digit sequence (odd = male),
  check character by ISO 7064 MOD 11-2 (``0-9`` or ``X``; forms also send ``x`` and full-width
  digits, read through :func:`detectors.rules.base.to_halfwidth`).
- Residence permits of Hong Kong, Macau and Taiwan residents: address code 810000, 820000,
  830000, same layout and check.
- Foreign permanent resident ID card (2023): ``9`` + 2-digit province of issue + 3-digit
  nationality, then the same birth date, sequence and check.
- Any 18-character form may be written in groups 6-8-4 with spaces or dashes
  (``110105 19491231 002X``).
- Legacy 15 digits: address code, ``YYMMDD`` (19YY), 3-digit sequence, no check digit (invalid
  since 2013, still stored by old systems).

Scores: an 18-character number with the right check character, a real birth date
(1900-01-01..today) and a province prefix in use scores 1.0 on its own (1.35e-5 of random
18-digit strings get that far). A wrong check character or an impossible date drops the match.
A right check and date with an unknown prefix keeps 0.3 (needs context). Legacy 15-digit numbers
need context: 0.3 when python-stdnum's GB/T 2260 table knows the county, 0.2 otherwise (it is an
extra signal only: the table is incomplete and its lookups are guarded).
"""

from __future__ import annotations

import datetime
import functools
import operator
import re
import time
from typing import ClassVar

from detectors.rules.base import NUMBER_FAMILY, PatternRules, PatternSpec

# Province-level prefixes in use (cn-pii.md): 11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81-83.
PROVINCES: frozenset[str] = frozenset(
    [f"{n}" for n in range(11, 16)]
    + [f"{n}" for n in range(21, 24)]
    + [f"{n}" for n in range(31, 38)]
    + [f"{n}" for n in range(41, 47)]
    + [f"{n}" for n in range(50, 55)]
    + [f"{n}" for n in range(61, 66)]
    + ["71", "81", "82", "83"]
)
# Residence permits use these exact address codes.
PERMIT_CODES: frozenset[str] = frozenset({"810000", "820000", "830000"})

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"

_DATE8 = r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_DATE6 = r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
# The guard "no digit before" is written after the first character ([1-9] then a 2-character
# look-behind) so that re can skip ahead to candidate characters: 2-3x faster on long text.
_ID18 = r"[1-9](?<![0-9][1-9])[0-9]{5}" + _DATE8 + r"[0-9]{3}[0-9Xx](?![0-9])"
_ID15 = r"[1-9](?<![0-9][1-9])[0-9]{5}" + _DATE6 + r"[0-9]{3}(?![0-9Xx])"
# Written in groups as printed on some forms: 6-8-4 with one kind of separator (space or dash).
_ID18_GROUPED = r"[1-9](?<![0-9][1-9])[0-9]{5}([ -])" + _DATE8 + r"\1[0-9]{3}[0-9Xx](?![0-9])"
_LEN_18 = 18
_LEN_15 = 15


# sum(weight * ord(digit)) exceeds sum(weight * digit) by this much for 17 digits.
_ORD_ZERO_TOTAL = ord("0") * sum(_WEIGHTS)


def calc_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits (``0-9`` or ``X``)."""
    if len(first17) == len(_WEIGHTS) and first17.isascii() and first17.isdigit():
        # The digits' character codes, less ord("0") each: 3x faster than int() per digit.
        total = sum(map(operator.mul, first17.encode("ascii"), _WEIGHTS)) - _ORD_ZERO_TOTAL
    else:
        total = sum(map(operator.mul, map(int, first17), _WEIGHTS))
    return _CHECK_CHARS[total % 11]


_EARLIEST_BIRTH = datetime.date(1900, 1, 1)


def _today() -> datetime.date:
    """The local date, read at most once a minute (it is asked for every ID candidate)."""
    return _date_in_minute(int(time.monotonic() // 60))


@functools.lru_cache(maxsize=1)
def _date_in_minute(minute: int) -> datetime.date:
    return datetime.date.today()


def real_birth_date(year: int, month: int, day: int, today: datetime.date | None = None) -> bool:
    """True for an existing date between 1900-01-01 and ``today`` (default: the local date,
    read at most once a minute)."""
    try:
        born = datetime.date(year, month, day)
    except ValueError:
        return False
    return _EARLIEST_BIRTH <= born <= (today or _today())


def prefix_in_use(number: str) -> bool:
    """True when the address code starts like an issued card (see the module docstring)."""
    if number[0] == "9":  # foreign permanent resident card: 9 + province of issue
        return number[1:3] in PROVINCES
    if number[:2] in ("81", "82", "83"):
        return number[:6] in PERMIT_CODES
    return number[:2] in PROVINCES


def county_known(code: str) -> bool:
    """True when python-stdnum's GB/T 2260 table names the 6-digit address ``code``.

    Guarded: any failure of the lookup (missing data file, format change) answers False, which
    only lowers a score that needs context anyway.
    """
    try:
        from stdnum import numdb

        info = numdb.get("cn/loc").info(code)
        return any("county" in props for _part, props in info)
    except Exception:  # an optional signal must never break detection
        return False


class CnResidentIdRules(PatternRules):
    """Recognize Chinese resident ID numbers (18 characters, and 15-digit legacy ones)."""

    ENTITY: ClassVar[str] = "CN_RESIDENT_ID"
    NAME: ClassVar[str] = "CnResidentIdRecognizer"
    PATTERNS: ClassVar[list[PatternSpec]] = [
        PatternSpec("CN resident ID 18 (weak)", _ID18, 0.3),
        PatternSpec("CN resident ID 18 grouped 6-8-4 (weak)", _ID18_GROUPED, 0.3),
        PatternSpec("CN resident ID 15 legacy (very weak)", _ID15, 0.2),
    ]
    FAMILY_CHECK: ClassVar[re.Pattern[str] | None] = NUMBER_FAMILY
    # The patterns' shapes with their digit guards, without the date details; only
    # 18-character numbers may score 1.0 on their own.
    QUICK_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(
        r"(?<![0-9])[1-9](?:[0-9]{14}(?![0-9Xx])|[0-9]{5}(?:19|20)[0-9]{9}[0-9Xx](?![0-9])"
        r"|[0-9]{5}[ -](?:19|20)[0-9]{6}[ -][0-9]{3}[0-9Xx](?![0-9]))"
    )
    SOLO_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(
        r"(?<![0-9])[1-9](?:[0-9]{5}(?:19|20)[0-9]{9}[0-9Xx](?![0-9])"
        r"|[0-9]{5}[ -](?:19|20)[0-9]{6}[ -][0-9]{3}[0-9Xx](?![0-9]))"
    )
    DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset({_LEN_15, _LEN_18})
    DIGITS_CHECK: ClassVar[re.Pattern[str] | None] = re.compile(
        r"[1-9][0-9]{5}(?:" + _DATE8 + r"[0-9]{4}|" + _DATE6 + r"[0-9]{3})"
    )
    SOLO_DIGIT_LENGTHS: ClassVar[frozenset[int] | None] = frozenset({_LEN_18})
    CONTEXT: ClassVar[list[str]] = [
        "身份证", "身份证号", "身份证号码", "公民身份号码", "证件号", "证件号码", "居民身份证",
        "身份證", "身份证件", "居住证", "永久居留证",
        "sfz", "sfzh", "sfzhm", "zjhm", "zjh", "idcard", "idcardno", "idno", "idnumber",
        "certno", "certid", "certnum", "identity", "identitycard",
    ]  # fmt: skip

    def load(self) -> None:
        """Read python-stdnum's GB/T 2260 table now (~70 ms), not on the first legacy ID."""
        county_known("110105")

    def validate_result(self, pattern_text: str) -> bool | None:
        """True for a fully valid 18-char number; False for a wrong check or impossible date;
        None (keep the pattern score) for a right check and date with an unknown prefix and for
        15-digit numbers with a possible prefix and date."""
        number = pattern_text.upper().replace(" ", "").replace("-", "")
        if len(number) == _LEN_18:
            if calc_check_char(number[:17]) != number[17]:
                return False
            if not real_birth_date(int(number[6:10]), int(number[10:12]), int(number[12:14])):
                return False
            return True if prefix_in_use(number) else None
        if len(number) == _LEN_15:
            if number[:2] not in PROVINCES or number[:2] in ("71", "81", "82", "83"):
                return False
            year = 1900 + int(number[6:8])
            return None if real_birth_date(year, int(number[8:10]), int(number[10:12])) else False
        return False

    def score_candidate(self, value: str, pattern: PatternSpec) -> float:
        """Presidio's convention, plus the county lookup as an extra signal for 15 digits."""
        score = super().score_candidate(value, pattern)
        if 0 < score < 1.0 and len(value) == _LEN_15 and county_known(value[:6]):
            # only the contiguous 15-digit pattern yields 15 characters
            score = 0.3
        return score
