"""multipart/form-data bodies (RFC 7578) split into parts, leniently and in linear time.

mitmproxy's own ``decode_multipart`` keeps only name and bytes (no filename, no part headers)
and drops parts it cannot read without saying so; here every part keeps its headers and its
byte offsets, and damage (no closing delimiter, a part without a header block) is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from detectors.model import ScanIssue

__all__ = ["Part", "split_multipart"]

_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")
_PARAM_RE = re.compile(r"""(?ix) ;\s* ([\w*.-]+) \s*=\s* (?: "((?:[^"\\]|\\.)*)" | ([^;]*) )""")


@dataclass(frozen=True, slots=True)
class Part:
    """One part: ``index`` in the body, form ``name``, ``filename``, lower-case headers, content.

    ``start``/``end`` are the byte offsets of ``content`` in the (decoded) body.
    """

    index: int
    name: str
    filename: str | None
    content_type: str
    headers: dict[str, str]
    content: bytes
    start: int
    end: int


def _parse_headers(block: bytes) -> dict[str, str]:
    """Part headers as lower-case name -> value; header bytes as UTF-8 (browsers send UTF-8)."""
    headers: dict[str, str] = {}
    text = block.decode("utf-8", "replace")
    for line in text.splitlines():
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers


def _disposition_params(value: str) -> dict[str, str]:
    """Parameters of a Content-Disposition value; ``filename*=UTF-8''...`` wins over filename."""
    params: dict[str, str] = {}
    for m in _PARAM_RE.finditer(";" + value.partition(";")[2]):
        key = m.group(1).lower()
        raw = m.group(2) if m.group(2) is not None else (m.group(3) or "").strip()
        if m.group(2) is not None:
            raw = raw.replace('\\"', '"')
        if key.endswith("*"):
            charset, _, rest = raw.partition("'")
            _, _, encoded = rest.partition("'")
            try:
                params[key[:-1]] = unquote(encoded, encoding=charset or "utf-8", errors="replace")
            except LookupError:
                params[key[:-1]] = unquote(encoded, errors="replace")
        elif key not in params:
            params[key] = raw
    return params


def split_multipart(
    body: bytes, boundary: str, location: str, issues: list[ScanIssue]
) -> list[Part]:
    """Split ``body`` at ``--boundary`` delimiters; never raises, reports damage in ``issues``.

    Without a closing ``--boundary--`` the last part runs to the end of the body
    (``broken_multipart``). A part without a blank line after its headers is taken as all
    content with no headers (``broken_multipart``).
    """
    delim = b"--" + boundary.encode("latin-1", "replace")
    parts: list[Part] = []
    pos = body.find(delim)
    if pos < 0:
        issues.append(
            ScanIssue("broken_multipart", location, "multipart body has no boundary delimiter")
        )
        return parts
    closed = False
    index = 0
    while True:
        after = pos + len(delim)
        if body.startswith(b"--", after):
            closed = True
            break
        # The delimiter line ends at the next line break (transport padding may precede it).
        eol = body.find(b"\n", after)
        if eol < 0:
            break
        head_start = eol + 1
        nxt = body.find(b"\n" + delim, head_start)
        end = len(body) if nxt < 0 else nxt
        # CRLF before the next delimiter belongs to the delimiter.
        content_end = end - 1 if end > head_start and body[end - 1 : end] == b"\r" else end
        m = _HEADER_END_RE.search(body, head_start, content_end)
        if body.startswith((b"\r\n", b"\n"), head_start):
            headers: dict[str, str] = {}
            content_start = head_start + (2 if body.startswith(b"\r\n", head_start) else 1)
        elif m is None:
            issues.append(
                ScanIssue(
                    "broken_multipart",
                    f"{location}[{index}]",
                    "multipart part has no header block; its bytes are scanned as content",
                )
            )
            headers, content_start = {}, head_start
        else:
            headers = _parse_headers(body[head_start : m.start()])
            content_start = m.end()
        disp = _disposition_params(headers.get("content-disposition", ""))
        parts.append(
            Part(
                index=index,
                name=disp.get("name", ""),
                filename=disp.get("filename"),
                content_type=headers.get("content-type", "").lower(),
                headers=headers,
                content=body[content_start:content_end],
                start=content_start,
                end=content_end,
            )
        )
        index += 1
        if nxt < 0:
            break
        pos = nxt + 1
    if not closed:
        issues.append(
            ScanIssue(
                "broken_multipart",
                location,
                "multipart body has no closing delimiter; the last part runs to the end",
            )
        )
    return parts
