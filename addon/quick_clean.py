"""Recognise, in one pass, a plain request that scanning would find nothing in.

Most requests a browser sends are GETs for pages, scripts, images and API reads, and small JSON
posts (analytics events, cart updates): a query of ids, page numbers and timestamps, a flat
object of the same, and the same headers as the request before. For such a request
:func:`addon.scan.scan_request` finds nothing, yet goes through some fifty Python functions (the
collector, the body's decoding and format dispatch, the urlencoded reader and JSON walker, the
field objects, the scanner's entry), each cold in the proxy: mitmproxy's own work between two
requests evicts them from the processor's caches. A GET cost ~80 µs of the proxy's thread there
against ~18 µs in a hot loop (measured on the project's machine; docs/performance.md).

:func:`clean_at_a_glance` reads the same parts of the request with the same tests, inline:

- the URL path segments that :func:`~addon.request_fields.parse_request` would scan (with a
  digit, ``@``, ``%`` or non-ASCII), the query's values (decoded by the full path's own
  :func:`~detectors.structure.decode_urlencoded`) and the values of a small, flat JSON object
  go through the scanner's value gate (:mod:`detectors.value_gate`), exactly as the full path
  gates query values and JSON leaves;
- every header the full path would scan must be one that
  :class:`~addon.clean_headers.CleanHeaders` has seen clean before;
- anything it does not handle itself sends the request down the full path: ``%`` or non-ASCII
  in the URL path, a query that is not valid text, a name or key that may be data, a header
  not seen before, a body that is not plain ASCII ``application/json`` of at most
  :data:`MAX_BODY` bytes holding one object of scalars, a Content-Encoding, a count of fields
  near the limit.

It says True only when the full path would find nothing and report no issue, so it never lets
through a request the full path would stop. A property test holds it to that
(``tests/test_addon_quick_clean.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from json.scanner import make_scanner

from mitmproxy import http

from addon.clean_headers import CleanHeaders
from addon.field_collector import ParseLimits
from addon.request_fields import PATH_SEGMENT_RE, scanned_header_name
from detectors.decoders import PERCENT_BYTE
from detectors.structure import decode_urlencoded, safe_key_label
from detectors.value_gate import Keepers, ValueGate

__all__ = ["MAX_BODY", "clean_at_a_glance"]

# Bodies up to this size are looked at here: an analytics event, a cart update.
MAX_BODY = 2048
# Content-Type values (lower-cased) that the full path reads as JSON in UTF-8, which an ASCII
# body is.
_JSON_TYPES = frozenset(
    {b"application/json", b"application/json; charset=utf-8", b"application/json;charset=utf-8"}
)
# The C scanner under json.loads, called directly: json.loads wraps it in three Python
# functions, which cost more here than the scan of a small body. (typeshed declares the
# constructor's argument as a scanner; it is the decoder, whose settings it copies.)
_scan_json: Callable[[str, int], tuple[object, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
_JSON_SPACE = " \t\n\r"


def clean_at_a_glance(
    request: http.Request, gate: ValueGate, clean: CleanHeaders, limits: ParseLimits
) -> bool:
    """True when scanning ``request`` would find nothing and report nothing.

    ``gate`` is the scanner's value gate (``scanner.value_gate``), ``clean`` the proxy's table
    of headers found clean, ``limits`` the limits the full path would parse with. False means
    only "not known at a glance": the caller then scans the request in full.
    """
    try:
        return _clean_at_a_glance(request, gate, clean, limits)
    except Exception:  # never let a shortcut fail a request: the full path reports what it meets
        return False


def _clean_at_a_glance(
    request: http.Request, gate: ValueGate, clean: CleanHeaders, limits: ParseLimits
) -> bool:
    body = request.raw_content
    # Streamed past us (None), not small, or cut by the limits (the full path reports that).
    if body is None or len(body) > min(MAX_BODY, limits.max_body, limits.max_decoded_bytes):
        return False
    keepers = gate.keepers(())
    keep = keepers.keep
    url_path, _, query = request.data.path.partition(b"#")[0].partition(b"?")
    fields = 0  # as the full path counts them against limits.max_fields
    if PATH_SEGMENT_RE.search(url_path) is not None:
        for segment in url_path.split(b"/"):
            if PATH_SEGMENT_RE.search(segment) is None:
                continue
            # Percent-encoded or raw non-ASCII text is decoded first by the full path.
            if not segment.isascii() or PERCENT_BYTE in segment or keep(segment.decode("ascii")):
                return False
            fields += 1
    if query:
        # Read with the full path's own decoder (escapes, "+", one charset for all values).
        pairs = decode_urlencoded(query)
        if pairs.lossy:
            return False  # the full path reports the undecodable bytes
        for name, value in pairs.pairs:
            # A name that may be data itself (``?13812345678``) is scanned as a field.
            if safe_key_label(name) is None or (value is not None and keep(value, name)):
                return False
            fields += 1
    content_type: bytes | None = None
    for raw_name, raw_value in request.headers.fields:
        name = scanned_header_name(raw_name)
        if not name:  # a protocol header: never scanned, but two of them say how to read the body
            if body:
                lower = raw_name.lower()
                if lower == b"content-encoding" or (
                    lower == b"content-type" and content_type is not None
                ):
                    return False
                if lower == b"content-type":
                    content_type = raw_value.lower()
            continue
        known = clean.fields(name, raw_value)
        if known is None:
            return False
        fields += known
    if body:
        if content_type not in _JSON_TYPES or not body.isascii():
            return False
        leaves = _json_object_leaves(body.decode("ascii"), gate, keepers)
        if leaves is None:
            return False
        fields += leaves
    # Past the field limit the full path reports a cut: let it.
    return fields < limits.max_fields


def _json_object_leaves(text: str, gate: ValueGate, keepers: Keepers) -> int | None:
    """The number of leaves of ``text``, a JSON object of scalars under safe keys that the
    gate lets the JSON walker (:func:`detectors.structure.json_leaves`) skip, each by the
    walker's own test; None for any other text."""
    text = text.strip(_JSON_SPACE)
    try:
        obj, end = _scan_json(text, 0)
    except (StopIteration, ValueError, RecursionError):
        return None  # not JSON: the full path reports it
    # GraphQL ("variables" with "query" or "operationName") is read under other locations.
    if end != len(text) or type(obj) is not dict or "variables" in obj:
        return None
    keep, keep_digits = keepers
    small_ints = gate.small_ints
    for key, value in obj.items():
        if safe_key_label(key) is None:
            return None  # a key that may be data is scanned as a field
        kind = type(value)
        if kind is str:
            if keep(value, key):
                return None
        elif kind is int:
            if not 0 <= value < small_ints:
                digits = str(value)
                if keep_digits(digits, key) if value > 0 else keep(digits, key):
                    return None
        elif kind is float:
            if not math.isfinite(value):
                return None
            number = repr(value)  # as the walker writes it
            if len(number) >= gate.min_number_text and keep(number, key):
                return None
        elif kind is not bool and value is not None:
            return None  # a nested object or array: the walker's
    return len(obj)
