"""Value-level decoders: each encoding, plain values left alone, chains, speed, round trips."""

from __future__ import annotations

import base64
import html
import json
import time
from urllib.parse import quote, unquote_to_bytes

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from detectors.decoders import (
    _ESCAPE_TOKEN_RE,
    _SURROGATE_RE,
    _escape_token,
    decode_base64,
    decode_bytes_text,
    decode_html_entities,
    decode_layers,
    decode_percent,
    decode_unicode_escapes,
    percent_decode_bytes,
    plausible_text,
    unescape_numeric_refs,
)

# Generated, non-real data (the ID is the standard's annex example, the phone a test pattern).
ID_NO = "11010519491231002X"
PHONE = "13800001111"
NAME = "张三丰"


def b64(text: str, charset: str = "utf-8", *, urlsafe: bool = False, pad: bool = True) -> str:
    raw = text.encode(charset)
    out = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return out if pad else out.rstrip("=")


@pytest.mark.parametrize(
    "value, expected",
    [
        # one layer, UTF-8
        (quote(NAME), NAME),
        (quote(f"{NAME} {ID_NO}"), f"{NAME} {ID_NO}"),
        # GBK bytes (percent-encoded by a GBK page)
        (quote(NAME, encoding="gbk"), NAME),
        # one layer of a double encoding
        (quote(quote(NAME)), quote(NAME)),
        # "+" stays (it may be base64 or "+86")
        ("%2B86+138", "+86+138"),
        # not percent-encoded
        ("100%", None),
        ("plain", None),
        ("%zz%", None),
    ],
)
def test_decode_percent(value: str, expected: str | None) -> None:
    assert decode_percent(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (b64(f"{NAME}{ID_NO}"), f"{NAME}{ID_NO}"),
        (b64(f"{NAME}{ID_NO}", pad=False), f"{NAME}{ID_NO}"),
        (b64("idNo=" + ID_NO + "?>>", urlsafe=True), "idNo=" + ID_NO + "?>>"),
        (b64("idNo=" + ID_NO + "?>>", urlsafe=True, pad=False), "idNo=" + ID_NO + "?>>"),
        (b64("电话号码" + PHONE, "gbk"), "电话号码" + PHONE),
        (b64(json.dumps({"tel": PHONE})), json.dumps({"tel": PHONE})),
        # words, codes, numbers and random tokens are not "decoded"
        ("Password", None),
        ("username", None),
        (PHONE, None),
        ("6222021234567890123", None),
        ("ABCDEFGH12345678", None),
        ("a3f5b2c1d4e6f708a3f5b2c1d4e6f708", None),
        ("ZhangSan123", None),
        ("hello world", None),
        # too short, bad padding, mixed alphabets
        ("YWJj", None),
        ("YWJjZGVm=", None),
        ("YWJj+ZGV_mZw==", None),
        # binary content
        (base64.b64encode(bytes(range(256))).decode(), None),
        (base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(4000)).decode(), None),
    ],
)
def test_decode_base64(value: str, expected: str | None) -> None:
    assert decode_base64(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        # base64 of digit strings looks like a word or a code (letters only, or upper-case
        # and digits), unpadded base64url most of all: decoded when it reads as data
        ("MjIwMTAyNjMwNTIzMDcz", "220102630523073"),
        ("RVoxMjYxNjMw", "EZ1261630"),
        ("NTU1NTU1NTU1NTU1NDQ0NA==", "5555555555554444"),
        ("NTU1NTU1NTU1NTU1NDQ0NA", "5555555555554444"),
        ("TTAwMzUxMjYw", "M00351260"),
        ("bGVpODBAMTYzLmNvbQ", "lei80@163.com"),
        # ... and when it is another base64 layer
        ("VFRZd09UTXpNelUz", "TTYwOTMzMzU3"),
        # words and codes are left alone (cheaply: most fail the shape of base64 of ASCII)
        ("Password", None),
        ("Username", None),
        ("ZhangSan", None),
        ("Xiaoming", None),
        ("Beijingshi", None),
        ("Abcdefgh", None),
        ("ABCDEFGH12345678", None),
        ("ORDER2024112800", None),
        ("DD2020110820493559387", None),
        ("E202304112158194876", None),
        ("SKU00012345", None),
        ("UEFZTUVOVA", None),  # base64 of "PAYMENT": text, but no data in it
        ("A" * 68, None),  # word-like values longer than 64 characters are not tried
    ],
)
def test_decode_word_like_base64(value: str, expected: str | None) -> None:
    assert decode_base64(value) == expected


@settings(max_examples=300)
@given(
    st.text("0123456789", min_size=6, max_size=20),
    st.text("ABCDEFGHJKLMNPQRSTUVWXYZ", max_size=2),
    st.booleans(),
    st.booleans(),
)
def test_base64_of_identifiers_is_always_decoded(
    digits: str, letters: str, urlsafe: bool, pad: bool
) -> None:
    value = letters + digits
    assert decode_base64(b64(value, urlsafe=urlsafe, pad=pad)) == value


def test_decode_base64_large_text_is_decoded_and_large_binary_rejected_fast() -> None:
    text = f"{NAME},{ID_NO},{PHONE}\n" * 20_000
    assert decode_base64(b64(text)) == text
    blob = base64.b64encode(bytes(range(256)) * 20_000).decode()
    start = time.perf_counter()
    assert decode_base64(blob) is None
    assert time.perf_counter() - start < 0.01


@pytest.mark.parametrize(
    "value, expected",
    [
        ("&#24352;&#19977;", "张三"),
        ("&#x5f20;&#X4E09;", "张三"),
        ("a&amp;b&lt;", "a&b<"),
        ("AT&T", None),
        ("&#;", None),
        ("no refs", None),
    ],
)
def test_decode_html_entities(value: str, expected: str | None) -> None:
    assert decode_html_entities(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (r"\u5f20\u4e09", "张三"),
        (r"\ud83d\ude00!", "\U0001f600!"),
        (r"\U0001F600", "\U0001f600"),
        (r"\xe5\xbc\xa0\xe4\xb8\x89", "张三"),
        (r"\xd5\xc5\xc8\xfd", "张三"),  # GBK bytes
        (r"caf\xe9", "café"),  # a single JavaScript \xHH code point
        (r"\ud800x", "\ufffdx"),  # lone surrogate
        (r"C:\path", None),
        ("plain", None),
    ],
)
def test_decode_unicode_escapes(value: str, expected: str | None) -> None:
    assert decode_unicode_escapes(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("&#8364;100", "€100"),
        ("&#x20AC;", "€"),
        ("&#0;&#55296;&#1114112;", "&#0;&#55296;&#1114112;"),  # invalid code points stay
        ("&amp;", "&amp;"),  # named references are not numeric references
    ],
)
def test_unescape_numeric_refs(value: str, expected: str) -> None:
    assert unescape_numeric_refs(value) == expected


@pytest.mark.parametrize(
    "data, expected",
    [
        (NAME.encode(), (NAME, "utf-8")),
        (NAME.encode("gb18030"), (NAME, "gb18030")),
        ("\ufffd".encode(), ("\ufffd", "utf-8")),
        (b"ascii", ("ascii", "utf-8")),
        (b"\xff\xfe\xfd", None),
        (bytes([0x81, 0x30, 0x81, 0x30]), None),  # valid GB18030, but not common CJK
    ],
)
def test_decode_bytes_text(data: bytes, expected: tuple[str, str] | None) -> None:
    assert decode_bytes_text(data) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("abc\tdef\n", True),
        ("a\x00b", False),
        ("", False),
        ("a\x01" * 3, False),
        ("x" * 40 + "\x01", True),
    ],
)
def test_plausible_text(text: str, expected: bool) -> None:
    assert plausible_text(text) is expected


def test_percent_decode_bytes_plus_rule() -> None:
    assert percent_decode_bytes("a+b%20c", plus_is_space=True) == b"a b c"
    assert percent_decode_bytes("a+b%20c") == b"a+b c"
    assert percent_decode_bytes(b"%D5%C5") == b"\xd5\xc5"


@pytest.mark.parametrize(
    "value, expected",
    [
        # double percent-encoding
        (quote(quote(ID_NO + NAME)), (ID_NO + NAME, ("percent", "percent"))),
        # base64 inside percent (a base64 value in a query string)
        (quote(b64(f"{NAME}:{PHONE}!"), safe=""), (f"{NAME}:{PHONE}!", ("percent", "base64"))),
        # percent inside base64
        (b64(quote(f"{NAME}:{PHONE}")), (f"{NAME}:{PHONE}", ("base64", "percent"))),
        # three layers
        (
            quote(b64(b64(f"{NAME}{PHONE}")), safe=""),
            (f"{NAME}{PHONE}", ("percent", "base64", "base64")),
        ),
        # HTML references inside percent
        (quote("&#24352;&#19977;"), ("张三", ("percent", "html"))),
        # unicode escapes inside a JSON-ish string
        (r"{\"name\":\"\u5f20\u4e09\"}", ('{\\"name\\":\\"张三\\"}', ("unicode_escape",))),
    ],
)
def test_decode_layers_chains(value: str, expected: tuple[str, tuple[str, ...]]) -> None:
    assert expected in decode_layers(value)


def test_decode_layers_depth_is_bounded() -> None:
    value = NAME
    for _ in range(5):
        value = quote(value, safe="")
    variants = decode_layers(value, max_depth=3)
    assert max(len(chain) for _, chain in variants) == 3
    assert all(text != NAME for text, _ in variants)
    assert (NAME, ("percent",) * 5) in decode_layers(value, max_depth=5)


@pytest.mark.parametrize("value", ["hello", PHONE, ID_NO, NAME, "zhangsan", "a b c", ""])
def test_plain_values_have_no_variants(value: str) -> None:
    assert decode_layers(value) == []


def test_plain_values_are_cheap() -> None:
    values = ["hello world", PHONE, ID_NO, NAME, "zhangsan", "abc@example.com", "true", "42"]
    n = 20_000
    start = time.perf_counter()
    for _ in range(n):
        for v in values:
            decode_layers(v)
    per_value_us = (time.perf_counter() - start) / (n * len(values)) * 1e6
    # ~0.3-0.7 us each on a laptop; generous bound for slow CI machines.
    assert per_value_us < 5


# --- round trips -------------------------------------------------------------------------------

_text = st.text(alphabet=st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40)


@given(_text)
def test_percent_round_trip(value: str) -> None:
    encoded = quote(value, safe="")
    if encoded == value:
        return
    assert (value, ("percent",)) in decode_layers(encoded)


@given(_text)
def test_double_percent_round_trip(value: str) -> None:
    encoded = quote(quote(value, safe=""), safe="")
    if quote(value, safe="") == value:
        return
    assert (value, ("percent", "percent")) in decode_layers(encoded)


@settings(max_examples=200)
@given(_text.filter(lambda s: len(s.encode()) >= 6), st.booleans(), st.booleans())
def test_base64_round_trip(value: str, urlsafe: bool, pad: bool) -> None:
    encoded = b64(value, urlsafe=urlsafe, pad=pad)
    # Promised back: plausible text whose encoding is not shaped like a word or a code (all
    # letters, or no lower-case letter), which are deliberately left alone.
    assume(plausible_text(value))
    assume(not encoded.isalpha() and not encoded.rstrip("=").isupper())
    assert decode_base64(encoded) == value


@given(_text)
def test_html_numeric_refs_round_trip(value: str) -> None:
    encoded = "".join(f"&#{ord(c)};" for c in value)
    assert decode_html_entities(encoded) == value
    assert unescape_numeric_refs(encoded) == value


@given(_text)
def test_unicode_escape_round_trip(value: str) -> None:
    # Every UTF-16 code unit as \uXXXX (surrogate pairs beyond the BMP), as JavaScript does.
    units = value.encode("utf-16-be")
    encoded = "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))
    assert decode_unicode_escapes(encoded) == value


def test_html_escape_of_markup() -> None:
    assert decode_html_entities(html.escape('<a href="x">')) == '<a href="x">'


_ESCAPE_PIECES = st.sampled_from(
    ["\\u0041", "\\ud83d\\ude00", "\\ud83d", "x", "\\", "\\n", "\\u12", "\\x41", "\\xe5\\xbc\\xa0",
     "\\U0001F600", "好", "\\uZZZZ", "\\u00e9", "\\u5f20"]
)  # fmt: skip


@given(st.lists(_ESCAPE_PIECES, min_size=1, max_size=10).map("".join))
def test_unicode_escape_fast_path_equals_token_by_token(value: str) -> None:
    # Values whose every backslash starts a \uXXXX go through the C codec; the result must be
    # what decoding escape by escape gives.
    text = _ESCAPE_TOKEN_RE.sub(_escape_token, value)
    if _SURROGATE_RE.search(text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    expected = text if text != value else None
    assert decode_unicode_escapes(value) == expected


@settings(max_examples=500)
@given(st.lists(st.sampled_from([b"%", b"%4", b"%41", b"%e5", b"%zz", b"\\", b"\\x41", b"a",
                                 b"+", b"\x00", b"\xff", b"%%", b"'", b'"', b"\n"]),
                max_size=12).map(b"".join))  # fmt: skip
def test_percent_decoding_equals_urllib(data: bytes) -> None:
    """The C fast path (every "%" a valid escape) and the fallback both decode as urllib does."""
    assert percent_decode_bytes(data) == unquote_to_bytes(data)
    assert percent_decode_bytes(data, plus_is_space=True) == unquote_to_bytes(
        data.replace(b"+", b" ")
    )
