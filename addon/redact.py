"""The ``redact`` action: mask each offending value of an outgoing request in place.

:func:`redact_request` takes the findings the scanner reported for a request and replaces every
copy of each finding's value, at the place the finding names (``Finding.source`` and
``Finding.path``, see :mod:`addon.request_fields`), by its mask (:func:`detectors.masking.mask`:
same length, ``*`` in the middle). The request keeps its format:

* URL path segments and the query string: only the affected segment / pairs are rewritten,
  percent-encoded in the charset and style they had;
* headers (the Referer's query, custom headers) and cookies: only the affected value;
* the body: rewritten in its own format (:mod:`addon.redact_body`): form, JSON, GraphQL,
  NDJSON, multipart, text, text runs of binary bodies; in its charset; re-compressed with the
  same Content-Encoding chain (gzip, deflate zlib-wrapped or raw as it was, br, zstd, stacked);
  Content-Length updated;
* an encoded copy is replaced by the encoding of the masked text (base64 stays base64,
  ``%XX``, HTML references and ``\\uXXXX`` escapes stay so, JSON inside a form field stays JSON).

Fail closed: a finding is reported ``failed`` when its place is not found, cannot be rewritten
(an unsupported Content-Encoding, a truncated body, a length change inside a binary body...),
or when the value is still visible after the edits to a re-reading that decodes like the
scanner does. The request then must not be forwarded (the proxy blocks it); it holds whatever
could be masked. No value is ever logged or put into an exception.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import brotli
import zstandard
from mitmproxy import http

from addon.bodies import ContentType, decode_content, parse_content_type
from addon.redact_body import apply_byte_edits, body_edits, text_byte_edits, urlencoded_edits
from addon.redact_text import Unit
from addon.redact_views import Edit, apply_edits, percent_view
from addon.request_fields import (
    DEFAULT_LIMITS,
    FILENAME,
    ParsedRequest,
    parse_request,
    parse_websocket_message,
)
from detectors.decoders import decode_bytes_text
from detectors.model import Finding, PathStep
from detectors.structure import KEY

__all__ = ["RedactOutcome", "redact_request", "redact_websocket_message", "unit_key"]

logger = logging.getLogger(__name__)

_BODY_SOURCES = frozenset({"form", "json", "graphql", "ndjson", "multipart", "text", "binary"})
_URL_SOURCES = frozenset({"path", "query"})
_HEADER_SOURCES = frozenset({"header", "cookie"})
_KNOWN_SOURCES = _BODY_SOURCES | _URL_SOURCES | _HEADER_SOURCES
_NAME_MARKERS = frozenset({KEY, FILENAME})

UnitMap = dict[tuple[str, tuple[PathStep, ...]], Unit]


@dataclass(slots=True)
class RedactOutcome:
    """``complete`` when every finding's value was replaced; ``failed`` lists the findings whose
    value could not be (the caller must not forward the request); ``replaced`` counts the
    findings redacted."""

    complete: bool
    failed: list[Finding] = field(default_factory=list)
    replaced: int = 0


def unit_key(path: Sequence[PathStep]) -> tuple[PathStep, ...]:
    """The place a path points into: its steps before the first structure marker (a marker that
    designates a name, KEY or FILENAME, is kept: the place is that name)."""
    for i, step in enumerate(path):
        if isinstance(step, str) and step.startswith("\x00"):
            return tuple(path[: i + 1]) if step in _NAME_MARKERS else tuple(path[:i])
    return tuple(path)


def _collect(findings: Sequence[Finding]) -> tuple[UnitMap, list[Unit | None]]:
    units: UnitMap = {}
    per_finding: list[Unit | None] = []
    for finding in findings:
        if not finding.value or finding.source not in _KNOWN_SOURCES:
            per_finding.append(None)
            continue
        key = (finding.source, unit_key(finding.path))
        unit = units.get(key)
        if unit is None:
            # The parser's container-level encodings (Content-Encodings, charset): the
            # finding's chain without the value-level decodings the scanner added.
            encodings = finding.encodings[: len(finding.encodings) - len(finding.value_encodings)]
            unit = units[key] = Unit(finding.source, key[1], finding.location, encodings)
        unit.add(finding.value, finding.masked)
        per_finding.append(unit)
    return units, per_finding


def _outcome(findings: Sequence[Finding], per_finding: Sequence[Unit | None]) -> RedactOutcome:
    redacted: dict[int, set[str]] = {}
    failed: list[Finding] = []
    for finding, unit in zip(findings, per_finding, strict=True):
        if unit is not None and id(unit) not in redacted:
            redacted[id(unit)] = unit.redacted()
        if unit is None or finding.value not in redacted[id(unit)]:
            failed.append(finding)
    return RedactOutcome(not failed, failed, len(findings) - len(failed))


def _guard(units: Iterable[Unit], step: Callable[[], None], what: str) -> None:
    """Run one rewriting step; any error fails its units closed (logged without values)."""
    try:
        step()
    except Exception as exc:
        logger.warning(
            "formshield: cannot redact the %s (%s); the request will be blocked",
            what,
            type(exc).__name__,
        )
        for unit in units:
            unit.fail()


# --- requests ----------------------------------------------------------------------------------


def redact_request(request: http.Request, findings: Sequence[Finding]) -> RedactOutcome:
    """Replace every finding's value in ``request`` by its mask, in place (see the module)."""
    if not findings:
        return RedactOutcome(True)
    units, per_finding = _collect(findings)
    try:
        by_source: dict[str, list[Unit]] = {}
        for unit in units.values():
            by_source.setdefault(unit.source, []).append(unit)
        url_units = [u for s in _URL_SOURCES for u in by_source.get(s, [])]
        header_units = [u for s in _HEADER_SOURCES for u in by_source.get(s, [])]
        body_units = [u for s in _BODY_SOURCES for u in by_source.get(s, [])]
        if url_units:
            _guard(url_units, lambda: _redact_url(request, url_units), "URL")
        if header_units:
            _guard(header_units, lambda: _redact_headers(request, header_units), "headers")
        if body_units:
            _guard(body_units, lambda: _redact_body(request, body_units), "body")
        _verify(parse_request(request), units.values())
    except Exception as exc:  # a bug here must block the request, not crash the flow
        logger.warning(
            "formshield: redaction failed (%s); the request will be blocked", type(exc).__name__
        )
        for unit in units.values():
            unit.fail()
    return _outcome(findings, per_finding)


def _redact_url(request: http.Request, units: Sequence[Unit]) -> None:
    """Rewrite the affected path segments and query pairs; the rest of the URL stays."""
    before_hash, hash_sep, fragment = request.data.path.partition(b"#")
    path, q_sep, query = before_hash.partition(b"?")
    path_units = [u for u in units if u.source == "path"]
    query_units = [u for u in units if u.source == "query"]
    if path_units:
        # The parser decodes all segments with one charset, and all query pairs with one.
        charset = path_units[0].charset(0)
        segments = path.split(b"/")
        for unit in path_units:
            index = unit.key[0] if len(unit.key) == 1 else None
            if not isinstance(index, int) or not 0 <= index < len(segments):
                continue
            raw = segments[index].decode("latin-1")
            view = percent_view(raw, charset, plus=False, latin1=True)
            new = apply_edits(raw, view.map_edits(unit.redact(view.decoded)))
            segments[index] = new.encode("latin-1")
        path = b"/".join(segments)
    if query_units:
        charset = query_units[0].charset(0)
        query = apply_byte_edits(query, urlencoded_edits(query, charset, query_units))
    request.data.path = path + q_sep + query + hash_sep + fragment


def _header_text(value: bytes) -> tuple[str, str]:
    """A header value as the parser reads it: UTF-8, else GB18030 text, else Latin-1."""
    decoded = decode_bytes_text(value)
    return decoded if decoded is not None else (value.decode("latin-1"), "latin-1")


def _redact_headers(request: http.Request, units: Sequence[Unit]) -> None:
    header_units = {u.key: u for u in units if u.source == "header"}
    cookie_units = {u.key: u for u in units if u.source == "cookie"}
    fields = list(request.headers.fields)
    seen: dict[str, int] = {}
    cookies_seen: dict[str, int] = {}
    changed = False
    for index, (raw_name, raw_value) in enumerate(fields):
        name = raw_name.decode("latin-1").lower()
        if name == "cookie":
            if not cookie_units:
                continue
            text, charset = _header_text(raw_value)
            edits = _cookie_edits(text, cookie_units, cookies_seen)
        else:
            occ = seen.get(name, 0)
            seen[name] = occ + 1
            unit = header_units.get((name, occ))
            if unit is None:
                continue
            text, charset = _header_text(raw_value)
            edits = unit.redact(text)
        if edits:
            new = apply_byte_edits(raw_value, text_byte_edits(text, edits, charset, raw_value, 0))
            fields[index] = (raw_name, new)
            changed = True
    if changed:
        request.headers.fields = tuple(fields)


def _cookie_edits(
    text: str, units: dict[tuple[PathStep, ...], Unit], seen: dict[str, int]
) -> list[Edit]:
    """Edits of one Cookie header: ``name=value`` items split at ``;`` as the parser does."""
    out: list[Edit] = []
    pos = 0
    for item in text.split(";"):
        start = pos
        pos += len(item) + 1
        stripped = item.strip()
        lead = start + len(item) - len(item.lstrip())
        cname, eq, cvalue = stripped.partition("=")
        if not cname and not cvalue:
            continue
        if eq:
            value_at = lead + len(cname) + 1
        else:
            cname, cvalue, value_at = "", cname, lead
        occ = seen.get(cname, 0)
        seen[cname] = occ + 1
        key_unit = units.get((cname, occ, KEY))
        if key_unit is not None and eq:
            out.extend((s + lead, e + lead, r) for s, e, r in key_unit.redact(cname))
        unit = units.get((cname, occ))
        if unit is not None:
            out.extend((s + value_at, e + value_at, r) for s, e, r in unit.redact(cvalue))
    return out


def _redact_body(request: http.Request, units: Sequence[Unit]) -> None:
    raw = request.raw_content
    decoded = (
        decode_content(
            raw, request.headers.get("content-encoding"), DEFAULT_LIMITS.max_decoded_bytes
        )
        if raw is not None and len(raw) <= DEFAULT_LIMITS.max_body
        else None
    )
    if decoded is None or decoded.issues:
        # Streamed, cut, undecodable or unknown Content-Encoding: the body as the scanner saw
        # it is not the whole body, and rewriting it could lose data.
        for unit in units:
            unit.fail()
        return
    ctype = parse_content_type(request.headers.get("content-type"))
    edits = body_edits(decoded.data, ctype, units, len(decoded.encodings))
    if not edits:
        return
    data = apply_byte_edits(decoded.data, edits)
    request.raw_content = encode_content(data, decoded.encodings, raw or b"")
    if "transfer-encoding" not in request.headers:
        request.headers["content-length"] = str(len(request.raw_content))


# --- Content-Encoding --------------------------------------------------------------------------


def _zlib_wrapped(data: bytes) -> bool:
    """The test :mod:`addon.bodies` uses to tell zlib-wrapped deflate from raw deflate."""
    cmf = data[:2]
    return len(cmf) == 2 and cmf[0] & 0x0F == 8 and int.from_bytes(cmf, "big") % 31 == 0


def _compress(coding: str, data: bytes, original: bytes) -> bytes:
    if coding in ("gzip", "x-gzip"):
        c = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return c.compress(data) + c.flush()
    if coding == "deflate":
        wbits = zlib.MAX_WBITS if _zlib_wrapped(original) else -zlib.MAX_WBITS
        c = zlib.compressobj(6, zlib.DEFLATED, wbits)
        return c.compress(data) + c.flush()
    if coding == "br":
        return bytes(brotli.compress(data, quality=5))
    if coding == "zstd":
        return bytes(zstandard.ZstdCompressor(level=3).compress(data))
    raise ValueError("unsupported Content-Encoding")


def encode_content(data: bytes, codings: Sequence[str], original: bytes) -> bytes:
    """Compress ``data`` with ``codings`` (outermost first, as :func:`decode_content` lists
    them), the innermost first. ``original`` is the body as received: deflate is written
    zlib-wrapped or raw as the original layer was."""
    if not codings:
        return data
    layers = [original]
    if "deflate" in codings:
        # The compressed input of each layer, to see how its deflate was wrapped.
        current = original
        for coding in codings[:-1]:
            current = decode_content(current, coding, DEFAULT_LIMITS.max_decoded_bytes).data
            layers.append(current)
    for i in range(len(codings) - 1, -1, -1):
        data = _compress(codings[i], data, layers[i] if i < len(layers) else b"")
    return data


# --- verification ------------------------------------------------------------------------------


def _verify(parsed: ParsedRequest, units: Iterable[Unit]) -> None:
    """After writing, read the request again as the scanner will: no field of a rewritten place
    may still hold one of its values literally. This checks the container writers (the
    value-level check already decoded every layer); fields of other places are not looked at,
    so a digit run that merely contains a value elsewhere does not block the request."""
    rewritten: dict[str, list[tuple[Unit, set[str]]]] = {}
    for unit in units:
        values = unit.redacted()
        if values:
            rewritten.setdefault(unit.source, []).append((unit, values))
    if not rewritten:
        return
    if any(i.kind == "parse_error" for i in parsed.issues):
        for unit in units:
            unit.fail()
        return
    for f in parsed.fields:
        candidates = rewritten.get(f.source)
        if not candidates:
            continue
        for unit, values in candidates:
            # Cheap prefix test first: most fields are not under the place at all.
            if f.path[: len(unit.key)] != unit.key or unit_key(f.path) != unit.key:
                continue
            for value in values:
                if value in f.value:
                    unit.exposed.add(value)


# --- WebSocket ---------------------------------------------------------------------------------


def redact_websocket_message(
    content: bytes, is_text: bool, findings: Sequence[Finding]
) -> bytes | str | None:
    """The message with every finding's value masked, or None when that is not possible (the
    proxy then drops the message). Text messages stay valid UTF-8."""
    if not findings:
        return content
    units, per_finding = _collect(findings)
    try:
        if len(content) > DEFAULT_LIMITS.max_decoded_bytes:
            return None
        if any(u.source not in _BODY_SOURCES for u in units.values()):
            return None
        ctype = ContentType("text/plain", {"charset": "utf-8"}) if is_text else ContentType("", {})
        edits = body_edits(content, ctype, list(units.values()), 0)
        new = apply_byte_edits(content, edits)
        if is_text:
            new.decode("utf-8")
        _verify(parse_websocket_message(new, is_text), units.values())
    except Exception as exc:
        logger.warning(
            "formshield: cannot redact a WebSocket message (%s); it will be dropped",
            type(exc).__name__,
        )
        return None
    if not _outcome(findings, per_finding).complete:
        return None
    return new
