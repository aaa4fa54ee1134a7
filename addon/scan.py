"""Scan one HTTP request or WebSocket message: parse it into fields, then run the detectors.

This is the single entry point that `formshield scan`, the live proxy addon, the evaluation
scripts and the tests share, so that replayed captures and live traffic see the same engine.
"""

from __future__ import annotations

import logging
import traceback

from mitmproxy import http

from addon.clean_headers import CleanHeaders
from addon.request_fields import ParsedRequest, ParseLimits, parse_request, parse_websocket_message
from detectors.engine import Scanner
from detectors.model import Finding, ScanIssue, ScanResult

logger = logging.getLogger(__name__)

DEFAULT_LIMITS = ParseLimits()


def scan_request(
    request: http.Request,
    scanner: Scanner,
    limits: ParseLimits = DEFAULT_LIMITS,
    *,
    clean: CleanHeaders | None = None,
) -> ScanResult:
    """Return the findings in ``request`` and whatever part of it could not be scanned.

    ``clean`` (the live proxy keeps one) skips the headers found clean in earlier requests and
    learns the new ones (:mod:`addon.clean_headers`); the findings are the same with or without.

    Never raises for bad input: a failure inside parsing or scanning becomes a ``scan_error``
    issue so that the caller applies its policy's failure mode instead of crashing the proxy.
    """
    try:
        parsed = parse_request(request, limits, gate=scanner.value_gate, clean=clean)
        if clean is None or not parsed.header_spans:
            findings = scanner.scan_fields(parsed.fields)
        else:
            findings = _scan_learning(scanner, parsed, clean)
    except Exception as exc:  # the proxy must survive any bug in a parser or recognizer
        log_failure(exc, f"scanning {request.method} {request.pretty_host}")
        return ScanResult(
            issues=[ScanIssue("scan_error", "request", f"scanner failed: {type(exc).__name__}")]
        )
    return ScanResult(findings=findings, issues=list(parsed.issues))


def _scan_learning(scanner: Scanner, parsed: ParsedRequest, clean: CleanHeaders) -> list[Finding]:
    """Scan ``parsed.fields`` a header span at a time (findings of a field never depend on
    other fields, so the result is the same as in one go) and enter the spans that hold
    nothing in ``clean``."""
    fields = parsed.fields
    findings: list[Finding] = []
    done = 0
    for name, value, start, end in parsed.header_spans:
        if start > done:
            findings += scanner.scan_fields(fields[done:start])
        found = scanner.scan_fields(fields[start:end])
        if found:
            findings += found
        else:
            clean.add(name, value, end - start)
        done = end
    if done < len(fields):
        findings += scanner.scan_fields(fields[done:])
    return findings


def scan_websocket_message(
    content: bytes, is_text: bool, scanner: Scanner, limits: ParseLimits = DEFAULT_LIMITS
) -> ScanResult:
    """Return the findings in one client-to-server WebSocket message."""
    try:
        parsed = parse_websocket_message(content, is_text, limits, gate=scanner.value_gate)
        findings = scanner.scan_fields(parsed.fields)
    except Exception as exc:
        log_failure(exc, "scanning a WebSocket message")
        return ScanResult(
            issues=[ScanIssue("scan_error", "ws", f"scanner failed: {type(exc).__name__}")]
        )
    return ScanResult(findings=findings, issues=list(parsed.issues))


def log_failure(exc: BaseException, doing: str) -> None:
    """Log a failure while ``doing`` something with a request, with the traceback but without
    the exception's message.

    Messages of exceptions raised while handling values (``int('110105...')``) can quote
    personal data; the frames alone say where the bug is.
    """
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("formshield: %s failed with %s\n%s", doing, type(exc).__name__, frames)
