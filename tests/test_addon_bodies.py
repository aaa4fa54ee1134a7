"""Content-Encoding decoding with a hard cap, Content-Type parsing, charset choice."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from addon.bodies import decode_content, decode_text, normalize_charset, parse_content_type
from detectors.model import ScanIssue

NAME = "张三丰"
TEXT = ("姓名=" + NAME + "&tel=13800001111\n").encode() * 200


@pytest.mark.parametrize(
    "header, mime, params",
    [
        (None, "", {}),
        ("", "", {}),
        ("application/JSON", "application/json", {}),
        ("text/plain; Charset=GBK", "text/plain", {"charset": "gbk"}),
        ('multipart/form-data; boundary="a b;c"', "multipart/form-data", {"boundary": "a b;c"}),
        ("multipart/form-data; boundary=AbC", "multipart/form-data", {"boundary": "AbC"}),
        ("text/plain; junk; charset=utf-8", "text/plain", {"charset": "utf-8"}),
    ],
)
def test_parse_content_type(header: str | None, mime: str, params: dict[str, str]) -> None:
    ct = parse_content_type(header)
    assert (ct.mime, ct.params) == (mime, params)
    # Cached and shared: the second parse is the same object, and nobody can change it.
    assert parse_content_type(header) is ct
    with pytest.raises(TypeError):
        ct.params["charset"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    "label, expected",
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("x-gbk", "gb18030"),
        ("UTF8", "utf-8"),
        ('"utf-8"', "utf-8"),
        ("big5", "big5"),
        ("latin1", "iso8859-1"),
        ("nonsense", None),
        (None, None),
        ("", None),
    ],
)
def test_normalize_charset(label: str | None, expected: str | None) -> None:
    assert normalize_charset(label) == expected


@pytest.mark.parametrize(
    "data, declared, expected_charset, expected_kinds",
    [
        (NAME.encode(), None, "utf-8", []),
        (NAME.encode("gbk"), None, "gb18030", []),
        (NAME.encode("gbk"), "gbk", "gb18030", []),
        (b"\xef\xbb\xbf" + NAME.encode(), None, "utf-8", []),
        # declared charset that does not decode: the guess is used and reported
        (NAME.encode("gbk"), "utf-8", "gb18030", ["charset_error"]),
        # unknown label: guessed and reported
        (NAME.encode(), "x-unknown", "utf-8", ["charset_error"]),
        # nothing decodes: replaced and reported
        (b"\xff\xfe\x80abc", None, "utf-8", ["charset_error"]),
    ],
)
def test_decode_text(
    data: bytes, declared: str | None, expected_charset: str, expected_kinds: list[str]
) -> None:
    issues: list[ScanIssue] = []
    text, charset = decode_text(data, declared, "body", issues)
    assert charset == expected_charset
    assert [i.kind for i in issues] == expected_kinds
    if not expected_kinds or (expected_kinds == ["charset_error"] and b"\xff" not in data):
        assert text == NAME


@pytest.mark.parametrize(
    "coding, encoded",
    [
        ("gzip", gzip.compress(TEXT, mtime=0)),
        ("GZIP", gzip.compress(TEXT, mtime=0)),
        ("deflate", zlib.compress(TEXT)),
        ("br", brotli.compress(TEXT)),
        ("zstd", zstandard.ZstdCompressor().compress(TEXT)),
        ("deflate, gzip", gzip.compress(zlib.compress(TEXT), mtime=0)),
        ("identity, br", brotli.compress(TEXT)),
        (None, TEXT),
        ("", TEXT),
    ],
)
def test_decode_content(coding: str | None, encoded: bytes) -> None:
    decoded = decode_content(encoded, coding, 1 << 20)
    assert decoded.data == TEXT
    assert decoded.issues == []
    expected = [c.strip().lower() for c in (coding or "").split(",") if c.strip()]
    assert decoded.encodings == tuple(c for c in reversed(expected) if c != "identity")


def test_gzip_with_nul_padding() -> None:
    decoded = decode_content(gzip.compress(TEXT) + b"\x00" * 8, "gzip", 1 << 20)
    assert decoded.data == TEXT and decoded.issues == []


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_cap_is_exact_for_every_coding(coding: str) -> None:
    big = bytes(5 << 20)
    encoded = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "br": brotli.compress,
        "zstd": zstandard.ZstdCompressor().compress,
    }[coding](big)
    decoded = decode_content(encoded, coding, 1 << 20)
    assert len(decoded.data) == 1 << 20
    assert [i.kind for i in decoded.issues] == ["decompression_bomb"]


def test_plain_body_over_the_cap() -> None:
    decoded = decode_content(b"x" * 100, None, 10)
    assert decoded.data == b"x" * 10
    assert [i.kind for i in decoded.issues] == ["too_large"]


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_corrupt_stream_is_scanned_as_received(coding: str) -> None:
    decoded = decode_content(b"not compressed at all", coding, 1 << 20)
    assert decoded.data == b"not compressed at all"
    assert decoded.encodings == ()
    assert [i.kind for i in decoded.issues] == ["decompression_error"]


def test_corruption_in_the_middle_keeps_the_decoded_prefix() -> None:
    text = "".join(f"row {i} tel 1380000{i % 10000:04d}\n" for i in range(50_000)).encode()
    encoded = bytearray(gzip.compress(text))
    encoded[len(encoded) * 3 // 4] ^= 0xFF
    decoded = decode_content(bytes(encoded), "gzip", 1 << 22)
    assert [i.kind for i in decoded.issues] == ["decompression_error"]
    assert len(decoded.data) > 100_000
    assert text.startswith(decoded.data[:100_000])


def test_unknown_coding_stops_and_reports() -> None:
    decoded = decode_content(gzip.compress(TEXT), "gzip, compress", 1 << 20)
    assert [i.kind for i in decoded.issues] == ["unknown_encoding"]
    assert decoded.encodings == ()
