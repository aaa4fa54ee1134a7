"""Value-level decoders: undo encodings applied to a single value inside its container.

A form field, JSON string or cookie may itself hold an encoded value: percent-encoding (sometimes
twice), base64 / base64url, HTML character references (``&#27861;``, ``&#x6cd5;``, ``&amp;``) or
JavaScript / Python escapes (``\\u6cd5``, ``\\xe6\\xb3\\x95``). Each decoder is a small pure
function returning the decoded ``str``, or ``None`` when the value is not in that encoding (or
decoding it would change nothing). :func:`decode_layers` combines them up to a few layers deep.

Speed matters more than completeness for the common case: most values are plain and must cost
about a microsecond, so every decoder starts with a cheap test (a character that must be present,
a length rule) before any regex or decoding work.

Charset of decoded bytes (percent, base64, ``\\xHH``), following cn-pii.md: strict UTF-8 first,
then GB18030, never GB18030 first (UTF-8 bytes also decode as GB18030 without error).
"""

from __future__ import annotations

import binascii
import codecs
import html
import re
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

__all__ = [
    "DECODERS",
    "decode_base64",
    "decode_bytes_text",
    "decode_html_entities",
    "decode_layers",
    "decode_percent",
    "decode_unicode_escapes",
    "may_be_encoded",
    "percent_decode_bytes",
    "plausible_text",
    "unescape_numeric_refs",
]

# A base64 value shorter than this is not worth decoding: short words ("password", "admin123")
# are in the alphabet and would only produce noise.
MIN_BASE64_LEN = 8
# Values up to this long that look like a word or a code (letters only, or upper-case letters
# and digits) are decoded too: base64 of a digit string often looks exactly like that
# (``MjIwMTAyNjMwNTIzMDcz`` is "220102630523073", ``RVoxMjYxNjMw`` "EZ1261630",
# ``NTU1NTU1NTU1NTU1NDQ0NA==`` a card number), unpadded base64url most of all. Their decoding
# is kept only when it reads as data (see _data_like), so real words and codes stay as they are.
MAX_WORDLIKE_BASE64_LEN = 64
# Digits a word-like value's decoding must hold to be kept (the shortest ID, an HKID, has 7).
_WORDLIKE_MIN_DIGITS = 6
# How many decoded variants decode_layers returns at most, whatever the input (bounds the work
# an adversarial value can cause).
MAX_VARIANTS = 16
# Plausibility of decoded base64 is judged on a prefix first so a large binary blob is rejected
# after decoding ~1 KiB instead of all of it.
_B64_PROBE_CHARS = 1024

_PERCENT_RE = re.compile(r"%[0-9A-Fa-f]{2}")
# A "%" that does not start an escape (kept as is by percent decoding).
_BAD_ESCAPE_RE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_B64_ANY_RE = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
# base64 of ASCII text: the first character of each 4-character group holds the top six bits
# of an ASCII byte (< 32: A-Z or a-f). Order numbers (E2023...), names (ZhangSan) and most
# words fail this, so they are never decoded.
_ASCII_B64_RE = re.compile(
    r"(?:[A-Za-f][A-Za-z0-9+/_-]{3})*(?:[A-Za-f][A-Za-z0-9+/_-]{1,2})?={0,2}"
)
_HTML_REF_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_NUMERIC_REF_RE = re.compile(r"&#(?:([0-9]{1,7})|[xX]([0-9A-Fa-f]{1,6}));")
_ESCAPE_RE = re.compile(r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}|\\x[0-9A-Fa-f]{2}")
_ESCAPE_TOKEN_RE = re.compile(
    r"(?P<x>(?:\\x[0-9A-Fa-f]{2})+)|\\u(?P<u>[0-9A-Fa-f]{4})|\\U(?P<U>[0-9A-Fa-f]{8})"
)
# A text whose every backslash starts a \uXXXX escape.
_ONLY_U_ESCAPES_RE = re.compile(r"(?:[^\\]|\\u[0-9A-Fa-f]{4})*")
# Control characters other than tab, newline and carriage return (C0, DEL, C1).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What GB18030-decoded text may contain besides ASCII: CJK ideographs, CJK punctuation and
# full-width forms. Random bytes decode as GB18030 far more often than as UTF-8, so anything
# outside these ranges (rare ideograph extensions, private use) is taken as "not text".
_GB_NON_ASCII_OK_RE = re.compile(r"[^\x00-\x7f\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# U+FFFD as encoded bytes: only when these are present can a U+FFFD be genuine.
_UTF8_FFFD = "\ufffd".encode()
_GB_FFFD = "\ufffd".encode("gb18030")
_URLSAFE_TO_STD = str.maketrans("-_", "+/")
_DROP_DIGITS = str.maketrans("", "", "0123456789")
_UTF8_INCREMENTAL = codecs.getincrementaldecoder("utf-8")


def plausible_text(text: str) -> bool:
    """True when ``text`` looks like text: no NUL and at most 1 in 20 other control characters."""
    if not text or "\x00" in text:
        return False
    controls = len(_CONTROL_RE.findall(text)) if _CONTROL_RE.search(text) else 0
    return controls * 20 <= len(text)


def decode_bytes_text(data: bytes) -> tuple[str, str] | None:
    """Decode bytes as strict UTF-8, else GB18030; return ``(text, charset)`` or ``None``.

    The GB18030 result is only accepted when its non-ASCII characters are common CJK, CJK
    punctuation or full-width forms (arbitrary bytes often decode as GB18030 without error).
    """
    if data.isascii():
        return data.decode("ascii"), "utf-8"
    # Decoding with "replace" and looking for U+FFFD avoids the cost of a raised exception on
    # the common failure path; a genuine U+FFFD in the input is settled by a strict decode.
    text = data.decode("utf-8", "replace")
    if "\ufffd" not in text or (_UTF8_FFFD in data and _strict_ok(data, "utf-8")):
        return text, "utf-8"
    text = data.decode("gb18030", "replace")
    if "\ufffd" in text and (_GB_FFFD not in data or not _strict_ok(data, "gb18030")):
        return None
    if _GB_NON_ASCII_OK_RE.search(text):
        return None
    return text, "gb18030"


def _strict_ok(data: bytes, charset: str) -> bool:
    """True when ``data`` decodes as ``charset`` without error."""
    try:
        data.decode(charset)
    except UnicodeDecodeError:
        return False
    return True


# Byte values, not one-byte strings, as ``in`` needles: ``b"%" in data`` first tries the needle
# as an integer and builds (then clears) a TypeError, ~10x the cost of ``0x25 in data``; same
# answer. Shared with detectors.structure.
PERCENT_BYTE = ord("%")
PLUS_BYTE = ord("+")


def percent_decode_bytes(value: str | bytes, *, plus_is_space: bool = False) -> bytes:
    """Percent-decode to bytes (``%E5%BC%A0`` -> ``b'\\xe5\\xbc\\xa0'``); malformed escapes stay.

    ``plus_is_space`` applies the application/x-www-form-urlencoded rule (``+`` is a space).
    Non-ASCII characters of a ``str`` value are encoded as UTF-8 first, as browsers do.
    """
    raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    if plus_is_space and PLUS_BYTE in raw:
        raw = raw.replace(b"+", b" ")
    if PERCENT_BYTE not in raw:
        return raw
    if _BAD_ESCAPE_RE.search(raw) is None:
        # Every "%" starts a valid escape: let the C escape decoder turn "%XX" into "\\xXX"'s
        # byte (a backslash of the data doubled first), ~4x faster than unquote_to_bytes.
        return codecs.escape_decode(raw.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
    return unquote_to_bytes(raw)


def decode_percent(value: str) -> str | None:
    """Decode a percent-encoded value (one layer); ``None`` if it has no ``%XX`` escape.

    ``+`` is kept as is: inside a value it is as likely a literal plus (base64, ``+86``) as an
    encoded space.
    """
    if "%" not in value or not _PERCENT_RE.search(value):
        return None
    decoded = decode_bytes_text(percent_decode_bytes(value))
    if decoded is None:
        return None
    text = decoded[0]
    return text if text != value and plausible_text(text) else None


def _b64_split(value: str) -> tuple[int, int]:
    """``(length without padding, padding length)`` without copying the value."""
    n = len(value)
    pad = 0
    while pad < 3 and pad < n and value[n - 1 - pad] == "=":
        pad += 1
    return n - pad, pad


_NOT_B64 = 0
_TEXT_LIKE = 1  # mixed case and digits: what base64 of text usually looks like
_WORD_LIKE = 2  # letters only, or upper-case and digits: a word or code, or base64 of digits


def _b64_shape(value: str) -> int:
    """Cheap checks before a base64 decode attempt (length, classes, padding, alphabet).

    Returns ``_NOT_B64``, ``_TEXT_LIKE`` or ``_WORD_LIKE``. For long values only the head is
    checked against the alphabet here (a regex over megabytes costs ~10 ms);
    :func:`decode_base64` validates the rest while decoding, in C.
    """
    n = len(value)
    if n < MIN_BASE64_LEN or value.isdigit():
        return _NOT_B64  # pure digits are IDs, phones and cards, not base64 of text
    core_len, pad = _b64_split(value) if value[-1] == "=" else (n, 0)
    if pad > 2 or (pad and n % 4) or core_len % 4 == 1:
        return _NOT_B64
    head = value if n <= _B64_PROBE_CHARS * 2 else value[:_B64_PROBE_CHARS]
    # Letters and digits only (most codes and tokens) need no regex for the alphabet.
    if not (head.isalnum() and head.isascii()) and _B64_ANY_RE.fullmatch(head) is None:
        return _NOT_B64
    if value.isalpha() or head.isupper():
        if n > MAX_WORDLIKE_BASE64_LEN or _ASCII_B64_RE.fullmatch(value) is None:
            return _NOT_B64
        return _WORD_LIKE
    return _TEXT_LIKE


def _b64_candidate(value: str) -> bool:
    """True when ``value`` is worth a base64 decode attempt (see :func:`_b64_shape`)."""
    return _b64_shape(value) != _NOT_B64


def _data_like(text: str) -> bool:
    """Is the decoding of a word-like value worth scanning? Printable ASCII holding six digits
    or an "@" (an ID, phone, card or e-mail), or itself base64 (another layer)."""
    if not (text.isascii() and text.isprintable()):
        return False
    if "@" in text or _b64_shape(text) != _NOT_B64:
        return True
    return len(text) - len(text.translate(_DROP_DIGITS)) >= _WORDLIKE_MIN_DIGITS


def _probe_is_text(probe: bytes) -> bool:
    """True when a decoded prefix is plausible text (a multi-byte character may be cut off)."""
    for cut in range(4):
        decoded = decode_bytes_text(probe[: len(probe) - cut])
        if decoded is not None:
            return plausible_text(decoded[0])
    return False


def decode_base64(value: str) -> str | None:
    """Decode standard or URL-safe base64, padded or not, when the result is plausible text.

    Accepted only if the value passes :func:`_b64_shape`, uses one alphabet only, and the
    decoded bytes are strict UTF-8 (or common-CJK GB18030) with few control characters. A value
    shaped like a word or a code (letters only, or upper-case and digits; at most
    :data:`MAX_WORDLIKE_BASE64_LEN` characters) must decode to data: printable ASCII with six
    digits or an "@", or another base64 layer. A long value is judged on a decoded prefix
    first, so a binary blob costs ~1 KiB of work.
    """
    shape = _b64_shape(value)
    if shape == _NOT_B64:
        return None
    has_std = "+" in value or "/" in value
    if has_std and ("-" in value or "_" in value):
        return None  # mixes the two alphabets
    core_len, _ = _b64_split(value)
    try:
        if len(value) > _B64_PROBE_CHARS * 2:
            probe = value[:_B64_PROBE_CHARS]
            if not has_std:
                probe = probe.translate(_URLSAFE_TO_STD)
            if not _probe_is_text(binascii.a2b_base64(probe, strict_mode=True)):
                return None
        padded = value[:core_len] + "=" * (-core_len % 4)
        if not has_std:
            padded = padded.translate(_URLSAFE_TO_STD)
        data = binascii.a2b_base64(padded, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    decoded = decode_bytes_text(data)
    if decoded is None or not plausible_text(decoded[0]):
        return None
    if shape == _WORD_LIKE and not _data_like(decoded[0]):
        return None
    return decoded[0]


def decode_html_entities(value: str) -> str | None:
    """Unescape HTML character references (``&#NNNNN;``, ``&#xHHHH;``, named like ``&amp;``)."""
    if "&" not in value or not _HTML_REF_RE.search(value):
        return None
    text = html.unescape(value)
    return text if text != value else None


def unescape_numeric_refs(value: str) -> str:
    """Replace ``&#NNNNN;`` / ``&#xHHHH;`` by their characters (named references stay).

    Browsers submit characters the page charset cannot encode this way (e.g. ``&#8364;`` in a
    GBK form). Invalid code points (0, surrogates, > U+10FFFF) are left as they are.
    """
    if "&#" not in value:
        return value
    return _NUMERIC_REF_RE.sub(_numeric_ref, value)


def _numeric_ref(match: re.Match[str]) -> str:
    dec, hexa = match.group(1), match.group(2)
    code = int(dec) if dec is not None else int(hexa, 16)
    if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return match.group(0)
    return chr(code)


def _escape_token(match: re.Match[str]) -> str:
    """Replace one ``\\uXXXX`` / ``\\UXXXXXXXX`` escape or a run of ``\\xHH`` escapes."""
    run = match.group("x")
    if run is not None:
        data = bytes(int(run[i + 2 : i + 4], 16) for i in range(0, len(run), 4))
        # A run of \xHH is usually UTF-8 (or GBK) bytes printed by Python or C; single bytes
        # that decode as neither are taken as Latin-1 code points (JavaScript's meaning).
        decoded = decode_bytes_text(data)
        return decoded[0] if decoded is not None else data.decode("latin-1")
    code = int(match.group("u") or match.group("U"), 16)
    return chr(code) if code <= 0x10FFFF else match.group(0)


def decode_unicode_escapes(value: str) -> str | None:
    """Decode ``\\uXXXX`` (with surrogate pairs), ``\\UXXXXXXXX`` and ``\\xHH`` escapes."""
    if "\\" not in value or not _ESCAPE_RE.search(value):
        return None
    if value.isascii() and _ONLY_U_ESCAPES_RE.fullmatch(value):
        # Every backslash starts a \uXXXX (JavaScript's escaping of a whole string): the C
        # codec gives the same code units as the token-by-token path, ~30x faster.
        text = value.encode("ascii").decode("unicode_escape")
    else:
        text = _ESCAPE_TOKEN_RE.sub(_escape_token, value)
    if _SURROGATE_RE.search(text):
        # Join UTF-16 surrogate pairs (\ud83d\ude00); lone surrogates become U+FFFD.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text if text != value else None


# Name and function of every value-level decoder, in the order decode_layers tries them.
DECODERS: tuple[tuple[str, Callable[[str], str | None]], ...] = (
    ("percent", decode_percent),
    ("html", decode_html_entities),
    ("unicode_escape", decode_unicode_escapes),
    ("base64", decode_base64),
)


def may_be_encoded(value: str) -> bool:
    """The ~1 µs gate: can any decoder possibly apply to ``value``?"""
    return (
        "%" in value
        or "&" in value
        or "\\" in value
        or (len(value) >= MIN_BASE64_LEN and value.isascii() and _b64_shape(value) != _NOT_B64)
    )


_maybe_encoded = may_be_encoded


def decode_layers(value: str, max_depth: int = 3) -> list[tuple[str, tuple[str, ...]]]:
    """Every distinct decoded variant of ``value`` with its encoding chain, outermost first.

    E.g. ``decode_layers("YWJj%3D%3D")`` gives ``[("YWJj==", ("percent",)), ...]``; a base64
    value that was then percent-encoded yields ``(text, ("percent", "base64"))``. The original
    value is not included; a value that needs no decoding gives ``[]``. At most ``max_depth``
    layers and :data:`MAX_VARIANTS` variants.
    """
    if not _maybe_encoded(value):
        return []
    seen = {value}
    out: list[tuple[str, tuple[str, ...]]] = []
    frontier: list[tuple[str, tuple[str, ...]]] = [(value, ())]
    for _ in range(max_depth):
        next_frontier: list[tuple[str, tuple[str, ...]]] = []
        for text, chain in frontier:
            if chain and not _maybe_encoded(text):
                continue
            for name, decoder in DECODERS:
                decoded = decoder(text)
                if decoded is None or decoded in seen:
                    continue
                seen.add(decoded)
                item = (decoded, (*chain, name))
                out.append(item)
                next_frontier.append(item)
                if len(out) >= MAX_VARIANTS:
                    return out
        if not next_frontier:
            break
        frontier = next_frontier
    return out
