"""A seeded generator of labelled HTTP requests for measuring formshield's detection quality.

Each :class:`Sample` is a real :class:`mitmproxy.http.Request` (built with ``Request.make``) plus
the exact personal data it carries (:class:`Label`: entity type and the value as written) and the
hard negatives planted in it (:class:`Decoy`: look-alikes that are *not* personal data). The same
``(n, seed)`` always yields the same requests, so numbers from ``scripts/evaluate.py`` can be
compared across commits.

What goes in, and why (facts from ``shared/reference/cn-pii.md``):

* Positives: resident IDs (Faker zh_CN ``ssn()`` and IDs built here from real county codes, real
  dates and the ISO 7064 MOD 11-2 check character, ``X`` and ``x`` included; HK/Macau/Taiwan
  residence permits 81/82/83; legacy 15-digit IDs, always with context), bank cards (UnionPay 62
  BINs and the domestic BINs of the reference, 16-19 digits, Luhn-valid; some Luhn-invalid with a
  known BIN, always with context), CN phones (mobiles in every format of the reference, landlines
  with area codes and extensions), emails, foreign credit cards (Visa/Mastercard/Amex/JCB/Discover,
  Luhn), passports, HK/Macau home-return permits, HKID and Taiwan IDs (all four with context).
* Hard negatives: order numbers, 13-digit millisecond timestamps, ISBN-13, SF/YT waybills, hex
  ids, UUIDs, coordinates, prices, a mobile glued to letters (``a13812345678f``), 400/800 business
  numbers, 18-digit numbers with a wrong check character, session ids, mobiles buried in longer
  digit runs, ``icon@2x.png``, IMEIs and ICCIDs (Luhn-valid, 15 and 20 digits), JWTs and base64
  images. A random decoy that happens to satisfy a positive's rule (say a
  Luhn-valid run with a UnionPay BIN) is redrawn: it *would* be a card, so calling it a false
  positive would be unfair.
* Containers: query string (and rarely a URL path segment), urlencoded forms in UTF-8 and GBK
  (with and without ``charset=``), multipart (text parts, a text file part, a JSON part), nested
  JSON with arrays, GraphQL variables, ``text/plain`` beacons (Chinese labels, JSON or key=value),
  with gzip/br/zstd ``Content-Encoding`` on some bodies.
* Value layers (outermost first in :attr:`Label.encodings`), at most 3 per value: ``percent``
  (applied once or twice), ``base64``, ``base64url``, ``html`` (``&#NN;``/``&#xNN;`` char refs),
  ``unicode_escape`` (``\\uXXXX``), and wrappers that put the value inside another document:
  ``json`` (a JSON object in a field), ``urlencoded`` (``a=b&c=d`` in a field) and ``label``
  (Chinese label text such as ``身份证号：...``). A layer that does not change the text (percent
  of bare digits) is not recorded.

Scoring semantics (used by ``scripts/evaluate.py``): labels are unique per request by
``(entity_type, normalize(entity_type, value))``; a finding matches a label when its type is in
the label's family (:func:`same_family`) and its normalised value is equal.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import re
import unicodedata
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import brotli
import phonenumbers
import zstandard
from faker import Faker
from mitmproxy import http
from stdnum import luhn
from stdnum.cn import ric

# The entity types the corpus labels (formshield's names). Everything else a scanner reports is
# out of scope for scoring.
ENTITIES: tuple[str, ...] = (
    "CN_RESIDENT_ID",
    "CN_BANK_CARD",
    "CN_PHONE",
    "EMAIL_ADDRESS",
    "CREDIT_CARD",
    "CN_PASSPORT",
    "CN_HK_MACAU_PERMIT",
    "HK_ID",
    "TW_ID",
)

# A card is a card: a Visa co-branded by a Chinese bank may be reported as either type without
# anything leaking, so both count for a card label (evaluate reports type mismatches apart).
_FAMILY = {"CN_BANK_CARD": "CARD", "CREDIT_CARD": "CARD"}

BODY_FORMATS: tuple[str, ...] = (
    "query",
    "form-utf8",
    "form-gbk",
    "form-gbk-nocharset",
    "multipart",
    "json",
    "graphql",
    "beacon",
)


@dataclass(frozen=True, slots=True)
class Label:
    """One piece of personal data a request carries.

    ``value`` is the text as written before any value layer (e.g. ``+86 138 1234 5678``);
    ``location`` names where it sits (``form.idNo``, ``json.data.contacts[1].tel``, ``body``,
    ``multipart.resume.txt``, ``path``); ``encodings`` are the value layers, outermost first;
    ``context`` is the field name or text label next to it (None under a neutral name);
    ``variant`` says which generator made it (``faker``, ``built``, ``legacy15``,
    ``luhn_invalid``, ``landline``, ...).
    """

    entity_type: str
    value: str = field(repr=False)
    location: str = ""
    encodings: tuple[str, ...] = ()
    context: str | None = None
    variant: str = ""


@dataclass(frozen=True, slots=True)
class Decoy:
    """A planted look-alike that is not personal data (``kind`` e.g. ``ms_timestamp``)."""

    kind: str
    value: str = field(repr=False)
    location: str = ""


@dataclass(slots=True)
class Sample:
    """One labelled request."""

    index: int
    request: http.Request
    labels: tuple[Label, ...]
    decoys: tuple[Decoy, ...]
    body_format: str
    content_encoding: str | None


# --------------------------------------------------------------------------------------------
# Normalisation and matching


_PHONE_EXT = re.compile(r"(转|分机|ext\.?|x|#|,).*$", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")
_NON_DIGIT = re.compile(r"\D")


def normalize(entity_type: str, value: str) -> str:
    """Return the comparison key of a value: NFKC, separators dropped, upper case.

    Phones drop an extension and the country prefix (``+86``, ``0086``, ``86-``) and the trunk
    ``0``, so ``+86-10-12345678`` and ``(010)12345678`` compare equal. Emails compare lower case.
    """
    text = unicodedata.normalize("NFKC", value).strip()
    if entity_type == "EMAIL_ADDRESS":
        return text.lower()
    if entity_type == "CN_PHONE":
        text = _PHONE_EXT.sub("", text)
        had_plus = text.lstrip("(（ ").startswith("+")
        digits = _NON_DIGIT.sub("", text)
        if digits.startswith("0086"):
            digits = digits[4:]
        elif digits.startswith("86") and (had_plus or len(digits) >= 12):
            digits = digits[2:]
        return digits.lstrip("0")
    return _NON_ALNUM.sub("", text).upper()


def same_family(label_type: str, finding_type: str) -> bool:
    """True when a finding of ``finding_type`` may stand for a label of ``label_type``."""
    if label_type == finding_type:
        return True
    family = _FAMILY.get(label_type)
    return family is not None and family == _FAMILY.get(finding_type)


# --------------------------------------------------------------------------------------------
# Reference data (shared/reference/cn-pii.md) and check characters

# Real county-level codes (GB/T 2260) across the province prefixes in use, and the residence
# permit prefixes for HK/Macau/Taiwan residents.
_COUNTIES = (
    "110101", "110105", "110108", "120101", "120104", "130102", "130602", "140105", "150102",
    "210102", "210202", "220102", "230102", "310101", "310104", "310115", "320102", "320505",
    "330106", "330212", "340104", "350102", "350203", "360102", "360426", "370102", "370202",
    "410105", "412723", "420106", "430104", "440106", "440113", "440305", "450103", "460105",
    "500103", "510107", "520102", "530102", "540102", "610113", "620102", "630102", "640104",
    "650102",
)  # fmt: skip
_PERMIT_PREFIXES = ("810000", "820000", "830000")
_PROVINCES = frozenset((
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
    "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
    "63", "64", "65", "71", "81", "82", "83", "91",
))  # fmt: skip

# Bank BINs: UnionPay 62 (ICBC, ABC, CCB, CMB, BOC, ...) and domestic BINs outside 62, with the
# lengths those banks issue.
_CN_BINS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("622202", (19,)),
    ("621226", (19,)),
    ("622848", (19,)),
    ("621700", (19,)),
    ("622700", (19,)),
    ("622588", (16,)),
    ("621483", (16,)),
    ("621661", (19,)),
    ("623668", (19,)),
    ("625965", (16,)),
    ("628288", (16,)),
    ("620200", (16, 17, 18)),
    ("627066", (19,)),
    ("6282", (16,)),
    ("6291", (16, 19)),
    ("81", (16, 19)),
    ("95588", (19,)),
    ("95599", (19,)),
    ("955100", (19,)),
    ("601382", (16, 19)),
    ("603367", (19,)),
    ("436742", (16, 19)),
)
# Card number ranges of the payment networks (ISO/IEC 7812 issuer ranges as the networks publish
# them) with the lengths they issue. A Luhn-valid run inside one of these *is* a plausible card,
# so a random decoy that lands there is redrawn rather than scored as a false positive.
_CARD_RANGES: tuple[tuple[re.Pattern[str], range], ...] = (
    (re.compile(r"4"), range(13, 20, 3)),  # Visa 13/16/19
    (re.compile(r"5[1-5]|222[1-9]|22[3-9]|2[3-6]|27[01]|2720"), range(16, 17)),  # Mastercard
    (re.compile(r"3[47]"), range(15, 16)),  # Amex
    (re.compile(r"6011|64[4-9]|65"), range(16, 20)),  # Discover
    (re.compile(r"352[89]|35[3-8]"), range(16, 20)),  # JCB
    (re.compile(r"30[0-5]|3[689]"), range(14, 20)),  # Diners
    (re.compile(r"5[06-9]|6"), range(12, 20)),  # Maestro
    (re.compile(r"220[0-4]"), range(16, 20)),  # Mir
    (re.compile(r"62|81"), range(14, 20)),  # UnionPay
    (re.compile(r"9558|9559|955100|603367|9111|966666|998800"), range(16, 20)),  # CN domestic
)


def _card_shaped(digits: str) -> bool:
    return any(p.match(digits) and len(digits) in lengths for p, lengths in _CARD_RANGES)


# Foreign test and generated credit cards: (prefix, length).
_FOREIGN_TEST_CARDS = (
    "4111111111111111",
    "4012888888881881",
    "4242424242424242",
    "5555555555554444",
    "5105105105105100",
    "2221000000000009",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "3530111333300000",
)
_FOREIGN_PREFIXES: tuple[tuple[str, int], ...] = (
    ("4", 16),
    ("51", 16),
    ("53", 16),
    ("55", 16),
    ("2223", 16),
    ("2720", 16),
    ("34", 15),
    ("37", 15),
    ("3528", 16),
    ("3589", 16),
    ("6011", 16),
)

_MOBILE_SEGMENTS = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147", "150",
    "151", "152", "153", "155", "156", "157", "158", "159", "162", "165", "166", "167", "170",
    "171", "172", "173", "175", "176", "177", "178", "180", "181", "182", "183", "184", "185",
    "186", "187", "188", "189", "190", "191", "192", "193", "195", "196", "197", "198", "199",
)  # fmt: skip
# Area codes with their local number lengths.
_AREA_CODES: tuple[tuple[str, int], ...] = (
    ("10", 8),
    ("20", 8),
    ("21", 8),
    ("22", 8),
    ("23", 8),
    ("24", 8),
    ("25", 8),
    ("27", 8),
    ("28", 8),
    ("29", 8),
    ("755", 8),
    ("571", 8),
    ("512", 8),
    ("731", 8),
    ("351", 7),
    ("311", 8),
)

_HK_LETTERS = "ABCDEFGHJKMNPRTVWYZ"
_TW_LETTER_CODES = {
    "A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "I": 34, "J": 18,
    "K": 19, "L": 20, "M": 21, "N": 22, "O": 35, "P": 23, "Q": 24, "R": 25, "S": 26, "T": 27,
    "U": 28, "V": 29, "W": 32, "X": 30, "Y": 31, "Z": 33,
}  # fmt: skip


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits of a resident ID."""
    # stdnum's calc_check_digit takes the whole number and ignores its last character.
    return str(ric.calc_check_digit(first17 + "0"))


def hkid_check(prefix: str, digits: str) -> str:
    """HKID check character (mod 11; ``A`` for 10): letters A=10..Z=35, a space pads one letter."""
    letters = prefix.rjust(2)
    values = [36 if c == " " else ord(c) - ord("A") + 10 for c in letters]
    values += [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


def twid_check(letter: str, body8: str) -> str:
    """Taiwan ID check digit for letter + 8 digits (gender digit first), weights 1 9 8..1."""
    code = _TW_LETTER_CODES[letter]
    total = code // 10 + (code % 10) * 9
    total += sum(int(d) * w for d, w in zip(body8, range(8, 0, -1), strict=True))
    return str((10 - total % 10) % 10)


def _valid_mobile(digits: str) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse("+86" + digits)))
    except phonenumbers.NumberParseException:
        return False


def _valid_id18(text: str) -> bool:
    if not re.fullmatch(r"\d{17}[\dXx]", text) or text[:2] not in _PROVINCES:
        return False
    try:
        born = datetime.strptime(text[6:14], "%Y%m%d").date()
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today() and id_check_char(text[:17]) == text[17].upper()


def _valid_legacy15(text: str) -> bool:
    if not re.fullmatch(r"\d{15}", text) or text[:2] not in _PROVINCES:
        return False
    try:
        datetime.strptime("19" + text[6:12], "%Y%m%d")
    except ValueError:
        return False
    return True


def plausible_positive(text: str) -> bool:
    """True when some alphanumeric run of ``text`` satisfies a positive rule of the reference.

    Used to redraw random decoys and filler that would otherwise *be* personal data: a valid
    mobile (also after ``0``/``86``), a landline with trunk ``0``, a Luhn-valid run in a card
    network's range and length, an 18-character ID (check, date, province) or a 15-digit legacy
    ID shape.
    Runs glued to letters are not considered (the reference says those are not phones).
    """
    for run in re.findall(r"(?<![0-9A-Za-z])\d[\dXx]*(?![0-9A-Za-z])", text):
        digits = run.rstrip("Xx")
        if len(run) == 18 and _valid_id18(run):
            return True
        if run != digits:
            continue
        if len(digits) == 15 and _valid_legacy15(digits):
            return True
        if 12 <= len(digits) <= 19 and _card_shaped(digits) and luhn.is_valid(digits):
            return True
        for stripped in (digits, digits[1:], digits[2:], digits[4:]):
            if len(stripped) == 11 and stripped.startswith("1") and _valid_mobile(stripped):
                return True
        if digits.startswith("0") and 10 <= len(digits) <= 12:
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(digits, "CN")):
                    return True
            except phonenumbers.NumberParseException:
                pass
    return False


# --------------------------------------------------------------------------------------------
# Field names and labels

_CONTEXT_NAMES: dict[str, tuple[str, ...]] = {
    "CN_RESIDENT_ID": ("idNo", "sfzh", "certNo", "idCard", "idCardNo", "id_no", "zjhm", "sfzhm"),
    "CN_BANK_CARD": ("bankCardNo", "yhkh", "cardNo", "acctNo", "bankAccount", "yhk", "bank_card"),
    "CN_PHONE": ("mobile", "sjhm", "tel", "phone", "mobilePhone", "lxdh", "contactPhone", "sjh"),
    "EMAIL_ADDRESS": ("email", "mail", "userEmail", "contactEmail", "yx"),
    "CREDIT_CARD": ("cardNumber", "creditCard", "ccNumber", "card_number", "xykh"),
    "CN_PASSPORT": ("passportNo", "hzhm", "passport", "passport_no"),
    "CN_HK_MACAU_PERMIT": ("permitNo", "hxzh", "hkMacauPermitNo", "homeReturnPermit"),
    "HK_ID": ("hkid", "hkIdNo", "hk_id_card"),
    "TW_ID": ("twId", "twIdNo", "tw_id_card"),
}
_TEXT_LABELS: dict[str, tuple[str, ...]] = {
    "CN_RESIDENT_ID": ("身份证号：", "身份证号码:", "公民身份号码 ", "证件号码："),
    "CN_BANK_CARD": ("银行卡号：", "卡号:", "银行账号："),
    "CN_PHONE": ("手机号：", "联系电话：", "手机号码 ", "电话:"),
    "EMAIL_ADDRESS": ("邮箱：", "电子邮箱:"),
    "CREDIT_CARD": ("信用卡号：", "Credit card: "),
    "CN_PASSPORT": ("护照号码：", "护照号:"),
    "CN_HK_MACAU_PERMIT": ("港澳居民来往内地通行证号码：", "回乡证号码："),
    "HK_ID": ("香港身份证号码：", "HKID: "),
    "TW_ID": ("台湾身份证号：", "台湾身分证字号："),
}
_NEUTRAL_NAMES = (
    "q", "data", "payload", "v", "value", "input", "text", "content", "remark", "memo", "info",
    "extra", "orderId", "s", "k", "p1", "field_3", "answer",
)  # fmt: skip
_DECOY_NAMES: dict[str, tuple[str, ...]] = {
    "order_no": ("orderId", "orderNo", "out_trade_no", "ddh"),
    "ms_timestamp": ("ts", "timestamp", "_t", "time"),
    "isbn": ("isbn", "bookIsbn", "q"),
    "waybill": ("waybillNo", "mailNo", "ydh", "trackingNo"),
    "hex_id": ("traceId", "requestId", "oid", "_id"),
    "uuid": ("uuid", "deviceId", "nonce", "rid"),
    "coordinates": ("location", "latlng", "loc"),
    "price": ("price", "amount", "total", "je"),
    "glued_phone": ("token", "ref", "code", "sign"),
    "business_phone": ("servicePhone", "hotline", "kfdh", "tel400"),
    "wrong_check_id": ("seq", "serialNo", "v", "traceNo"),
    "random18": ("seq", "batchNo", "txnId", "data"),
    "session_id": ("sid", "sessionId", "JSESSIONID", "PHPSESSID"),
    "embedded_phone": ("bizNo", "traceNo", "refNo", "v"),
    "image_at_2x": ("icon", "img", "avatarUrl"),
    "imei": ("imei", "deviceId", "did"),
    "iccid": ("iccid", "simId"),
    "jwt": ("token", "access_token", "jwt"),
    "base64_image": ("avatar", "image", "imgData"),
}
_WRAP_KEYS = ("data", "payload", "ext", "info", "params", "bizContent", "d", "body")
_BENIGN_TEXT_LABELS = ("备注：", "留言：", "说明：", "note: ")

_HOSTS = (
    "passport.example-shop.cn",
    "api.example-bank.com.cn",
    "www.example-gov.cn",
    "m.example-travel.com",
    "h5.example-insure.cn",
    "log.example-analytics.com",
    "apply.example-loan.cn",
)
_PATHS = (
    "/api/v1/user/register",
    "/api/account/bind",
    "/member/profile/save",
    "/order/submit",
    "/loan/apply",
    "/collect",
    "/kyc/verify",
    "/service/form.do",
)


# --------------------------------------------------------------------------------------------
# Value layers

_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def to_fullwidth(text: str) -> str:
    """Full-width forms of ASCII digits and capitals (what some Chinese IMEs type)."""
    return "".join(_FULLWIDTH.get(c, c) for c in text)


def _percent(text: str, rng: random.Random) -> str:
    return urllib.parse.quote(text, safe="")


def _b64(text: str, rng: random.Random) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _b64url(text: str, rng: random.Random) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _html(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "".join(f"&#{ord(c)};" for c in text)
    return "".join(f"&#x{ord(c):x};" for c in text)


def _uescape(text: str, rng: random.Random) -> str:
    out = []
    for c in text:
        code = ord(c)
        if code > 0xFFFF:  # surrogate pair, as JavaScript writes it
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


_ENCODERS: dict[str, Callable[[str, random.Random], str]] = {
    "percent": _percent,
    "base64": _b64,
    "base64url": _b64url,
    "html": _html,
    "unicode_escape": _uescape,
}
# Weighted choice of an encoder (base64 and percent are by far the most common in the wild).
_ENCODER_WEIGHTS = (
    ("percent", 4),
    ("base64", 4),
    ("base64url", 2),
    ("html", 1),
    ("unicode_escape", 1),
)


# --------------------------------------------------------------------------------------------
# The generator


@dataclass(slots=True)
class _Item:
    """A value to place: personal data (``entity``) or a decoy (``decoy_kind``)."""

    value: str
    entity: str | None = None
    decoy_kind: str | None = None
    variant: str = ""
    needs_context: bool = False


@dataclass(slots=True)
class _Entry:
    """A named value ready for a container, with the items it carries and their layers."""

    name: str
    text: str
    items: list[tuple[_Item, tuple[str, ...], str | None]]  # item, encodings, context


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.faker = Faker("zh_CN")
        self.faker.seed_instance(seed)

    # ---- small helpers
    def digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def birth_date(self, lo: int = 1935, hi: int = 2015) -> date:
        start = date(lo, 1, 1)
        return start + timedelta(days=self.rng.randrange((date(hi, 12, 31) - start).days))

    def luhn_complete(self, prefix: str, length: int) -> str:
        body = prefix + self.digits(length - len(prefix) - 1)
        return body + luhn.calc_check_digit(body)

    # ---- positives
    def resident_id(self) -> _Item:
        r = self.rng.random()
        if r < 0.3:
            return _Item(self.faker.ssn(), "CN_RESIDENT_ID", variant="faker")
        if r < 0.38:
            # Legacy 15-digit: address + YYMMDD + sequence; only meaningful with context.
            born = self.birth_date(1935, 1999)
            value = self.rng.choice(_COUNTIES) + born.strftime("%y%m%d") + self.digits(3)
            return _Item(value, "CN_RESIDENT_ID", variant="legacy15", needs_context=True)
        region = self.rng.choice(_PERMIT_PREFIXES) if r < 0.45 else self.rng.choice(_COUNTIES)
        want_x = self.rng.random() < 0.2
        while True:
            first17 = region + self.birth_date().strftime("%Y%m%d") + self.digits(3)
            check = id_check_char(first17)
            if not want_x or check == "X":
                break
        variant = "permit" if r < 0.45 else "built"
        if check == "X" and self.rng.random() < 0.4:
            check, variant = "x", variant + "-lower-x"
        value = first17 + check
        style = self.rng.random()
        if style < 0.05:
            value, variant = to_fullwidth(value), variant + "-fullwidth"
        elif style < 0.08:
            value, variant = f"{value[:6]} {value[6:14]} {value[14:]}", variant + "-spaced"
        return _Item(value, "CN_RESIDENT_ID", variant=variant)

    def bank_card(self) -> _Item:
        bin_, lengths = self.rng.choice(_CN_BINS)
        length = self.rng.choice(lengths)
        number = self.luhn_complete(bin_, length)
        variant, needs_context = "luhn", False
        if self.rng.random() < 0.12:
            # Older domestic debit cards that fail Luhn: known BIN, detectable only with context.
            wrong = (int(number[-1]) + self.rng.randint(1, 9)) % 10
            number, variant, needs_context = number[:-1] + str(wrong), "luhn_invalid", True
        if self.rng.random() < 0.2:
            number = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
            variant += "-grouped"
        return _Item(number, "CN_BANK_CARD", variant=variant, needs_context=needs_context)

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(_MOBILE_SEGMENTS) + self.digits(8)
            if _valid_mobile(number):
                return number

    def phone(self) -> _Item:
        if self.rng.random() < 0.75:
            m = self.mobile()
            fmt = self.rng.choice(
                (
                    "{m}", "{m}", "{m}", "+86 {a} {b} {c}", "+86{m}", "0086-{m}", "86-{m}",
                    "{a}-{b}-{c}", "{a} {b} {c}", "FULL", "(+86){m}",
                )
            )  # fmt: skip
            if fmt == "FULL":
                return _Item(to_fullwidth(m), "CN_PHONE", variant="mobile-fullwidth")
            value = fmt.format(m=m, a=m[:3], b=m[3:7], c=m[7:])
            return _Item(value, "CN_PHONE", variant="mobile")
        while True:
            area, length = self.rng.choice(_AREA_CODES)
            local = str(self.rng.randint(2, 8)) + self.digits(length - 1)
            parsed = phonenumbers.parse("0" + area + local, "CN")
            if phonenumbers.is_valid_number(parsed):
                break
        fmt = self.rng.choice(
            (
                "0{a}-{l}", "(0{a}){l}", "（0{a}）{l}", "+86-{a}-{l}", "0{a}-{l}转{e}",
                "0{a}-{l}分机{e}", "0{a} {l}", "+86 {a} {l}",
            )
        )  # fmt: skip
        value = fmt.format(a=area, l=local, e=self.rng.randint(100, 8999))
        return _Item(value, "CN_PHONE", variant="landline")

    def email(self) -> _Item:
        if self.rng.random() < 0.5:
            return _Item(self.faker.free_email(), "EMAIL_ADDRESS", variant="faker")
        local = self.faker.user_name()
        if self.rng.random() < 0.3:
            local += str(self.rng.randint(1, 9999))
        if self.rng.random() < 0.1:
            local += "+shop"
        domain = self.rng.choice(
            ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "mail.example.edu.cn")
        )
        return _Item(f"{local}@{domain}", "EMAIL_ADDRESS", variant="built")

    def credit_card(self) -> _Item:
        if self.rng.random() < 0.4:
            number = self.rng.choice(_FOREIGN_TEST_CARDS)
            variant = "test"
        else:
            prefix, length = self.rng.choice(_FOREIGN_PREFIXES)
            number, variant = self.luhn_complete(prefix, length), "generated"
        style = self.rng.random()
        if style < 0.2 and len(number) == 16:
            number = " ".join(number[i : i + 4] for i in range(0, 16, 4))
        elif style < 0.3 and len(number) == 16:
            number = "-".join(number[i : i + 4] for i in range(0, 16, 4))
        elif style < 0.4 and len(number) == 15:
            number = f"{number[:4]} {number[4:10]} {number[10:]}"
        return _Item(number, "CREDIT_CARD", variant=variant)

    def passport(self) -> _Item:
        r = self.rng.random()
        if r < 0.45:
            value = "E" + self.digits(8)
        elif r < 0.8:
            value = "E" + self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + self.digits(7)
        else:
            value = "G" + self.digits(8)
        return _Item(value, "CN_PASSPORT", variant=value[0], needs_context=True)

    def permit(self) -> _Item:
        value = self.rng.choice("HM") + self.digits(8)
        if self.rng.random() < 0.3:
            value += self.digits(2)
        return _Item(value, "CN_HK_MACAU_PERMIT", variant="hm", needs_context=True)

    def hk_id(self) -> _Item:
        prefix = self.rng.choice(_HK_LETTERS)
        if self.rng.random() < 0.1:
            prefix = self.rng.choice("WX") + prefix
        digits = self.digits(6)
        check = hkid_check(prefix, digits)
        paren = self.rng.random() < 0.6
        value = f"{prefix}{digits}({check})" if paren else f"{prefix}{digits}{check}"
        return _Item(value, "HK_ID", variant="paren" if paren else "plain", needs_context=True)

    def tw_id(self) -> _Item:
        letter = self.rng.choice(sorted(_TW_LETTER_CODES))
        body = self.rng.choice("12") + self.digits(7)
        return _Item(letter + body + twid_check(letter, body), "TW_ID", needs_context=True)

    def positive(self) -> _Item:
        makers: tuple[tuple[Callable[[], _Item], int], ...] = (
            (self.resident_id, 24),
            (self.bank_card, 16),
            (self.phone, 22),
            (self.email, 10),
            (self.credit_card, 8),
            (self.passport, 5),
            (self.permit, 5),
            (self.hk_id, 5),
            (self.tw_id, 5),
        )
        maker = self.rng.choices([m for m, _ in makers], weights=[w for _, w in makers])[0]
        return maker()

    # ---- hard negatives
    def decoy(self) -> _Item:
        kinds = list(_DECOY_NAMES)
        for _ in range(50):
            kind = self.rng.choice(kinds)
            value = getattr(self, "_decoy_" + kind)()
            # A decoy built on purpose from a phone keeps its phone (glued/embedded); every
            # other decoy must not accidentally satisfy a positive rule.
            if kind in ("glued_phone",) or not plausible_positive(value):
                return _Item(value, decoy_kind=kind)
        raise RuntimeError("could not draw a decoy")  # pragma: no cover - 50 redraws

    def _stamp(self) -> datetime:
        return datetime(2020, 1, 1) + timedelta(seconds=self.rng.randrange(6 * 365 * 86400))

    def _decoy_order_no(self) -> str:
        stamp = self._stamp().strftime("%Y%m%d%H%M%S")
        return (
            self.rng.choice(("", "", "DD", "E", "NO")) + stamp + self.digits(self.rng.randint(4, 6))
        )

    def _decoy_ms_timestamp(self) -> str:
        return str(int(self._stamp().timestamp() * 1000) + self.rng.randrange(1000))

    def _decoy_isbn(self) -> str:
        body = self.rng.choice(("9787", "9787", "9780", "9791")) + self.digits(8)
        check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
        isbn = body + str(check)
        if self.rng.random() < 0.4:
            return f"{isbn[:3]}-{isbn[3]}-{isbn[4:7]}-{isbn[7:12]}-{isbn[12]}"
        return isbn

    def _decoy_waybill(self) -> str:
        return self.rng.choice(("SF", "YT")) + self.digits(13)

    def _decoy_hex_id(self) -> str:
        return "".join(
            self.rng.choice("0123456789abcdef") for _ in range(self.rng.choice((24, 32)))
        )

    def _decoy_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _decoy_coordinates(self) -> str:
        lat, lng = self.rng.uniform(18, 53), self.rng.uniform(73, 135)
        return f"{lat:.6f},{lng:.6f}"

    def _decoy_price(self) -> str:
        amount = self.rng.uniform(1, 99999)
        return self.rng.choice(("{:.2f}", "¥{:,.2f}", "{:.0f}")).format(amount)

    def _decoy_glued_phone(self) -> str:
        letters = "abcdefghijklmnopqrstuvwxyz"
        left = "".join(self.rng.choice(letters) for _ in range(self.rng.randint(1, 3)))
        right = "".join(self.rng.choice(letters) for _ in range(self.rng.randint(1, 3)))
        return left + self.mobile() + right

    def _decoy_business_phone(self) -> str:
        head = self.rng.choice(("400", "800"))
        a, b = self.digits(3), self.digits(4)
        return self.rng.choice(("{h}-{a}-{b}", "{h}{a}{b}", "{h} {a} {b}")).format(h=head, a=a, b=b)

    def _decoy_wrong_check_id(self) -> str:
        first17 = self.rng.choice(_COUNTIES) + self.birth_date().strftime("%Y%m%d") + self.digits(3)
        right = id_check_char(first17)
        return first17 + self.rng.choice([c for c in "0123456789X" if c != right])

    def _decoy_random18(self) -> str:
        return str(self.rng.randint(1, 9)) + self.digits(17)

    def _decoy_session_id(self) -> str:
        alphabet = self.rng.choice(("0123456789ABCDEF", "abcdefghijklmnopqrstuvwxyz0123456789"))
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.choice((26, 32))))

    def _decoy_embedded_phone(self) -> str:
        return (
            self.digits(self.rng.randint(2, 5))
            + self.mobile()
            + self.digits(self.rng.randint(2, 5))
        )

    def _decoy_imei(self) -> str:
        # 15 digits, Luhn check, TACs of common handsets start 35 or 86.
        return self.luhn_complete(self.rng.choice(("35", "86")), 15)

    def _decoy_iccid(self) -> str:
        # China SIM cards: 89 86 + operator + 13 digits + Luhn check, 20 digits.
        return self.luhn_complete("8986" + self.rng.choice(("00", "01", "03", "11")), 20)

    def _decoy_jwt(self) -> str:
        def part(doc: dict[str, object]) -> str:
            return _b64url(json.dumps(doc, separators=(",", ":")), self.rng)

        iat = int(self._stamp().timestamp())
        payload = {"sub": "u_" + self._decoy_hex_id()[:12], "iat": iat, "exp": iat + 7200}
        signature = base64.urlsafe_b64encode(self.rng.randbytes(32)).decode().rstrip("=")
        return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.{signature}"

    def _decoy_base64_image(self) -> str:
        data = b"\x89PNG\r\n\x1a\n" + self.rng.randbytes(self.rng.randint(300, 2000))
        prefix = self.rng.choice(("data:image/png;base64,", ""))
        return prefix + base64.b64encode(data).decode("ascii")

    def _decoy_image_at_2x(self) -> str:
        return self.rng.choice(("icon", "logo", "avatar", "banner")) + "@2x.png"

    # ---- benign filler
    def benign(self) -> tuple[str, str]:
        for _ in range(50):
            name, value = self.rng.choice(
                (
                    ("name", self.faker.name),
                    ("xm", self.faker.name),
                    ("address", self.faker.address),
                    ("city", self.faker.city_name),
                    ("page", lambda: str(self.rng.randint(1, 50))),
                    ("size", lambda: str(self.rng.choice((10, 20, 50)))),
                    ("lang", lambda: "zh-CN"),
                    ("company", self.faker.company),
                    ("remark", self.faker.sentence),
                    ("keyword", self.faker.word),
                    ("qty", lambda: str(self.rng.randint(1, 9))),
                    ("channel", lambda: self.rng.choice(("app", "h5", "pc", "mini"))),
                    ("agree", lambda: "true"),
                    ("nickname", self.faker.user_name),
                )
            )
            text = value()
            if not plausible_positive(text):
                return name, text
        raise RuntimeError("could not draw filler")  # pragma: no cover

    # ---- placing values
    def name_for(self, item: _Item) -> tuple[str, str | None]:
        """Field name and the context it gives (None for a neutral name)."""
        if item.entity is None:
            return self.rng.choice(_DECOY_NAMES[item.decoy_kind or ""]), None
        if item.needs_context or self.rng.random() < 0.6:
            name = self.rng.choice(_CONTEXT_NAMES[item.entity])
            return name, name
        return self.rng.choice(_NEUTRAL_NAMES), None

    def layers(self, budget: int) -> list[str]:
        """Value encoders to apply, innermost first; at most ``budget``."""
        r = self.rng.random()
        count = 0 if r < 0.5 else 1 if r < 0.78 else 2 if r < 0.93 else 3
        names = [n for n, _ in _ENCODER_WEIGHTS]
        weights = [w for _, w in _ENCODER_WEIGHTS]
        return self.rng.choices(names, weights=weights, k=min(count, budget))

    def encode(self, text: str, layers: list[str]) -> tuple[str, tuple[str, ...]]:
        applied: list[str] = []
        for layer in layers:
            encoded = _ENCODERS[layer](text, self.rng)
            if encoded != text:
                applied.append(layer)
            text = encoded
        return text, tuple(reversed(applied))

    def entries(self, items: list[_Item], allow_layers: bool) -> list[_Entry]:
        """Group items into named entries: plain, wrapped in a document, and/or encoded."""
        out: list[_Entry] = []
        pending = list(items)
        self.rng.shuffle(pending)
        while pending:
            wrap = self.rng.random() < 0.22 if allow_layers else False
            group = [pending.pop()]
            if wrap:
                while pending and self.rng.random() < 0.4:
                    group.append(pending.pop())
                kind = self.rng.choice(("json", "json", "urlencoded", "label"))
                text, contexts = self.wrap(kind, group)
                layers = self.layers(2)
                text, encs = self.encode(text, layers)
                outer = self.rng.choice(_WRAP_KEYS)
                entry_items = [
                    (it, (*encs, kind), ctx) for it, ctx in zip(group, contexts, strict=True)
                ]
                out.append(_Entry(outer, text, entry_items))
                continue
            item = group[0]
            name, ctx = self.name_for(item)
            layers = self.layers(3) if allow_layers and item.entity else []
            text, encs = self.encode(item.value, layers)
            out.append(_Entry(name, text, [(item, encs, ctx)]))
        return out

    def wrap(self, kind: str, group: list[_Item]) -> tuple[str, list[str | None]]:
        """Put several items in one document; returns its text and each item's context."""
        contexts: list[str | None] = []
        if kind == "label":
            parts = []
            for it in group:
                if it.entity is None:
                    label = self.rng.choice(_BENIGN_TEXT_LABELS)
                else:
                    label = self.rng.choice(_TEXT_LABELS[it.entity])
                contexts.append(label.strip(" ：:") if it.entity else None)
                parts.append(label + it.value)
            return self.rng.choice(("；", "\n", "，", " ")).join(parts), contexts
        pairs: list[tuple[str, str]] = []
        for it in group:
            name, ctx = self.name_for(it)
            while any(name == n for n, _ in pairs):
                name += "2"
            pairs.append((name, it.value))
            contexts.append(ctx)
        pairs.append(("t", str(self.rng.randint(1, 99))))
        if kind == "json":
            return json.dumps(dict(pairs), ensure_ascii=self.rng.random() < 0.3), contexts
        return urllib.parse.urlencode(pairs), contexts


# --------------------------------------------------------------------------------------------
# Containers


def _headers(content_type: str | None, content_encoding: str | None, host: str) -> http.Headers:
    fields = [
        ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36"),
        ("Accept", "*/*"),
        ("Origin", f"https://{host}"),
    ]
    if content_type:
        fields.append(("Content-Type", content_type))
    if content_encoding:
        fields.append(("Content-Encoding", content_encoding))
    return http.Headers([(k.encode("ascii"), v.encode("ascii")) for k, v in fields])


def _compress(body: bytes, content_encoding: str | None) -> bytes:
    if content_encoding == "gzip":
        return gzip.compress(body, mtime=0)
    if content_encoding == "br":
        return bytes(brotli.compress(body))
    if content_encoding == "zstd":
        return bytes(zstandard.ZstdCompressor().compress(body))
    return body


def _json_nest(
    gen: _Generator, entries: list[_Entry], prefix: str
) -> tuple[object, dict[int, str]]:
    """Spread entries over nested objects and arrays; returns the document and entry locations."""
    rng = gen.rng
    root: dict[str, object] = {}
    where: dict[int, str] = {}
    arrays: dict[str, list[dict[str, object]]] = {}
    for i, entry in enumerate(entries):
        shape = rng.random()
        if shape < 0.3:
            target, path = root, prefix
        elif shape < 0.6:
            # Container keys never collide with entry names (see _NEUTRAL_NAMES, _WRAP_KEYS).
            k1 = rng.choice(("user", "form", "applicant", "biz"))
            child = root.setdefault(k1, {})
            assert isinstance(child, dict)
            if rng.random() < 0.5:
                k2 = rng.choice(("profile", "detail", "base"))
                grand = child.setdefault(k2, {})
                assert isinstance(grand, dict)
                target, path = grand, f"{prefix}.{k1}.{k2}"
            else:
                target, path = child, f"{prefix}.{k1}"
        else:
            key = rng.choice(("contacts", "items", "records", "members"))
            arr = arrays.setdefault(key, [])
            root.setdefault(key, arr)
            if not arr or rng.random() < 0.5:
                arr.append({"seq": len(arr) + 1})
            idx = rng.randrange(len(arr))
            target, path = arr[idx], f"{prefix}.{key}[{idx}]"
        name = entry.name
        while name in target:
            name += "_"
        target[name] = entry.text
        where[i] = f"{path}.{name}".lstrip(".")
    if rng.random() < 0.1:
        return [root, {"seq": 2, "v": "1"}], {
            i: w.replace(prefix, prefix + "[0]", 1) for i, w in where.items()
        }
    return root, where


class _RequestBuilder:
    def __init__(self, gen: _Generator) -> None:
        self.gen = gen

    def build(
        self, body_format: str, items: list[_Item], filler: list[tuple[str, str]]
    ) -> tuple[http.Request, list[tuple[_Item, str, tuple[str, ...], str | None]], str | None]:
        """Return the request, each item's (location, encodings, context), and Content-Encoding."""
        rng = self.gen.rng
        host = rng.choice(_HOSTS)
        path = rng.choice(_PATHS)
        content_encoding = None
        if body_format != "query" and rng.random() < 0.15:
            content_encoding = rng.choice(("gzip", "br", "zstd"))
        placed: list[tuple[_Item, str, tuple[str, ...], str | None]] = []
        filler_entries = [_Entry(n, v, []) for n, v in filler]

        def record(entry: _Entry, location: str) -> None:
            for item, encs, ctx in entry.items:
                placed.append((item, location, encs, ctx))

        if body_format == "query":
            entries = self.gen.entries(items, allow_layers=True)
            first_item = entries[0].items[0] if entries else None
            if (
                first_item is not None
                and rng.random() < 0.12
                and not first_item[1]
                and not first_item[0].needs_context
            ):
                # One plain value in a path segment (e.g. /api/sms/send/13812345678).
                first = entries.pop(0)
                path = f"{path}/{urllib.parse.quote(first.text, safe='')}"
                record(first, "path")
            allv = entries + filler_entries
            rng.shuffle(allv)
            for e in entries:
                record(e, f"query.{e.name}")
            url = f"https://{host}{path}?" + urllib.parse.urlencode(
                [(e.name, e.text) for e in allv]
            )
            request = http.Request.make("GET", url, b"", _headers(None, None, host))
            return request, placed, None

        url = f"https://{host}{path}"
        if body_format.startswith("form"):
            gbk = body_format != "form-utf8"
            entries = self.gen.entries(items, allow_layers=True)
            allv = entries + filler_entries
            rng.shuffle(allv)
            for e in entries:
                record(e, f"form.{e.name}")
            pairs = [(e.name, e.text) for e in allv]
            if gbk:
                # Browsers send characters outside the page charset as decimal char refs.
                pairs.append(("remark2", "好评👍"))
                body = urllib.parse.urlencode(
                    pairs, encoding="gbk", errors="xmlcharrefreplace"
                ).encode("ascii")
                ctype = "application/x-www-form-urlencoded"
                if body_format == "form-gbk":
                    ctype += "; charset=" + rng.choice(("GBK", "gb2312", "GB18030"))
            else:
                body = urllib.parse.urlencode(pairs).encode("ascii")
                ctype = "application/x-www-form-urlencoded" + rng.choice(("", "; charset=UTF-8"))
        elif body_format == "multipart":
            entries = self.gen.entries(items, allow_layers=True)
            boundary = "----WebKitFormBoundary" + "".join(
                rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
                for _ in range(16)
            )
            parts: list[bytes] = []
            file_lines: list[str] = []
            file_items: list[_Entry] = []
            for e in entries + filler_entries:
                if e.items and not e.items[0][1] and rng.random() < 0.25:
                    file_lines.append(f"{e.name}: {e.text}")
                    file_items.append(e)
                    continue
                if e.items:
                    record(e, f"multipart.{e.name}")
                disp = f'Content-Disposition: form-data; name="{e.name}"'
                parts.append(f"{disp}\r\n\r\n{e.text}".encode())
            if file_lines:
                fname = rng.choice(("resume.txt", "info.csv", "申请表.txt"))
                for e in file_items:
                    record(e, f"multipart.attachment:{fname}")
                disp = f'Content-Disposition: form-data; name="attachment"; filename="{fname}"'
                parts.append(
                    f"{disp}\r\nContent-Type: text/plain\r\n\r\n".encode()
                    + "\n".join(file_lines).encode()
                )
            rng.shuffle(parts)
            body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
            body += b"--" + boundary.encode() + b"--\r\n"
            ctype = f"multipart/form-data; boundary={boundary}"
        elif body_format in ("json", "graphql"):
            entries = self.gen.entries(items, allow_layers=True)
            allv = entries + filler_entries
            rng.shuffle(allv)
            prefix = "json" if body_format == "json" else "graphql.variables.input"
            doc, where = _json_nest(self.gen, allv, prefix)
            for i, e in enumerate(allv):
                if e.items:
                    record(e, where[i])
            if body_format == "graphql":
                doc = {
                    "operationName": "SaveProfile",
                    "query": (
                        "mutation SaveProfile($input: ProfileInput!) "
                        "{ saveProfile(input: $input) { ok } }"
                    ),
                    "variables": {"input": doc},
                }
            body = json.dumps(doc, ensure_ascii=rng.random() < 0.3).encode("utf-8")
            ctype = "application/json" + rng.choice(("", ";charset=UTF-8"))
        elif body_format == "beacon":
            style = rng.random()
            if style < 0.5:
                # Chinese label text (e.g. a feedback widget or an analytics "page text" dump).
                lines = []
                for it in items:
                    if it.entity is None:
                        label = rng.choice(_BENIGN_TEXT_LABELS)
                        ctx = None
                    else:
                        label = rng.choice(_TEXT_LABELS[it.entity])
                        ctx = label.strip(" ：:")
                    lines.append(label + it.value)
                    placed.append((it, "body", (), ctx))
                lines += [f"{n}={v}" for n, v in filler]
                rng.shuffle(lines)
                text = rng.choice(("\n", "；", " | ")).join(lines)
            elif style < 0.8:
                entries = self.gen.entries(items, allow_layers=True)
                allv = entries + filler_entries
                doc, where = _json_nest(self.gen, allv, "body")
                for i, e in enumerate(allv):
                    if e.items:
                        record(e, where[i])
                text = json.dumps(doc, ensure_ascii=False)
            else:
                entries = self.gen.entries(items, allow_layers=True)
                allv = entries + filler_entries
                rng.shuffle(allv)
                for e in entries:
                    record(e, f"body.{e.name}")
                text = urllib.parse.urlencode([(e.name, e.text) for e in allv])
            body = text.encode("utf-8")
            ctype = "text/plain;charset=UTF-8"
        else:  # pragma: no cover - BODY_FORMATS is closed
            raise ValueError(f"unknown body format {body_format!r}")

        request = http.Request.make("POST", url, b"", _headers(ctype, content_encoding, host))
        # Assigning .content with Content-Encoding set would compress again: set the wire bytes.
        request.raw_content = _compress(body, content_encoding)
        request.headers["Content-Length"] = str(len(request.raw_content))
        return request, placed, content_encoding


_FORMAT_WEIGHTS = (
    ("query", 12),
    ("form-utf8", 18),
    ("form-gbk", 8),
    ("form-gbk-nocharset", 6),
    ("multipart", 10),
    ("json", 24),
    ("graphql", 8),
    ("beacon", 14),
)


def iter_samples(n: int, seed: int = 0) -> Iterator[Sample]:
    """Yield ``n`` labelled requests, the same ones for the same ``(n, seed)`` prefix."""
    if n < 0:
        raise ValueError("n must be >= 0")
    gen = _Generator(seed)
    builder = _RequestBuilder(gen)
    rng = gen.rng
    formats = [f for f, _ in _FORMAT_WEIGHTS]
    weights = [w for _, w in _FORMAT_WEIGHTS]
    for index in range(n):
        body_format = rng.choices(formats, weights=weights)[0]
        positive = rng.random() < 0.65
        items = [gen.positive() for _ in range(rng.randint(1, 4))] if positive else []
        items += [gen.decoy() for _ in range(rng.randint(0, 3) if positive else rng.randint(2, 6))]
        filler = [gen.benign() for _ in range(rng.randint(1, 4))]
        request, placed, content_encoding = builder.build(body_format, items, filler)
        labels: dict[tuple[str, str], Label] = {}
        decoys: list[Decoy] = []
        for item, location, encs, ctx in placed:
            if item.entity is None:
                decoys.append(Decoy(item.decoy_kind or "", item.value, location))
                continue
            key = (item.entity, normalize(item.entity, item.value))
            labels.setdefault(
                key, Label(item.entity, item.value, location, encs, ctx, item.variant)
            )
        yield Sample(
            index, request, tuple(labels.values()), tuple(decoys), body_format, content_encoding
        )


def generate(n: int, seed: int = 0) -> list[Sample]:
    """Return ``n`` labelled requests generated from ``seed`` (deterministic)."""
    return list(iter_samples(n, seed))


def json_records_body(size_bytes: int, seed: int = 0, pii_every: int = 10) -> tuple[bytes, int]:
    """A realistic JSON body of about ``size_bytes``: ``{"records": [...]}`` of customer rows.

    Every ``pii_every``-th record carries a fresh mobile and resident ID (``idNo``/``mobile``);
    all records carry order numbers, timestamps, amounts, names, addresses and remarks (hard
    negatives and filler). Returns the UTF-8 body and the number of personal values planted.
    Used by ``scripts/bench_scan.py`` for the size sweep.
    """
    if size_bytes < 2:
        raise ValueError("size_bytes must be >= 2")
    gen = _Generator(seed)
    rng = gen.rng
    # Faker is slow per call; a pool of names/addresses/remarks keeps a 10 MB body quick to build.
    names = [gen.faker.name() for _ in range(300)]
    addresses = [gen.faker.address() for _ in range(300)]
    remarks = [gen.faker.sentence() for _ in range(300)]
    parts: list[str] = []
    total = len('{"records": []}')
    planted = 0
    i = 0
    while total < size_bytes:
        record: dict[str, object] = {
            "id": i + 1,
            "orderNo": gen._decoy_order_no(),
            "ts": int(gen._decoy_ms_timestamp()),
            "amount": round(rng.uniform(1, 9999), 2),
            "name": rng.choice(names),
            "address": rng.choice(addresses),
            "remark": rng.choice(remarks),
            "status": rng.choice(("paid", "shipped", "refund")),
        }
        if i % pii_every == 0:
            first17 = rng.choice(_COUNTIES) + gen.birth_date().strftime("%Y%m%d") + gen.digits(3)
            record["idNo"] = first17 + id_check_char(first17)
            record["mobile"] = gen.mobile()
            planted += 2
        text = json.dumps(record, ensure_ascii=False)
        parts.append(text)
        total += len(text.encode("utf-8")) + 2
        i += 1
    return ('{"records": [' + ", ".join(parts) + "]}").encode("utf-8"), planted
