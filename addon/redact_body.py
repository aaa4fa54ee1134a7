"""Redaction inside a decoded body (or WebSocket message), format by format, bytes in place.

The body is read the way :mod:`addon.request_fields` reads it and only the bytes of the places
to redact are rewritten; everything else (field order, separators, percent-encoding style,
whitespace, multipart boundary and part headers) stays byte for byte:

``form`` (also a query string)  names/values rewritten in the urlencoded bytes, each value
                                percent-decoded with the request's one charset, edited,
                                written back in the same style (``%31`` stays escaped, ``+``
                                stays a space)
``json`` / ``graphql``          only the tokens at the findings' paths (:mod:`addon.redact_json`)
``ndjson``                      the same per line; an invalid line as text
``multipart``                   a part's content, or its ``name``/``filename`` parameter
``text``                        the whole body as text
``binary``                      a UTF-8 text run; each replacement must keep its byte length
                                (protobuf and similar frame strings by length)

Text is decoded with the charset the parser used and ``surrogateescape``, so undecodable bytes
come back unchanged; edits of text become byte edits by encoding the text between them, and a
round trip that does not give back the original bytes raises (the caller fails closed).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Sequence
from functools import cache

from addon.bodies import ContentType, normalize_charset, parse_content_type
from addon.multipart import Part, split_multipart
from addon.redact_json import json_edits
from addon.redact_text import Unit
from addon.redact_views import Edit, ViewError, identity_view, percent_view
from addon.request_fields import FILENAME
from detectors.decoders import percent_decode_bytes
from detectors.structure import KEY, form_plus_is_space

__all__ = [
    "ByteEdit",
    "apply_byte_edits",
    "body_edits",
    "text_byte_edits",
    "urlencoded_edits",
]

ByteEdit = tuple[int, int, bytes]

_BOM = codecs.BOM_UTF8
# A UTF-8 text run of a binary body starting at a field's offset (as long as it goes).
_MB = rb"(?:[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3})"
_TEXT_RUN_RE = re.compile(rb"(?:[\x20-\x7e]|%s)+" % _MB)
_DISPOSITION_RE = re.compile(r"(?im)^content-disposition[ \t]*:([^\r\n]*)")
_PARAM_RE = re.compile(r"""(?ix) ;\s* ([\w*.-]+) \s*=\s* (?: "((?:[^"\\]|\\.)*)" | ([^;]*) )""")
_NDJSON_SKIP = " \t\r\n\x1e"


@cache
def _ascii_compatible(charset: str) -> bool:
    """True when ASCII text encodes to the same bytes in ``charset`` (stateless, 8-bit based)."""
    try:
        probe = "a*1=&%"
        return probe.encode(charset) == probe.encode("ascii") and codecs.lookup(
            charset
        ).name not in (
            "iso2022_jp",
            "iso2022_kr",
            "hz",
            "utf-7",
        )
    except (LookupError, UnicodeError):
        return False


def apply_byte_edits(data: bytes, edits: Sequence[ByteEdit]) -> bytes:
    """``data`` with sorted, non-overlapping byte ``edits`` applied."""
    if not edits:
        return data
    out: list[bytes] = []
    pos = 0
    for start, end, rep in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < pos:
            raise ViewError("overlapping edits")
        out.append(data[pos:start])
        out.append(rep)
        pos = end
    out.append(data[pos:])
    return b"".join(out)


def text_byte_edits(
    text: str, edits: Sequence[Edit], charset: str, data: bytes, base: int
) -> list[ByteEdit]:
    """Edits of ``text`` (``data[base:]`` decoded with ``charset``) as byte edits of ``data``."""
    if not edits:
        return []
    if not _ascii_compatible(charset):
        raise ViewError("charset is not ASCII-compatible")
    out: list[ByteEdit] = []
    ascii_text = text.isascii()
    pos = 0
    offset = base
    for start, end, rep in edits:
        if ascii_text:
            offset = base + start
            old_len = end - start
        else:
            offset += len(text[pos:start].encode(charset, "surrogateescape"))
            old_len = len(text[start:end].encode(charset, "surrogateescape"))
        old = data[offset : offset + old_len]
        if old.decode(charset, "surrogateescape") != text[start:end]:
            raise ViewError("text does not map back onto the body bytes")
        out.append((offset, offset + old_len, rep.encode(charset, "surrogateescape")))
        offset += old_len
        pos = end
    return out


def _latin1_edits(edits: Sequence[Edit], base: int) -> list[ByteEdit]:
    return [(s + base, e + base, r.encode("latin-1")) for s, e, r in edits]


# --- urlencoded --------------------------------------------------------------------------------


def urlencoded_edits(
    raw: bytes, charset: str, units: Sequence[Unit], base: int = 0
) -> list[ByteEdit]:
    """Byte edits of a query string or form body masking the targets of ``units``, whose keys
    are ``(name, occurrence)`` or ``(name, occurrence, KEY)``. Names are matched decoded with
    ``charset`` (as :func:`detectors.structure.decode_pairs` decodes them), and ``+`` read as
    the parser reads it (:func:`detectors.structure.form_plus_is_space`)."""
    by_key = {u.key: u for u in units}
    plus = form_plus_is_space(raw)
    text = raw.decode("latin-1")
    seen: dict[str, int] = {}
    out: list[ByteEdit] = []
    pos = 0
    for item in text.split("&"):
        start = pos
        pos += len(item) + 1
        if not item:
            continue
        name_raw, eq, value_raw = item.partition("=")
        name = percent_decode_bytes(name_raw.encode("latin-1"), plus_is_space=plus).decode(
            charset, "replace"
        )
        occ = seen.get(name, 0)
        seen[name] = occ + 1
        key_unit = by_key.get((name, occ, KEY))
        if key_unit is not None:
            view = percent_view(name_raw, charset, plus=plus, latin1=True)
            out.extend(_latin1_edits(view.map_edits(key_unit.redact(view.decoded)), base + start))
        unit = by_key.get((name, occ))
        if unit is not None and eq:
            view = percent_view(value_raw, charset, plus=plus, latin1=True)
            offset = base + start + len(name_raw) + 1
            out.extend(_latin1_edits(view.map_edits(unit.redact(view.decoded)), offset))
    return out


# --- bodies ------------------------------------------------------------------------------------


def _text_of(data: bytes, charset: str) -> tuple[str, int]:
    """Text of a body as :func:`addon.bodies.decode_text` reads it (a UTF-8 BOM skipped)."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    return data[start:].decode(charset, "surrogateescape"), start


def body_edits(
    data: bytes, ctype: ContentType, units: Sequence[Unit], codings: int
) -> list[ByteEdit]:
    """Byte edits of a decoded body masking the targets of ``units`` (all of one body).

    The charset of each place is the one the parser used: ``unit.charset(codings)``, after the
    ``codings`` Content-Encodings in the units' encodings. Units whose place is not found stay
    unreached.
    """
    by_source: dict[str, list[Unit]] = {}
    for unit in units:
        by_source.setdefault(unit.source, []).append(unit)
    out: list[ByteEdit] = []
    for source, group in by_source.items():
        # One charset per body (per part for multipart, see there).
        charset = group[0].charset(codings)
        if source == "form":
            out.extend(urlencoded_edits(data, charset, group))
        elif source in ("json", "graphql"):
            text, start = _text_of(data, charset)
            pos = len(text) - len(text.lstrip(" \t\r\n"))
            out.extend(text_byte_edits(text, json_edits(text, pos, group), charset, data, start))
        elif source == "ndjson":
            out.extend(_ndjson_edits(data, charset, group))
        elif source == "multipart":
            out.extend(_multipart_edits(data, ctype, group, codings))
        elif source == "text":
            text, start = _text_of(data, charset)
            for unit in group:
                if unit.key == ():
                    out.extend(text_byte_edits(text, unit.redact(text), charset, data, start))
        elif source == "binary":
            out.extend(_binary_edits(data, group))
    return out


def _ndjson_edits(data: bytes, charset: str, units: Sequence[Unit]) -> list[ByteEdit]:
    text, start = _text_of(data, charset)
    by_line: dict[object, list[Unit]] = {}
    for unit in units:
        if unit.key:
            by_line.setdefault(unit.key[0], []).append(unit)
    edits: list[Edit] = []
    pos = 0
    for i, line in enumerate(text.split("\n")):
        line_start = pos
        pos += len(line) + 1
        group = by_line.get(i)
        if not group:
            continue
        lead = len(line) - len(line.lstrip(_NDJSON_SKIP))
        stripped = line.strip().strip("\x1e")
        try:
            json.loads(stripped)
        except (ValueError, RecursionError):
            for unit in group:
                if unit.key == (i,):
                    offset = line_start + line.index(stripped) if stripped else line_start
                    edits.extend((s + offset, e + offset, r) for s, e, r in unit.redact(stripped))
            continue
        edits.extend(json_edits(text, line_start + lead, group, skip=1))
    return text_byte_edits(text, sorted(edits), charset, data, start)


def _boundary(data: bytes, ctype: ContentType) -> str:
    boundary = ctype.params.get("boundary")
    if boundary:
        return boundary
    first = data.lstrip(b"\r\n").split(b"\n", 1)[0].strip()
    return first[2:].decode("latin-1")


def _multipart_edits(
    data: bytes, ctype: ContentType, units: Sequence[Unit], codings: int
) -> list[ByteEdit]:
    boundary = _boundary(data, ctype)
    parts = split_multipart(data, boundary, "multipart", [])
    delim = b"--" + boundary.encode("latin-1", "replace")
    out: list[ByteEdit] = []
    for unit in units:
        index = unit.key[0] if unit.key else None
        if not isinstance(index, int) or not 0 <= index < len(parts):
            continue
        part = parts[index]
        if len(unit.key) == 1:
            charset = unit.charset(codings, _part_charset(part))
            content = data[part.start : part.end]
            text, skip = _text_of(content, charset)
            out.extend(text_byte_edits(text, unit.redact(text), charset, data, part.start + skip))
        elif unit.key[1:] in ((KEY,), (FILENAME,)):
            names = ("name", "name*") if unit.key[1] == KEY else ("filename", "filename*")
            out.extend(_disposition_edits(data, delim, part, unit, names))
    return out


def _part_charset(part: Part) -> str:
    return normalize_charset(parse_content_type(part.content_type).charset) or "utf-8"


def _disposition_edits(
    data: bytes, delim: bytes, part: Part, unit: Unit, names: tuple[str, str]
) -> list[ByteEdit]:
    """Edits of a part's ``name``/``filename`` parameters (quoted, token or RFC 5987)."""
    opening = data.rfind(delim, 0, part.start)
    head_start = data.find(b"\n", opening) + 1
    head = data[head_start : part.start].decode("utf-8", "surrogateescape")
    line = _DISPOSITION_RE.search(head)
    if line is None:
        return []
    value_start = line.start(1)
    value = line.group(1)
    semi = value.find(";")
    if semi < 0:
        return []
    edits: list[Edit] = []
    for m in _PARAM_RE.finditer(value, semi):
        key = m.group(1).lower()
        if key not in names:
            continue
        group = 2 if m.group(2) is not None else 3
        raw = m.group(group)
        offset = value_start + m.start(group)
        if group == 3:
            offset += len(raw) - len(raw.lstrip())
            raw = raw.strip()
        if key.endswith("*"):
            charset_label, _, rest = raw.partition("'")
            _, _, encoded = rest.partition("'")
            charset = normalize_charset(charset_label) or "utf-8"
            offset += len(raw) - len(encoded)
            view = percent_view(encoded, charset, plus=False, latin1=False)
        else:
            view = identity_view(raw, lambda t, _e, _s: t.replace("\\", "\\\\").replace('"', '\\"'))
        edits.extend(
            (s + offset, e + offset, r) for s, e, r in view.map_edits(unit.redact(view.decoded))
        )
    return text_byte_edits(head, sorted(edits), "utf-8", data, head_start)


def _binary_edits(data: bytes, units: Sequence[Unit]) -> list[ByteEdit]:
    """Edits inside UTF-8 text runs of a binary body; lengths must not change."""
    out: list[ByteEdit] = []
    for unit in units:
        offset = unit.key[0] if len(unit.key) == 1 else None
        if not isinstance(offset, int):
            continue
        m = _TEXT_RUN_RE.match(data, offset)
        if m is None:
            continue
        text = m.group().decode("utf-8")
        edits = text_byte_edits(text, unit.redact(text), "utf-8", data, offset)
        if any(len(r) != e - s for s, e, r in edits):
            # A length change would corrupt length-prefixed framing (protobuf): fail closed.
            unit.fail()
            continue
        out.extend(edits)
    return out
