"""Read captured traffic (HAR files and mitmproxy flow files) as requests to scan.

Formats, recognised by content (the file name is not trusted):

* mitmproxy flow files (``mitmdump -w``): a sequence of tnetstrings, so the first byte is a
  digit. Read with ``mitmproxy.io.FlowReader``, one flow at a time: a 500 MB file is streamed,
  never loaded whole.
* HAR 1.2 (browsers' "Save all as HAR", ``mitmdump --set hardump=``, Charles, Fiddler): JSON whose
  first non-blank character is ``{`` (an optional UTF-8 BOM is skipped). JSON has no record
  framing, so a HAR is parsed whole (as mitmproxy's own reader does); entries are turned into
  requests one at a time.
* Either of them gzip-compressed (``.har.gz``, ``flows.gz``): decompressed on the fly.
* An empty file is an empty capture (``mitmdump -w`` leaves one when nothing was recorded).

What is yielded, in file order:

* :class:`CapturedRequest` for every HTTP request (flows that also failed or got no response
  included: their request was sent). Non-HTTP flows (TCP, UDP, DNS) are skipped and counted in
  :attr:`Capture.skipped`.
* :class:`CapturedMessage` for every WebSocket message *the client sent* inside a flow, right
  after that flow's request. Messages from the server are not ours to guard.

Anything that makes a file unreadable raises :class:`CaptureError` with the path and a reason;
the reason never quotes file content (a capture is full of personal data). A flow file that
turns corrupt half-way yields its good flows first, then raises.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Literal, cast

from detectors.model import ScanIssue

if TYPE_CHECKING:
    from mitmproxy import http

CaptureFormat = Literal["har", "mitm", "empty"]

_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
# How far into a file we look for its first meaningful byte (HARs may start with blank lines).
_SNIFF_BYTES = 4096


class CaptureError(Exception):
    """A capture file that cannot be read; ``str()`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True, slots=True)
class CapturedRequest:
    """One HTTP request of a capture.

    ``index`` is the request's 0-based position among the HTTP flows of its file. ``issues`` are
    parts of the request that the capture itself did not keep (a HAR without the body's text, a
    body streamed through mitmproxy unrecorded): they could not be scanned.
    """

    request: http.Request
    index: int
    issues: tuple[ScanIssue, ...] = ()


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    """One WebSocket message sent by the client, inside the flow at ``index``.

    ``request`` is the flow's handshake request (for its URL, site and destination);
    ``message`` is the 0-based position of the message among all messages of the flow, both
    directions, as mitmweb lists them. ``content`` is the raw payload (``is_text``: a text frame,
    UTF-8 by RFC 6455).
    """

    request: http.Request
    index: int
    message: int
    content: bytes = b""
    is_text: bool = True


CaptureItem = CapturedRequest | CapturedMessage


def _open_error(path: Path, exc: OSError) -> CaptureError:
    if isinstance(exc, FileNotFoundError):
        return CaptureError(path, "no such file")
    if isinstance(exc, IsADirectoryError):
        return CaptureError(path, "is a directory, not a capture file")
    if isinstance(exc, PermissionError):
        return CaptureError(path, "permission denied")
    return CaptureError(path, exc.strerror or type(exc).__name__)


class Capture:
    """One capture file. Opening it checks that it exists and what format it is.

    Iterate it to get its :data:`CaptureItem` values. ``size`` is the file's size in bytes and
    :meth:`position` how many of them have been read so far (for progress bars).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.skipped: Counter[str] = Counter()  # non-HTTP flows by type ("tcp", "udp", "dns")
        self._raw: IO[bytes] | None = None
        self._har_progress = 0.0
        try:
            self.size = self.path.stat().st_size
            with self.path.open("rb") as raw:
                self.compressed, self.format = _sniff(self.path, raw)
        except OSError as exc:
            raise _open_error(self.path, exc) from None

    def position(self) -> int:
        """Bytes of the file consumed so far (approximate: reads are buffered)."""
        if self.format == "har":
            return int(self.size * self._har_progress)
        if self._raw is None or self._raw.closed:
            return self.size if self._raw is not None else 0
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def __iter__(self) -> Iterator[CaptureItem]:
        self.skipped.clear()
        if self.format == "empty":
            return
        try:
            with self.path.open("rb") as raw:
                self._raw = raw
                stream = cast(
                    BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb") if self.compressed else raw
                )
                if self.format == "mitm":
                    yield from self._read_flows(stream)
                else:
                    yield from self._read_har(stream)
        except OSError as exc:  # also gzip.BadGzipFile and truncated gzip streams (EOFError)
            raise CaptureError(self.path, f"read error: {exc}") from None
        except EOFError:
            raise CaptureError(self.path, "compressed stream ends early (truncated file)") from None

    # -- mitmproxy flow files ----------------------------------------------------------------

    def _read_flows(self, stream: BinaryIO) -> Iterator[CaptureItem]:
        from mitmproxy import exceptions, http
        from mitmproxy.io import FlowReader

        index = 0
        try:
            for flow in FlowReader(stream).stream():
                if not isinstance(flow, http.HTTPFlow):
                    self.skipped[flow.type] += 1
                    continue
                yield from _flow_items(flow, index)
                index += 1
        except exceptions.FlowReadException as exc:
            raise CaptureError(
                self.path, f"corrupt flow file after {index} HTTP flow(s): {_reason(exc)}"
            ) from None
        except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
            # FlowReader lets some errors of Flow.from_state through (a record with no "type").
            raise CaptureError(
                self.path,
                f"corrupt flow file after {index} HTTP flow(s): "
                f"a record is not a valid flow ({type(exc).__name__})",
            ) from None

    # -- HAR ---------------------------------------------------------------------------------

    def _read_har(self, stream: BinaryIO) -> Iterator[CaptureItem]:
        data = stream.read()
        try:
            har = json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise CaptureError(self.path, f"HAR is not UTF-8 (byte {exc.start})") from None
        except json.JSONDecodeError as exc:
            # exc.msg and position only: the exception's own text may quote the document.
            raise CaptureError(
                self.path, f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
        del data
        log = har.get("log") if isinstance(har, dict) else None
        entries = log.get("entries") if isinstance(log, dict) else None
        if not isinstance(entries, list):
            raise CaptureError(self.path, "JSON but not a HAR file (no log.entries list)")
        total = len(entries) or 1
        for index, entry in enumerate(entries):
            try:
                request, issues = har_entry_request(entry)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise CaptureError(
                    self.path, f"HAR entry {index} is malformed ({type(exc).__name__})"
                ) from None
            yield CapturedRequest(request, index, tuple(issues))
            yield from _har_messages(entry, request, index)
            self._har_progress = (index + 1) / total


def _reason(exc: Exception) -> str:
    """A FlowReadException's reason, only when it is one of mitmproxy's fixed sentences.

    Others quote the record (``Invalid flow: loaded=[...]``), i.e. captured personal data.
    """
    text = str(exc)
    if text == "Invalid data format." or (
        "cannot read files with flow format version" in text and len(text) < 200
    ):
        return text
    return "a record is not a valid flow"


def _sniff(path: Path, raw: IO[bytes]) -> tuple[bool, CaptureFormat]:
    """(gzip-compressed?, format) from the first bytes of the file."""
    head = raw.read(_SNIFF_BYTES)
    compressed = head.startswith(_GZIP_MAGIC)
    if compressed:
        raw.seek(0)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                head = unzipped.read(_SNIFF_BYTES)
        except (OSError, EOFError):
            raise CaptureError(
                path, "gzip-compressed but the stream is corrupt or truncated"
            ) from None
    if not head:
        return compressed, "empty"
    text = head.removeprefix(_UTF8_BOM).lstrip(b" \t\r\n")
    if text.startswith(b"{"):
        return compressed, "har"
    digits = len(text) - len(text.lstrip(b"0123456789"))
    if 0 < digits <= 12 and text[digits : digits + 1] == b":":
        return compressed, "mitm"  # a tnetstring: "<length>:<data><type>"
    if not text:
        return compressed, "empty"
    raise CaptureError(path, "not a HAR (JSON) or mitmproxy flow file: unrecognised content")


def _flow_items(flow: Any, index: int) -> Iterator[CaptureItem]:
    """The request of a mitmproxy HTTPFlow, then its client WebSocket messages."""
    request = flow.request
    issues: tuple[ScanIssue, ...] = ()
    if request.raw_content is None:
        # stream_large_bodies passed the body through without keeping it.
        issues = (
            ScanIssue("body_missing", "body", "the body was streamed and not kept in the capture"),
        )
    yield CapturedRequest(request, index, issues)
    if flow.websocket is not None:
        for position, message in enumerate(flow.websocket.messages):
            if message.from_client:
                yield CapturedMessage(request, index, position, message.content, message.is_text)


# -- HAR entries -----------------------------------------------------------------------------

_WS_SCHEMES = {"ws://": "http://", "wss://": "https://"}


def har_entry_request(entry: dict[str, Any]) -> tuple[http.Request, list[ScanIssue]]:
    """Build the request of one HAR entry, reusing mitmproxy's HAR header conversion.

    Only the request is built. ``mitmproxy.io.har.request_to_flow`` builds the response too,
    which fails on entries without one (blocked, failed or pending requests, status 0) and
    decodes every response body, wasted work for a scan; it also drops bodies kept as
    ``params`` only. Like it, we take ``postData.text`` as the decoded body text and encode it
    back with the request's own Content-Encoding, so a HAR and a flow file of the same traffic
    give the same request bytes.
    """
    from mitmproxy import http
    from mitmproxy.io.har import fix_headers
    from mitmproxy.net.http.headers import infer_content_encoding

    req_json = entry["request"]
    method = str(req_json["method"])
    url = str(req_json["url"])
    for ws, plain in _WS_SCHEMES.items():
        if url[: len(ws)].lower() == ws:  # WebSocket handshakes appear as ws:// in browsers' HARs
            url = plain + url[len(ws) :]
    headers = fix_headers(req_json.get("headers") or [])
    had_length = "content-length" in headers
    request = http.Request.make(method, url, b"", headers)
    request.http_version = _http_version(str(req_json.get("httpVersion", "")))
    issues: list[ScanIssue] = []

    post = req_json.get("postData")
    body = b""
    if isinstance(post, dict):
        text = post.get("text")
        if isinstance(text, str):
            if str(post.get("encoding", "")).lower() == "base64":
                body = base64.b64decode(text, validate=False)
            else:
                charset = infer_content_encoding(headers.get("content-type", ""))
                try:
                    body = text.encode(charset, "surrogateescape")
                except (UnicodeError, LookupError):
                    body = text.encode("utf-8", "surrogateescape")
        elif post.get("params"):
            body = _body_from_params(post, issues)
        else:
            issues.append(_missing_body(req_json))
    elif int(req_json.get("bodySize") or 0) > 0:
        issues.append(_missing_body(req_json))
    if body:
        request.content = body  # re-applies Content-Encoding (and drops an unknown one)
    if not had_length and not request.raw_content:
        request.headers.pop("content-length", None)  # Request.make added "0"
    return request, issues


def _missing_body(req_json: dict[str, Any]) -> ScanIssue:
    size = req_json.get("bodySize")
    sent = f" ({size} bytes sent)" if isinstance(size, int) and size > 0 else ""
    return ScanIssue("body_missing", "body", f"the HAR entry keeps no request body text{sent}")


def _body_from_params(post: dict[str, Any], issues: list[ScanIssue]) -> bytes:
    """Rebuild a urlencoded body from HAR ``params`` (what some tools keep instead of text)."""
    from urllib.parse import urlencode

    params = [
        (str(p.get("name", "")), str(p.get("value", "")))
        for p in post["params"]
        if isinstance(p, dict)
    ]
    if "urlencoded" in str(post.get("mimeType", "")).lower():
        return urlencode(params).encode("ascii")
    # A multipart body cannot be rebuilt faithfully (files are not in the HAR): scan the values
    # as a form and say so.
    issues.append(
        ScanIssue(
            "body_missing",
            "body",
            "the HAR entry keeps only form params, not the body: uploaded files not scanned",
        )
    )
    return urlencode(params).encode("ascii")


def _http_version(version: str) -> str:
    match version.upper():
        case "HTTP/2" | "HTTP/2.0" | "H2":
            return "HTTP/2"
        case "HTTP/3" | "HTTP/3.0" | "H3":
            return "HTTP/3"
        case "HTTP/1.0":
            return "HTTP/1.0"
        case _:
            return "HTTP/1.1"


def _har_messages(
    entry: dict[str, Any], request: http.Request, index: int
) -> Iterator[CaptureItem]:
    """Client messages of a HAR WebSocket entry (``_webSocketMessages``, Chrome and mitmproxy).

    Each message is ``{"type": "send"|"receive", "opcode": 1|2, "data": str}``; binary (opcode
    2) data is base64. Control frames (close, ping, pong) carry no form data and are skipped.
    """
    messages = entry.get("_webSocketMessages")
    if not isinstance(messages, list):
        return
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("type") != "send":
            continue
        data = message.get("data")
        if not isinstance(data, str):
            continue
        opcode = message.get("opcode", 1)
        if opcode == 1:
            yield CapturedMessage(request, index, position, data.encode("utf-8", "surrogatepass"))
        elif opcode == 2:
            try:
                content = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                content = data.encode("utf-8", "surrogatepass")  # not base64 after all: keep it
            yield CapturedMessage(request, index, position, content, is_text=False)
