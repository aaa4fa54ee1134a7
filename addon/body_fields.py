"""Request and WebSocket bodies as fields: forms, JSON, GraphQL, NDJSON, multipart, text, binary.

The body has already been through Content-Encoding (:mod:`addon.bodies`); here it is read by its
declared type, or sniffed when the type is text/plain, absent or unknown (``navigator.sendBeacon``
sends text/plain or Blob types). Locations and paths follow the convention documented in
:mod:`addon.request_fields`.
"""

from __future__ import annotations

import json
import re

from addon.bodies import ContentType, decode_text, normalize_charset, parse_content_type
from addon.field_collector import FieldCollector
from addon.multipart import Part, split_multipart
from detectors.decoders import decode_bytes_text, plausible_text
from detectors.model import Field, PathStep
from detectors.structure import (
    KEY,
    decode_pairs,
    key_is_safe,
    key_label,
    split_urlencoded,
    urlencoded_fields,
)

__all__ = ["FILENAME", "parse_body"]

# Path step after a multipart part index: the value is the part's filename parameter.
FILENAME = "\x00filename"

# A whole body that is application/x-www-form-urlencoded (sniffing text/plain and untyped).
_FORM_BODY_RE = re.compile(rb"[\w.\-\[\]%$:*~!+]+=[^&\s]*(?:&+[\w.\-\[\]%$:*~!+]+(?:=[^&\s]*)?)*&*")
# UTF-8 text runs in a binary body (protobuf and similar carry strings as plain UTF-8).
# At least 6 characters, or 2 multi-byte ones (a Chinese name is 2-3 characters).
_MB = rb"(?:[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3})"
_TEXT_RUN_RE = re.compile(rb"(?:[\x20-\x7e]|%s){6,}|%s{2,}" % (_MB, _MB))
_TEXT_CANDIDATE_RE = re.compile(rb"[\x20-\x7e\x80-\xf4]{4,}")
_MIME_TOKEN_RE = re.compile(r"[\w.+-]+/[\w.+-]+")

_JSON_TYPES = frozenset(
    {
        "application/json",
        "text/json",
        "application/x-json",
        "application/graphql+json",
        "application/problem+json",
        "application/csp-report",
        "application/reports+json",
    }
)
_NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonl",
        "application/jsonlines",
        "application/x-jsonlines",
        "application/json-seq",
    }
)
_MEDIA_PREFIXES = ("image/", "audio/", "video/", "font/", "model/")
_ARCHIVE_TYPES = frozenset(
    {
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/pdf",
        "application/wasm",
        "application/x-bzip2",
        "application/x-xz",
        "application/zstd",
    }
)


def parse_body(
    data: bytes, ctype: ContentType, prefix: str, enc: tuple[str, ...], out: FieldCollector
) -> None:
    """Add the fields of a decoded body to ``out``; ``enc`` are the Content-Encodings undone.

    Dispatches on the declared type; text/plain, untyped and unknown types are sniffed.
    """
    mime = ctype.mime
    if not data:
        return
    if mime == "application/x-www-form-urlencoded":
        _form_body(data, ctype, prefix, enc, out)
    elif mime.startswith("multipart/"):
        _multipart_body(data, ctype, prefix, enc, out)
    elif mime in _JSON_TYPES or mime.endswith("+json"):
        _json_body(data, ctype, prefix, enc, out, declared=True)
    elif mime in _NDJSON_TYPES:
        _ndjson_body(data, ctype, prefix, enc, out)
    elif mime.startswith(_MEDIA_PREFIXES) or mime in _ARCHIVE_TYPES:
        out.result.body_format = "binary"
        out.issue(
            "binary_body",
            f"{prefix}body",
            f"{_mime_label(mime)} body of {len(data)} bytes is binary and was not scanned",
        )
    elif (mime.startswith("text/") and mime != "text/plain") or mime.endswith(("+xml", "/xml")):
        _text_body(data, ctype, prefix, enc, out)
    else:
        _sniff_body(data, ctype, prefix, enc, out)


def _mime_label(mime: str) -> str:
    return mime if _MIME_TOKEN_RE.fullmatch(mime) else "untyped"


def _looks_binary(data: bytes) -> bool:
    """Binary when the first 4 KiB hold a NUL or do not decode as plausible text."""
    head = data[:4096]
    if 0 in head:  # a NUL byte (an int needle: no TypeError round trip, see structure.py)
        return True
    if head.isascii():
        return not plausible_text(head.decode("ascii"))
    # Cut at most 3 bytes of a split UTF-8 / 1 of a GB18030 sequence at the probe's end.
    for cut in range(4 if len(data) > len(head) else 1):
        decoded = decode_bytes_text(head[: len(head) - cut])
        if decoded is not None:
            return not plausible_text(decoded[0])
    return True


def _sniff_body(
    data: bytes, ctype: ContentType, prefix: str, enc: tuple[str, ...], out: FieldCollector
) -> None:
    """text/plain, beacons and untyped bodies: JSON? NDJSON? urlencoded? multipart? text."""
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        _json_body(data, ctype, prefix, enc, out, declared=False)
    elif ord("=") in data[:4096] and _FORM_BODY_RE.fullmatch(data.rstrip(b"\r\n")):
        _form_body(data, ctype, prefix, enc, out)
    elif head.startswith(b"--") and b"content-disposition" in data[:2048].lower():
        boundary = data.lstrip(b"\r\n").split(b"\n", 1)[0].strip()[2:].decode("latin-1")
        params = {**ctype.params, "boundary": boundary}
        _multipart_body(data, ContentType("multipart/form-data", params), prefix, enc, out)
    elif _looks_binary(data):
        _binary_body(data, prefix, out)
    else:
        _text_body(data, ctype, prefix, enc, out)


def _text_body(
    data: bytes, ctype: ContentType, prefix: str, enc: tuple[str, ...], out: FieldCollector
) -> None:
    """The whole body as one field ``body``."""
    text, charset = decode_text(data, ctype.charset, f"{prefix}body", out.issues)
    out.result.body_format = out.result.body_format or "text"
    out.result.body_charset = out.result.body_charset or charset
    out.add(Field(f"{prefix}body", text, "text", (), None, (), (*enc, charset)))


def _binary_body(data: bytes, prefix: str, out: FieldCollector) -> None:
    """Only the UTF-8 text runs of a binary body (protobuf strings, etc.), one field each."""
    out.result.body_format = "binary"
    out.issue(
        "binary_body",
        f"{prefix}body",
        f"body of {len(data)} bytes is binary; only its text runs were scanned",
    )
    # A one-class regex finds candidate spans fast (the exact UTF-8 regex costs ~100 ns per
    # byte of binary data); only candidates that are not clean UTF-8 go through the exact one.
    for cand in _TEXT_CANDIDATE_RE.finditer(data):
        chunk = cand.group()
        try:
            runs = [(cand.start(), chunk.decode("utf-8"))] if _TEXT_RUN_RE.fullmatch(chunk) else []
        except UnicodeDecodeError:
            runs = []
        if not runs:
            runs = [
                (cand.start() + m.start(), m.group().decode("utf-8"))
                for m in _TEXT_RUN_RE.finditer(chunk)
            ]
        for offset, text in runs:
            out.add(
                Field(f"{prefix}binary@{offset}", text, "binary", (offset,), None, (), ("utf-8",))
            )
        if len(out.fields) >= out.limits.max_fields:
            break


def _form_body(
    data: bytes, ctype: ContentType, prefix: str, enc: tuple[str, ...], out: FieldCollector
) -> None:
    """application/x-www-form-urlencoded with ONE charset per request (cn-pii.md).

    Explicit ``charset=`` wins, then a ``_charset_`` field (HTML forms send it when they have
    one); else strict UTF-8 if every name and value decodes; else GB18030. A declared charset
    that does not decode the body falls back to that guess and is reported.
    """
    raw = split_urlencoded(data)
    explicit = normalize_charset(ctype.charset)
    if explicit is None:
        for name, value in raw:
            if name == b"_charset_" and value:
                explicit = normalize_charset(value.decode("latin-1"))
                break
    loc = f"{prefix}form"
    if ctype.charset and explicit is None:
        out.issue("charset_error", loc, "unknown charset label; the charset was guessed")
    pairs = decode_pairs(raw, explicit)
    if pairs.lossy and explicit is not None:
        guessed = decode_pairs(raw)
        if not guessed.lossy:
            out.issue(
                "charset_error",
                loc,
                f"declared charset {explicit} does not decode the form; decoded as "
                f"{guessed.charset}",
            )
            pairs = guessed
    if pairs.lossy:
        out.issue(
            "charset_error",
            loc,
            f"form is not valid {pairs.charset}; undecodable bytes were replaced",
        )
    out.result.body_format = "form"
    out.result.body_charset = pairs.charset
    out.add_all(
        urlencoded_fields(
            pairs.pairs,
            "form",
            loc,
            encodings=(*enc, pairs.charset),
            ncr=True,
            skip_value=out.skip_clean if out.gate is not None else None,
        )
    )


def _is_graphql(obj: object) -> bool:
    """A GraphQL request: an object with a ``variables`` object and a ``query`` string."""
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("variables"), dict)
        and (isinstance(obj.get("query"), str) or isinstance(obj.get("operationName"), str))
    )


def _json_body(
    data: bytes,
    ctype: ContentType,
    prefix: str,
    enc: tuple[str, ...],
    out: FieldCollector,
    *,
    declared: bool,
) -> None:
    """JSON (GraphQL when it looks like it); invalid JSON: NDJSON if every line is, else text."""
    loc = f"{prefix}json"
    text, charset = decode_text(data, ctype.charset, loc, out.issues)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        if "\n" in text.strip() and _ndjson_text(text, prefix, (*enc, charset), out, strict=True):
            out.result.body_charset = charset
            return
        if declared:
            out.issue(
                "invalid_json",
                loc,
                f"body is not valid JSON ({exc.msg} at character {exc.pos}); it is scanned as text",
            )
        _text_field(text, charset, prefix, enc, out)
        return
    except RecursionError:
        out.issue(
            "depth_limit",
            loc,
            "JSON nested too deeply to parse; it is scanned as text",
        )
        _text_field(text, charset, prefix, enc, out)
        return
    out.result.body_charset = charset
    encodings = (*enc, charset)
    batch = isinstance(obj, list) and obj and all(_is_graphql(o) for o in obj)
    if _is_graphql(obj) or batch:
        out.result.body_format = "graphql"
        out.add_json(obj, "graphql", f"{prefix}graphql", encodings=encodings)
        return
    out.result.body_format = "json"
    out.add_json(obj, "json", loc, encodings=encodings)


def _text_field(
    text: str, charset: str, prefix: str, enc: tuple[str, ...], out: FieldCollector
) -> None:
    out.result.body_format = "text"
    out.result.body_charset = charset
    out.add(Field(f"{prefix}body", text, "text", (), None, (), (*enc, charset)))


def _ndjson_body(
    data: bytes, ctype: ContentType, prefix: str, enc: tuple[str, ...], out: FieldCollector
) -> None:
    text, charset = decode_text(data, ctype.charset, f"{prefix}ndjson", out.issues)
    out.result.body_charset = charset
    _ndjson_text(text, prefix, (*enc, charset), out, strict=False)


def _ndjson_text(
    text: str, prefix: str, encodings: tuple[str, ...], out: FieldCollector, *, strict: bool
) -> bool:
    """One JSON document per line; invalid lines are scanned as text (unless ``strict``).

    With ``strict`` nothing is added and False is returned when any non-empty line is not JSON
    (used when sniffing). ``application/json-seq`` record separators are ignored.
    """
    parsed: list[tuple[int, object | None, str]] = []
    for i, line in enumerate(text.split("\n")):
        stripped = line.strip().strip("\x1e")
        if not stripped:
            continue
        try:
            parsed.append((i, json.loads(stripped), stripped))
        except (ValueError, RecursionError):
            if strict:
                return False
            parsed.append((i, None, stripped))
    out.result.body_format = "ndjson"
    for i, obj, line in parsed:
        loc = f"{prefix}ndjson[{i}]"
        if obj is None:
            out.issue("invalid_json", loc, "line is not valid JSON; it is scanned as text")
            out.add(Field(loc, line, "ndjson", (i,), None, (), encodings))
            continue
        out.add_json(obj, "ndjson", loc, (i,), encodings=encodings)
    return True


# --- multipart ---------------------------------------------------------------------------------

_TEXTY_SUFFIXES = (
    "+json",
    "+xml",
    "/json",
    "/xml",
    "/csv",
    "/javascript",
    "/x-www-form-urlencoded",
)


def _texty(mime: str) -> bool:
    return mime.startswith("text/") or mime.endswith(_TEXTY_SUFFIXES) or mime in _NDJSON_TYPES


def _multipart_body(
    data: bytes, ctype: ContentType, prefix: str, enc: tuple[str, ...], out: FieldCollector
) -> None:
    """Text parts, text-like file parts (up to ``max_file_part``); binary parts are noted."""
    loc = f"{prefix}multipart"
    boundary = ctype.params.get("boundary")
    if not boundary:
        out.issue("broken_multipart", loc, "multipart body without a boundary parameter")
        first = data.lstrip(b"\r\n").split(b"\n", 1)[0].strip()
        if not first.startswith(b"--") or len(first) < 3:
            _text_body(data, ContentType("", {}), prefix, enc, out)
            return
        boundary = first[2:].decode("latin-1")
    parts = split_multipart(data, boundary, loc, out.issues)
    out.result.body_format = "multipart"
    if not parts:
        _text_body(data, ContentType("", {}), prefix, enc, out)
        return
    # One charset for the text (non-file) parts, decided like a form's.
    explicit = normalize_charset(ctype.charset)
    for part in parts:
        if part.name == "_charset_" and part.filename is None and explicit is None:
            explicit = normalize_charset(part.content.decode("latin-1").strip())
    text_parts = [p for p in parts if p.filename is None and _part_mime(p) in ("", "text/plain")]
    charset = explicit
    if charset is None:
        charset = "utf-8"
        for part in text_parts:
            if not part.content.isascii() and _strict_fails(part.content, "utf-8"):
                charset = "gb18030"
                break
    out.result.body_charset = charset
    for part in parts:
        _multipart_part(part, charset, prefix, enc, out, is_text=part in text_parts)


def _part_mime(part: Part) -> str:
    return part.content_type.partition(";")[0].strip()


def _multipart_part(
    part: Part,
    charset: str,
    prefix: str,
    enc: tuple[str, ...],
    out: FieldCollector,
    *,
    is_text: bool,
) -> None:
    name = part.name
    loc = f"{prefix}multipart.{key_label(name)}" if name else f"{prefix}multipart[{part.index}]"
    path: tuple[PathStep, ...] = (part.index,)
    labels: tuple[str, ...] = ()
    if not key_is_safe(name):
        out.add(Field(loc, name, "multipart", (*path, KEY)))
    if part.filename:
        out.add(Field(f"{loc}.filename", part.filename, "multipart", (*path, FILENAME), "filename"))
        if key_is_safe(part.filename):
            labels = (part.filename,)
    content = part.content
    if is_text:
        text = content.decode(charset, "replace")
        if "\ufffd" in text and _strict_fails(content, charset):
            out.issue(
                "charset_error", loc, f"part is not valid {charset}; undecodable bytes replaced"
            )
        out.add(Field(loc, text, "multipart", path, name or None, labels, (*enc, charset)))
        return
    mime = _part_mime(part)
    part_ctype = parse_content_type(part.content_type)
    if not (
        _texty(mime) or (mime in ("", "application/octet-stream") and not _looks_binary(content))
    ):
        out.issue(
            "binary_part",
            loc,
            f"multipart part {part.index} ({_mime_label(mime) if mime else 'untyped'}, "
            f"{len(content)} bytes) is binary and was not scanned",
        )
        return
    if len(content) > out.limits.max_file_part:
        out.issue(
            "too_large",
            loc,
            f"file part {part.index} has {len(content)} bytes; only the first "
            f"{out.limits.max_file_part} are scanned",
        )
        content = content[: out.limits.max_file_part]
    text, part_charset = decode_text(content, part_ctype.charset, loc, out.issues)
    out.add(Field(loc, text, "multipart", path, name or None, labels, (*enc, part_charset)))


def _strict_fails(data: bytes, charset: str) -> bool:
    try:
        data.decode(charset)
    except UnicodeDecodeError:
        return True
    return False
