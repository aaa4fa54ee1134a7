"""Request bodies as bytes and text: Content-Encoding, Content-Type parameters and charsets.

Content-Encoding (RFC 9110 section 8.4): a comma-separated list of codings in the order they
were applied, so they are undone last first. Supported: ``gzip``/``x-gzip`` (also several
concatenated members), ``deflate`` (zlib-wrapped as the RFC says, and raw deflate as some
clients send), ``br`` and ``zstd`` (also several frames), ``identity``. Every decompressor runs
as a stream with a hard output cap, so a compression bomb costs at most about the cap in memory
and time and is reported as ``decompression_bomb``; a truncated or corrupt stream keeps what
was decoded before the damage and is reported as ``decompression_error``.

Charsets follow cn-pii.md: an explicit ``charset=`` wins (GBK-family labels are decoded as
GB18030, their superset, as browsers do); otherwise strict UTF-8; otherwise GB18030; never
GB18030 first, because UTF-8 bytes also decode as GB18030 without error.
"""

from __future__ import annotations

import codecs
import functools
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import brotli
import zstandard

from detectors.model import ScanIssue

__all__ = [
    "ContentType",
    "DecodedBody",
    "decode_content",
    "decode_text",
    "normalize_charset",
    "parse_content_type",
]

# Input is fed to decompressors in chunks of this size; with zlib and brotli the output per step
# is capped exactly, with zstd (no output cap in its streaming API) one step of this many input
# bytes can produce at most ~8 MiB (RLE blocks), which bounds the overshoot past the cap.
_ZSTD_IN_CHUNK = 256
_OUT_CHUNK = 1 << 20

# Labels that mean "GBK family": decoded with GB18030, a superset that also covers the
# characters GBK encoders emit for the euro sign and other additions.
_GB_FAMILY = frozenset(
    {
        "gb2312",
        "gbk",
        "x-gbk",
        "cp936",
        "ms936",
        "gb_2312-80",
        "gb_2312",
        "euc-cn",
        "gb18030",
        "csgb2312",
        "chinese",
        "iso-ir-58",
        "windows-936",
    }
)
_PARAM_RE = re.compile(
    r"""(?x) ;\s* ([\w*.!#$&^`|~+-]+) \s*=\s* (?: "((?:[^"\\]|\\.)*)" | ([^;]*) )"""
)
_UTF8_LABELS = frozenset({"utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8"})


@dataclass(frozen=True, slots=True)
class ContentType:
    """A parsed Content-Type: lower-case ``mime`` (``""`` when absent) and its parameters."""

    mime: str
    params: Mapping[str, str]

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter as given (lower-case), or None."""
        return self.params.get("charset")


@functools.lru_cache(maxsize=512)
def parse_content_type(header: str | None) -> ContentType:
    """Parse ``type/subtype; name=value; name="quoted; value"`` leniently (never raises).

    Parameter names and values are lower-cased, except ``boundary`` (case-sensitive).
    Cached: a browser sends a handful of Content-Types over and over, and each parse cost
    2-4 us; ``params`` is read-only, since the result is shared.
    """
    if not header:
        return ContentType("", MappingProxyType({}))
    mime, sep, rest = header.partition(";")
    params: dict[str, str] = {}
    for m in _PARAM_RE.finditer(sep + rest):
        name = m.group(1).lower()
        value = m.group(2).replace('\\"', '"') if m.group(2) is not None else m.group(3).strip()
        params[name] = value if name == "boundary" else value.lower()
    return ContentType(mime.strip().lower(), MappingProxyType(params))


def normalize_charset(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when absent or unknown.

    GBK-family labels map to ``gb18030``; UTF-8 labels to ``utf-8``; anything else must be known
    to :func:`codecs.lookup`.
    """
    if not label:
        return None
    label = label.strip().strip('"').lower()
    if label in _GB_FAMILY:
        return "gb18030"
    if label in _UTF8_LABELS:
        return "utf-8"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _strict_decode(data: bytes, charset: str) -> str | None:
    """``data`` decoded as ``charset``, or None when it does not decode (one pass: a 1 MB body
    was decoded twice, once to check and once to use)."""
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        return None


def decode_text(
    data: bytes, explicit: str | None, location: str, issues: list[ScanIssue]
) -> tuple[str, str]:
    """Decode a whole text body with one charset; return ``(text, charset)``, never raise.

    An explicit charset label wins when it decodes the body; if it is unknown or does not
    decode, UTF-8 then GB18030 are tried and a ``charset_error`` issue is added. Bytes no
    charset decodes become U+FFFD (reported).
    """
    charset = normalize_charset(explicit)
    if explicit and charset is None:
        issues.append(
            ScanIssue("charset_error", location, "unknown charset label; the charset was guessed")
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        charset = charset or "utf-8"
    if charset is not None:
        text = _strict_decode(data, charset)
        if text is not None:
            return text, charset
        declared = charset
    else:
        declared = None
    if data.isascii():
        return data.decode("ascii"), "utf-8"
    for candidate in ("utf-8", "gb18030"):
        text = None if candidate == declared else _strict_decode(data, candidate)
        if text is not None:
            if declared is not None:
                issues.append(
                    ScanIssue(
                        "charset_error",
                        location,
                        f"declared charset {declared} does not decode the body; "
                        f"decoded as {candidate}",
                    )
                )
            return text, candidate
    charset = declared or "utf-8"
    issues.append(
        ScanIssue(
            "charset_error",
            location,
            f"body is not valid {charset}; undecodable bytes were replaced",
        )
    )
    return data.decode(charset, "replace"), charset


@dataclass(slots=True)
class DecodedBody:
    """A body after undoing Content-Encoding: bytes, codings undone (outermost first), issues."""

    data: bytes
    encodings: tuple[str, ...]
    issues: list[ScanIssue]


def _zlib_stream(data: bytes, wbits: int, cap: int) -> Iterator[bytes]:
    """Decompress one or more concatenated zlib/gzip members; raise on damage after yielding."""
    while data:
        d = zlib.decompressobj(wbits)
        buf = data
        while buf and not d.eof:
            out = d.decompress(buf, min(_OUT_CHUNK, cap + 1))
            buf = d.unconsumed_tail
            if out:
                yield out
        if not d.eof:
            out = d.flush()
            if out:
                yield out
            raise EOFError("stream ends before its end marker")
        data = d.unused_data
        if wbits & 16 and data.lstrip(b"\x00") == b"":
            # Some servers pad gzip with NUL bytes; nothing more to decode.
            return


def _deflate_stream(data: bytes, cap: int) -> Iterator[bytes]:
    """``deflate`` as zlib-wrapped (RFC 9110) or, when the header is not zlib's, raw deflate."""
    cmf = data[:2]
    zlib_wrapped = len(cmf) == 2 and cmf[0] & 0x0F == 8 and int.from_bytes(cmf, "big") % 31 == 0
    yield from _zlib_stream(data, zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS, cap)


def _brotli_stream(data: bytes, cap: int) -> Iterator[bytes]:
    d = brotli.Decompressor()
    limit = min(_OUT_CHUNK, cap + 1)
    try:
        out = d.process(data, output_buffer_limit=limit)
        limited = True
    except TypeError:
        # brotli < 1.2 has no output limit: feed small slices (bounded overshoot).
        limited = False
        out = b""
    if limited:
        while True:
            if out:
                yield out
            if d.is_finished() or d.can_accept_more_data():
                break
            out = d.process(b"", output_buffer_limit=limit)
    else:
        for i in range(0, len(data), _ZSTD_IN_CHUNK):
            out = d.process(data[i : i + _ZSTD_IN_CHUNK])
            if out:
                yield out
    if not d.is_finished():
        raise EOFError("stream ends before its end marker")


def _zstd_stream(data: bytes, cap: int) -> Iterator[bytes]:
    del cap  # zstd's streaming decompressor has no output limit; input is sliced instead
    dctx = zstandard.ZstdDecompressor()
    while data:
        d = dctx.decompressobj()
        rest = b""
        for i in range(0, len(data), _ZSTD_IN_CHUNK):
            out = d.decompress(data[i : i + _ZSTD_IN_CHUNK])
            if out:
                yield out
            if d.eof:
                rest = d.unused_data + data[i + _ZSTD_IN_CHUNK :]
                break
        if not d.eof:
            raise EOFError("stream ends before its end marker")
        data = rest


_DECODERS: dict[str, Callable[[bytes, int], Iterator[bytes]]] = {
    "gzip": lambda data, cap: _zlib_stream(data, 16 + zlib.MAX_WBITS, cap),
    "x-gzip": lambda data, cap: _zlib_stream(data, 16 + zlib.MAX_WBITS, cap),
    "deflate": _deflate_stream,
    "br": _brotli_stream,
    "zstd": _zstd_stream,
}
_DECOMPRESS_ERRORS = (zlib.error, brotli.error, zstandard.ZstdError, EOFError, ValueError)


def decode_content(
    raw: bytes, content_encoding: str | None, max_bytes: int, location: str = "body"
) -> DecodedBody:
    """Undo every Content-Encoding of ``raw``, never producing more than ``max_bytes``.

    Unknown codings stop decoding (``unknown_encoding`` issue) and the bytes decoded so far are
    returned; a body over ``max_bytes`` is cut (``decompression_bomb`` when a coding expanded
    it past the cap, ``too_large`` when it arrived that large).
    """
    issues: list[ScanIssue] = []
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    applied: list[str] = []
    data = raw
    for coding in reversed(codings):
        if coding == "identity":
            continue
        decoder = _DECODERS.get(coding)
        if decoder is None:
            issues.append(
                ScanIssue(
                    "unknown_encoding",
                    location,
                    f"Content-Encoding {coding[:32]!r} is not supported; the body is scanned "
                    "as it is",
                )
            )
            break
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in decoder(data, max_bytes):
                chunks.append(chunk)
                total += len(chunk)
                if total > max_bytes:
                    issues.append(
                        ScanIssue(
                            "decompression_bomb",
                            location,
                            f"{coding} body expands beyond the {max_bytes}-byte limit "
                            f"({len(data)} bytes compressed); only the first {max_bytes} "
                            "bytes are scanned",
                        )
                    )
                    break
        except _DECOMPRESS_ERRORS as exc:
            if not chunks:
                # Nothing decodable: maybe the header lies and the body is plain; scan it as is.
                issues.append(
                    ScanIssue(
                        "decompression_error",
                        location,
                        f"{coding} body could not be decoded ({type(exc).__name__}); it is "
                        "scanned as received",
                    )
                )
                break
            issues.append(
                ScanIssue(
                    "decompression_error",
                    location,
                    f"{coding} body is truncated or corrupt ({type(exc).__name__}); "
                    f"the {total} bytes decoded before the damage are scanned",
                )
            )
        data = b"".join(chunks)[:max_bytes]
        applied.append(coding)
        if any(i.kind == "decompression_bomb" for i in issues):
            break
    if len(data) > max_bytes:
        issues.append(
            ScanIssue(
                "too_large",
                location,
                f"body of {len(data)} bytes exceeds the {max_bytes}-byte limit; only the first "
                f"{max_bytes} bytes are scanned",
            )
        )
        data = data[:max_bytes]
    return DecodedBody(data, tuple(applied), issues)
