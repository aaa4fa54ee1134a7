"""Output of ``formshield scan``: JSON Lines for programs, a rich table for people.

Nothing written here ever holds a raw personal value: findings are shown by their mask
(:attr:`detectors.model.Finding.masked`), issues by their fixed sentences, and URLs go through
:func:`safe_url`.

JSON Lines (``--format jsonl``), one object per line, told apart by ``type``:

* ``{"type": "finding", "file", "entry", "ws_message", "method", "url", "site", "destination",
  "third_party", "location", "entity_type", "score", "masked", "encodings", "recognizer"}``
  - ``entry``: 0-based index of the request across all inputs, in order;
  - ``ws_message``: for a finding in a WebSocket message the client sent, the message's
    position in its flow (both directions counted), else null;
  - ``site``: the page's party (:func:`addon.parties.page_site`), null when unknown;
    ``destination``: the request host's party; ``third_party``: see
    :func:`addon.parties.request_parties`;
  - ``score``: rounded to 3 decimals; ``encodings``: the decoding chain, outermost first.
* ``{"type": "issue", "file", "entry", "ws_message", "method", "url", "site", "destination",
  "third_party", "kind", "location", "detail"}``: part of a request that could not be scanned.
* one last ``{"type": "summary", ...}`` with the counts (see :class:`Summary`).
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from detectors.model import Finding, ScanIssue

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mitmproxy import http

SCORE_DECIMALS = 3
# Query parameter names shown as they are; anything else (percent-escapes, digits-only names
# that could be the value itself, very long names) is replaced by "*" like the values.
_SAFE_QUERY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-\[\]]{0,63}")
# Shortest raw value that is looked for in a URL path (shorter masks would hit everything).
_MIN_PATH_VALUE = 4


def safe_url(request: http.Request, findings: Sequence[Finding] = ()) -> str:
    """The request's URL with no personal value left in it.

    * every query value is replaced by ``*`` and only plain parameter names are kept
      (``?u=*&t=*``): values below ``--min-score`` or of entities not asked for are never
      reported as findings, yet must not appear either, so no query value is shown at all;
    * in the path, every raw value of ``findings`` (as sent or percent-encoded) is replaced by
      its mask; the rest of the path is shown as sent (paths are what people recognise requests
      by). A value that was not reported as a finding and sits in the path is shown: this is
      the one place where output depends on what was found.
    """
    url = request.pretty_url
    base, sep, query = url.partition("?")
    scheme, slashes, rest = base.partition("://")
    if slashes:
        authority, slash, path = rest.partition("/")
        path = _mask_path(slash + path, findings)
        base = f"{scheme}://{authority}{path}"
    if not sep:
        return base
    parts = [_mask_query_part(part) for part in re.split(r"[&;]", query) if part]
    return f"{base}?{'&'.join(parts)}" if parts else base


def _mask_query_part(part: str) -> str:
    name, eq, _value = part.partition("=")
    if eq and _SAFE_QUERY_NAME.fullmatch(name):
        return f"{name}=*"
    return "*"


def _mask_path(path: str, findings: Sequence[Finding]) -> str:
    for finding in findings:
        value = finding.value
        if len(value) < _MIN_PATH_VALUE:
            continue
        for form in {value, quote(value, safe=""), quote(value)}:
            if form in path:
                path = path.replace(form, finding.masked)
    return path


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Where a finding or issue was: the same for every finding of one request or message."""

    file: str
    entry: int
    method: str
    url: str
    site: str | None
    destination: str
    third_party: bool
    ws_message: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "entry": self.entry,
            "ws_message": self.ws_message,
            "method": self.method,
            "url": self.url,
            "site": self.site,
            "destination": self.destination,
            "third_party": self.third_party,
        }


def finding_record(ctx: RequestContext, finding: Finding) -> dict[str, Any]:
    """The JSON object of one finding (see the module docstring)."""
    return {
        "type": "finding",
        **ctx.as_dict(),
        "location": finding.location,
        "entity_type": finding.entity_type,
        "score": round(finding.score, SCORE_DECIMALS),
        "masked": finding.masked,
        "encodings": list(finding.encodings),
        "recognizer": finding.recognizer,
    }


def issue_record(ctx: RequestContext, issue: ScanIssue) -> dict[str, Any]:
    """The JSON object of one scan issue."""
    return {
        "type": "issue",
        **ctx.as_dict(),
        "kind": issue.kind,
        "location": issue.location,
        "detail": issue.detail,
    }


@dataclass(slots=True)
class Summary:
    """Counts over a whole scan."""

    files: int = 0
    requests: int = 0
    ws_messages: int = 0
    findings: int = 0
    third_party_findings: int = 0
    requests_with_findings: int = 0  # a WebSocket flow counts once, with its messages
    issues: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # non-HTTP flows by type
    unreadable: list[str] = field(default_factory=list)  # "<path>: <reason>"

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": "summary",
            "files": self.files,
            "requests": self.requests,
            "ws_messages": self.ws_messages,
            "findings": self.findings,
            "third_party_findings": self.third_party_findings,
            "requests_with_findings": self.requests_with_findings,
            "issues": self.issues,
            "skipped_flows": dict(sorted(self.skipped.items())),
            "unreadable": list(self.unreadable),
        }

    def line(self) -> str:
        """One sentence for people."""
        text = (
            f"{self.findings} finding{'s' if self.findings != 1 else ''}"
            f" ({self.third_party_findings} to third parties)"
            f" in {self.requests_with_findings} of {self.requests} request"
            f"{'s' if self.requests != 1 else ''}"
        )
        if self.ws_messages:
            text += (
                f" and {self.ws_messages} WebSocket message{'s' if self.ws_messages != 1 else ''}"
            )
        text += f", {self.files} file{'s' if self.files != 1 else ''}"
        if self.issues:
            text += f"; {self.issues} scan issue{'s' if self.issues != 1 else ''}"
        if self.skipped:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.skipped.items()))
            text += f"; skipped non-HTTP flows: {kinds}"
        if self.unreadable:
            text += f"; {len(self.unreadable)} unreadable"
        return text


class JsonlOutput:
    """Writes one JSON object per line to ``stream`` as results arrive."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def add(
        self, ctx: RequestContext, findings: Sequence[Finding], issues: Sequence[ScanIssue]
    ) -> None:
        for finding in findings:
            self._write(finding_record(ctx, finding))
        for issue in issues:
            self._write(issue_record(ctx, issue))

    def close(self, summary: Summary) -> None:
        self._write(summary.as_dict())

    def _write(self, record: dict[str, Any]) -> None:
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.flush()


def printable(text: str) -> str:
    """``text`` safe for a terminal: control and format characters (escape sequences, bidi
    overrides, which a hostile capture may hold in hosts or field names) shown as ``\\xNN``."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or unicodedata.category(ch) == "Zs" else f"\\x{ord(ch):02x}"
        for ch in text
    )


class TableOutput:
    """Collects findings and issues, then prints one rich table, notes and a summary line.

    A table is for people: past ``max_rows`` findings (and ``max_notes`` issues) the rest are
    counted, not shown, and the output says so (rich needs ~2 ms a row; 26,000 rows took a
    minute and nobody reads them: ``--format jsonl`` has them all).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        show_file: bool = False,
        max_rows: int = 1000,
        max_notes: int = 100,
    ) -> None:
        self.stream = stream
        self.show_file = show_file
        self.max_rows = max_rows
        self.max_notes = max_notes
        self._rows: list[tuple[RequestContext, Finding]] = []
        self._notes: list[tuple[RequestContext, ScanIssue]] = []
        self._hidden_rows = 0
        self._hidden_notes = 0

    def add(
        self, ctx: RequestContext, findings: Sequence[Finding], issues: Sequence[ScanIssue]
    ) -> None:
        for finding in findings:
            if len(self._rows) < self.max_rows:
                self._rows.append((ctx, finding))
            else:
                self._hidden_rows += 1
        for issue in issues:
            if len(self._notes) < self.max_notes:
                self._notes.append((ctx, issue))
            else:
                self._hidden_notes += 1

    def close(self, summary: Summary) -> None:
        from rich.console import Console
        from rich.text import Text

        console = Console(
            file=self.stream,
            highlight=False,
            # A pipe or file has no width: do not squeeze the table into 80 columns.
            width=None if self.stream.isatty() or "COLUMNS" in os.environ else 200,
        )
        if self._rows:
            console.print(self._table())
        if self._hidden_rows:
            console.print(
                f"... {self._hidden_rows} more finding(s) not shown (--format jsonl lists all)"
            )
        for ctx, issue in self._notes:
            where = f"entry {ctx.entry}"
            if ctx.ws_message is not None:
                where += f" ws message {ctx.ws_message}"
            line = f"note: {where} {ctx.method} {ctx.url}: {issue.location}: {issue.kind}: "
            console.print(Text(printable(line + issue.detail), style="yellow"))
        if self._hidden_notes:
            console.print(f"... {self._hidden_notes} more scan issue(s) not shown")
        console.print(Text(printable(summary.line()), style="bold"))

    def _table(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        table = Table(header_style="bold")
        if self.show_file:
            table.add_column("File", overflow="fold")
        for name, justify in (
            ("Entry", "right"),
            ("Method", "left"),
            ("Destination", "left"),
            ("3P", "center"),
            ("Location", "left"),
            ("Entity", "left"),
            ("Score", "right"),
            ("Masked", "left"),
            ("Encodings", "left"),
        ):
            # fold, never cut: a truncated mask or location would mislead
            table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for ctx, finding in self._rows:
            entry = str(ctx.entry)
            if ctx.ws_message is not None:
                entry += f".ws{ctx.ws_message}"  # message of the WebSocket flow at that entry
            cells: list[Any] = [
                entry,
                ctx.method,
                ctx.destination,
                Text("3P", style="bold red") if ctx.third_party else "",
                finding.location,
                finding.entity_type,
                f"{finding.score:.2f}",
                finding.masked,
                " > ".join(finding.encodings),
            ]
            if self.show_file:
                cells.insert(0, ctx.file)
            table.add_row(*(Text(printable(c)) if isinstance(c, str) else c for c in cells))
        return table


Output = JsonlOutput | TableOutput
