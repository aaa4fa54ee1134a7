"""An outgoing HTTP request (or WebSocket message) as the list of fields the scanner sees.

:func:`parse_request` turns a :class:`mitmproxy.http.Request` into :class:`ParsedRequest`:
``fields`` (location, decoded value, and where to find the value again) and ``issues`` (what
could not be read fully: never raised, always reported, details never contain values).

Field convention (``source`` names the container, ``path`` the steps inside it; a redaction step
re-parses the container the same way and rewrites the value at ``path`` in the same format,
charset and Content-Encoding, which ``encodings`` lists outermost first):

==============  ==============================  =================================================
source          location                        path
==============  ==============================  =================================================
``path``        ``path[2]``                     ``(2,)``: index in ``url_path.split("/")``
``query``       ``query.phone``, ``query.a[1]`` ``(name, occurrence)``; percent-decoded with one
                                                charset per request (``encodings[-1]``)
``header``      ``header.x-user``,              ``(lower-case header name, occurrence)``; the
                ``header.referer.query.phone``  Referer's query via :data:`~detectors.structure.
                ``header.referer.url``          URL_QUERY` / ``URL_BASE`` steps
``cookie``      ``cookie.sid``                  ``(cookie name, occurrence)``; value as sent
``form``        ``form.idNo``                   ``(name, occurrence)``, e.g. ``("idNo", 0)``;
                                                ``"ncr"`` in encodings when ``&#NNNNN;`` was
                                                unescaped
``json``        ``json.data.user.idNo``         ``("data", "user", "idNo")``, ``("items", 0,
                ``json.items[0].tel``           "tel")``; ``()`` for a top-level scalar
``graphql``     ``graphql.variables.x``         JSON path from the document root, e.g.
                                                ``("variables", "x")``; batches start with the
                                                batch index
``ndjson``      ``ndjson[3].a``                 ``(line index in text.split("\\n"), ...json)``
``multipart``   ``multipart.resume``            ``(part index,)``; ``(part index, FILENAME)``
                ``multipart.resume.filename``   for the filename parameter
``text``        ``body``                        ``()``: the whole decoded body
``binary``      ``binary@120``                  ``(byte offset,)`` of a UTF-8 text run in a
                                                binary body
==============  ==============================  =================================================

Structure found inside a value (JSON, ``a=1&b=2``, a URL with a query) extends the location and
the path with a marker step (:mod:`detectors.structure`) and replaces the value's own field; a
path ending in :data:`~detectors.structure.KEY` designates a *name* that may hold personal data.
WebSocket messages use the same sources with locations prefixed by ``ws.``.

Modules: this one reads the URL and headers and is the entry point; :mod:`addon.bodies` undoes
Content-Encoding and picks charsets; :mod:`addon.body_fields` reads body formats;
:mod:`addon.multipart` splits multipart bodies; :mod:`addon.field_collector` holds the limits,
the result and the collector they share.

Limits (:class:`ParseLimits`) bound memory and time: a compression bomb is cut at
``max_decoded_bytes``, file parts beyond ``max_file_part`` are scanned only up to it, and so on;
every cut is reported as an issue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from mitmproxy import http

from addon.bodies import ContentType, decode_content, parse_content_type
from addon.body_fields import FILENAME, parse_body
from addon.clean_headers import CleanHeaders
from addon.field_collector import DEFAULT_LIMITS, FieldCollector, ParsedRequest, ParseLimits
from addon.header_values import header_values
from detectors.decoders import decode_bytes_text, percent_decode_bytes
from detectors.gc_pause import paused_gc
from detectors.model import Field
from detectors.structure import (
    KEY,
    decode_pairs,
    decode_urlencoded,
    key_is_safe,
    key_label,
    safe_key_label,
    urlencoded_fields,
)
from detectors.value_gate import ValueGate

__all__ = [
    "DEFAULT_LIMITS",
    "FILENAME",
    "ParseLimits",
    "ParsedRequest",
    "parse_request",
    "parse_websocket_message",
]

# Headers that carry protocol data, never user data; everything else is scanned.
_SKIP_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        "accept",
        "accept-encoding",
        "accept-language",
        "accept-charset",
        "connection",
        "keep-alive",
        "proxy-connection",
        "user-agent",
        "cache-control",
        "pragma",
        "origin",
        "upgrade",
        "te",
        "trailer",
        "priority",
        "dnt",
        "upgrade-insecure-requests",
        "if-none-match",
        "if-modified-since",
        "if-match",
        "if-unmodified-since",
        "if-range",
        "range",
        "expect",
        "content-language",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-purpose",
        "purpose",
        ":authority",
        ":method",
        ":path",
        ":scheme",
        ":protocol",
    }
)
_SKIP_HEADER_PREFIXES = ("sec-fetch-", "sec-ch-", "access-control-request-")
# Bodies from this size on are parsed with the cyclic garbage collector paused.
_GC_PAUSE_BYTES = 64 * 1024
# URL path segments worth scanning: with a digit, "@", "%" (encoded text) or non-ASCII.
PATH_SEGMENT_RE = re.compile(rb"[0-9@%\x80-\xff]")


def parse_request(
    request: http.Request,
    limits: ParseLimits = DEFAULT_LIMITS,
    *,
    gate: ValueGate | None = None,
    clean: CleanHeaders | None = None,
) -> ParsedRequest:
    """Fields of the URL path, query, headers (Referer, Cookie, custom) and body of ``request``.

    With a ``gate`` (the scanner's :attr:`~detectors.engine.Scanner.value_gate`), JSON leaves
    the scanner would find nothing in are left out; with ``clean``, so are the headers found
    clean before (:mod:`addon.clean_headers`). The fields are then for scanning only, not a
    full picture of the request (redaction parses without either).

    Never raises: anything unexpected is reported as a ``parse_error`` issue and the fields
    read so far are returned.
    """
    out = FieldCollector(limits, gate)
    raw = request.raw_content
    try:
        if raw is not None and len(raw) >= _GC_PAUSE_BYTES:
            # A big body becomes tens of thousands of objects: pause the cyclic collector
            # while they are made (see detectors.gc_pause).
            with paused_gc():
                _read_request(request, out, clean)
        else:
            _read_request(request, out, clean)
    except Exception as exc:  # a parser bug must not take the flow down; report it instead
        out.issue(
            "parse_error",
            "request",
            f"unexpected {type(exc).__name__} while reading the request; "
            "the fields read before it are scanned",
        )
    return out.result


def _read_request(request: http.Request, out: FieldCollector, clean: CleanHeaders | None) -> None:
    raw_path = request.data.path
    path, _, query = raw_path.partition(b"#")[0].partition(b"?")
    _path_fields(path, out)
    if query:
        _query_fields(query, out)
    _header_fields(request.headers.fields, out, clean)
    _request_body(request, out)


def parse_websocket_message(
    content: bytes,
    is_text: bool,
    limits: ParseLimits = DEFAULT_LIMITS,
    *,
    gate: ValueGate | None = None,
) -> ParsedRequest:
    """Fields of one WebSocket message: JSON, urlencoded or text (locations start with ``ws.``).

    Text messages are UTF-8 (RFC 6455); binary messages are read as text when they are valid
    text, else only their UTF-8 text runs are scanned (``binary_body`` issue).
    """
    out = FieldCollector(limits, gate)
    try:
        data = content
        if len(data) > limits.max_decoded_bytes:
            out.issue(
                "too_large",
                "ws",
                f"message of {len(data)} bytes exceeds the {limits.max_decoded_bytes}-byte "
                "limit; only the first part is scanned",
            )
            data = data[: limits.max_decoded_bytes]
        ctype = ContentType(
            "text/plain" if is_text else "", {"charset": "utf-8"} if is_text else {}
        )
        parse_body(data, ctype, "ws.", (), out)
    except Exception as exc:  # same contract as parse_request
        out.issue(
            "parse_error",
            "ws",
            f"unexpected {type(exc).__name__} while reading the message; "
            "the fields read before it are scanned",
        )
    return out.result


# --- URL and headers ---------------------------------------------------------------------------


def _path_fields(path: bytes, out: FieldCollector) -> None:
    """URL path segments that could hold data (``/users/13812345678/``), one field each."""
    if not PATH_SEGMENT_RE.search(path):
        return
    segments = path.split(b"/")
    raw = [
        (i, percent_decode_bytes(s)) for i, s in enumerate(segments) if PATH_SEGMENT_RE.search(s)
    ]
    decoded = decode_pairs([(b, None) for _, b in raw])
    for (i, _), (text, _) in zip(raw, decoded.pairs, strict=True):
        out.add(Field(f"path[{i}]", text, "path", (i,), None, (), (decoded.charset,)))


def _query_fields(query: bytes, out: FieldCollector) -> None:
    """Query parameters, percent-decoded to bytes and decoded with one charset per request.

    Values the scanner would pass over get no field (:meth:`FieldCollector.skip_clean`).
    """
    pairs = decode_urlencoded(query)
    if pairs.lossy:
        out.issue(
            "charset_error",
            "query",
            f"query string is not valid {pairs.charset}; undecodable bytes were replaced",
        )
    out.add_all(
        urlencoded_fields(
            pairs.pairs,
            "query",
            "query",
            encodings=(pairs.charset,),
            skip_value=out.skip_clean if out.gate is not None else None,
        )
    )


def _header_text(value: bytes) -> str:
    decoded = decode_bytes_text(value)
    return decoded[0] if decoded is not None else value.decode("latin-1")


def _header_name(raw_name: bytes) -> str:
    """The lower-case name of a header worth scanning; ``""`` for a protocol header."""
    name = raw_name.decode("latin-1").lower()
    if name in _SKIP_HEADERS or name.startswith(_SKIP_HEADER_PREFIXES):
        return ""
    return name


# _header_name of the names met before (a browser sends the same dozen on every request); only
# names that cannot hold personal data are kept. Cleared when full.
_HEADER_NAMES: dict[bytes, str] = {}
_HEADER_NAMES_MAX = 1024


def scanned_header_name(raw_name: bytes) -> str:
    """The lower-case name under which a header is scanned; ``""`` for a protocol header,
    which is not (remembered for names that cannot hold personal data)."""
    name = _HEADER_NAMES.get(raw_name)
    if name is None:
        name = _header_name(raw_name)
        if key_is_safe(name):
            if len(_HEADER_NAMES) >= _HEADER_NAMES_MAX:
                _HEADER_NAMES.clear()
            _HEADER_NAMES[raw_name] = name
    return name


def _header_fields(
    headers: Iterable[tuple[bytes, bytes]], out: FieldCollector, clean: CleanHeaders | None = None
) -> None:
    """Referer (its query is the classic leak), Cookie values and non-protocol headers.

    With ``clean``, a header found clean before is counted as skipped (its occurrence numbers
    still advance, so that the locations of the headers after it do not change), and the
    others are listed in ``out.result.header_spans``.
    """
    seen: dict[str, int] = {}
    cookies_seen: dict[str, int] = {}
    skipped_cookies: list[bytes] = []  # their names are counted only if another Cookie follows
    names = _HEADER_NAMES
    for raw_name, raw_value in headers:
        name = names.get(raw_name)  # scanned_header_name, its usual case inlined
        if name is None:
            name = scanned_header_name(raw_name)
        if not name:
            continue
        if clean is None:
            _one_header(name, raw_value, seen, cookies_seen, out)
            continue
        known = clean.fields(name, raw_value)
        if known is not None and out.skip(known):
            if name == "cookie":
                skipped_cookies.append(raw_value)
            else:
                seen[name] = seen.get(name, 0) + 1
            continue
        if name == "cookie" and skipped_cookies:
            for skipped in skipped_cookies:
                for cname, _ in _cookies(_header_text(skipped)):
                    cookies_seen[cname] = cookies_seen.get(cname, 0) + 1
            skipped_cookies.clear()
        start, issues = len(out.fields), len(out.issues)
        _one_header(name, raw_value, seen, cookies_seen, out)
        if len(out.issues) == issues and not out.full:  # read whole, not cut at the limit
            out.result.header_spans.append((name, raw_value, start, len(out.fields)))


def _one_header(
    name: str,
    raw_value: bytes,
    seen: dict[str, int],
    cookies_seen: dict[str, int],
    out: FieldCollector,
) -> None:
    """The fields of one header worth scanning (``name`` lower-case); ``seen`` and
    ``cookies_seen`` count the occurrences of header and cookie names so far."""
    value = _header_text(raw_value)
    if name == "cookie":
        for cname, cvalue in _cookies(value):
            occ = cookies_seen.get(cname, 0)
            cookies_seen[cname] = occ + 1
            label = safe_key_label(cname)
            loc = f"cookie.{label or '<key>'}" + (f"[{occ}]" if occ else "")
            if label is None:
                out.add(Field(loc, cname, "cookie", (cname, occ, KEY)))
            out.add(Field(loc, cvalue, "cookie", (cname, occ), cname or None))
        return
    occ = seen.get(name, 0)
    seen[name] = occ + 1
    loc = f"header.{key_label(name)}" + (f"[{occ}]" if occ else "")
    out.add(Field(loc, value, "header", (name, occ), name))


def _cookies(value: str) -> Iterator[tuple[str, str]]:
    """``(name, value)`` of each cookie in a Cookie header, as sent (RFC 6265 section 5.4)."""
    for item in value.split(";"):
        cname, eq, cvalue = item.strip().partition("=")
        if not cname and not cvalue:
            continue
        if not eq:
            # "Cookie: token" (no "="): a value without a name, as browsers treat it.
            cname, cvalue = "", cname
        yield cname, cvalue


# --- body ----------------------------------------------------------------------------------------


def _request_body(request: http.Request, out: FieldCollector) -> None:
    raw = request.raw_content
    if raw is None:
        out.issue(
            "body_unavailable",
            "body",
            "request body was streamed, not buffered, and could not be scanned",
        )
        return
    if not raw:
        return
    if len(raw) > out.limits.max_body:
        out.issue(
            "too_large",
            "body",
            f"body of {len(raw)} bytes exceeds the {out.limits.max_body}-byte limit; only the "
            "first part is scanned",
        )
        raw = raw[: out.limits.max_body]
    content_encoding, content_type = header_values(request, b"content-encoding", b"content-type")
    decoded = decode_content(raw, content_encoding, out.limits.max_decoded_bytes)
    out.issues.extend(decoded.issues)
    out.result.content_encodings = decoded.encodings
    parse_body(
        decoded.data,
        parse_content_type(content_type),
        "",
        decoded.encodings,
        out,
    )
