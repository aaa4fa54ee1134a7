"""Export the audit trail as CSV or JSON Lines (what ``formshield audit export`` writes).

Records (``kind="findings"``, the default): one per finding, joined with its verdict, with the
columns :data:`COLUMNS` (:data:`addon.audit_queries.EXPORT_COLUMNS` plus ``time``, the ISO 8601 UTC
form of ``ts``); a verdict without findings gives one record whose finding columns are empty.
``kind="decisions"`` exports the answers to "ask" prompts (:data:`DECISION_COLUMNS`).

- JSON Lines: one JSON object per line, UTF-8, typed values (booleans, numbers, ``null``,
  lists for ``fields``, ``issues``, ``entity_types`` and ``fingerprints``).
- CSV (RFC 4180, header row, UTF-8, CRLF line ends): booleans as ``true``/``false``, ``None``
  as an empty cell, lists as JSON arrays. Text cells that a spreadsheet would run as a formula
  (starting with ``= + - @``, tab or CR) get a leading ``'``: URLs and field names are chosen
  by websites, so they are untrusted input (OWASP "CSV injection").

Only what the store holds is exported: masked values and fingerprints, never raw values. A file
is written next to its destination and renamed into place (mode ``0600``), so a failed export
never leaves a truncated file behind.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TextIO

from addon.audit import AuditStore
from addon.audit_queries import DECISION_COLUMNS as _DECISION_FIELDS
from addon.audit_queries import EXPORT_COLUMNS

Format = Literal["csv", "jsonl"]
Kind = Literal["findings", "decisions"]
FORMATS: tuple[str, ...] = ("csv", "jsonl")
KINDS: tuple[str, ...] = ("findings", "decisions")

COLUMNS: tuple[str, ...] = (*EXPORT_COLUMNS[:2], "time", *EXPORT_COLUMNS[2:])
DECISION_COLUMNS: tuple[str, ...] = (*_DECISION_FIELDS[:2], "time", *_DECISION_FIELDS[2:])

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def export(
    store_or_path: AuditStore | str | os.PathLike[str],
    fmt: Format,
    out: TextIO | str | os.PathLike[str] | None = None,
    since: float | datetime | None = None,
    *,
    kind: Kind = "findings",
) -> int:
    """Write the audit records since ``since`` (all when None) to ``out``; return how many.

    ``store_or_path`` is an open store or the path of a database (opened read-only: no secret
    is needed). ``out`` is an open text stream, a file path, or ``None``/``"-"`` for stdout.
    Raises ``ValueError`` for an unknown format or kind, :class:`addon.audit.AuditStoreError`
    for a missing or unreadable database and ``OSError`` when the file cannot be written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if kind not in KINDS:
        raise ValueError(f"unknown export kind {kind!r}: use one of {', '.join(KINDS)}")
    if isinstance(store_or_path, AuditStore):
        return _export_to(store_or_path, fmt, out, since, kind)
    with AuditStore(Path(store_or_path), read_only=True) as store:
        return _export_to(store, fmt, out, since, kind)


def _export_to(
    store: AuditStore,
    fmt: Format,
    out: TextIO | str | os.PathLike[str] | None,
    since: float | datetime | None,
    kind: Kind,
) -> int:
    if out is None or (isinstance(out, str) and out == "-"):
        return _write(store, fmt, sys.stdout, since, kind)
    if not isinstance(out, str | os.PathLike):
        return _write(store, fmt, out, since, kind)
    target = Path(out)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            count = _write(store, fmt, stream, since, kind)
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return count


def _records(
    store: AuditStore, since: float | datetime | None, kind: Kind
) -> Iterator[dict[str, Any]]:
    if kind == "decisions":
        for d in store.iter_decisions(since):
            yield {
                "id": d.id, "ts": d.ts, "time": iso_time(d.ts), "flow_id": d.flow_id,
                "site": d.site, "destination": d.destination,
                "entity_types": list(d.entity_types), "fingerprints": list(d.fingerprints),
                "answer": d.answer, "rule": d.rule,
            }  # fmt: skip
        return
    for row in store.iter_export(since):
        record = {"time": iso_time(row["ts"]), **row}
        yield {column: record[column] for column in COLUMNS}


def _write(
    store: AuditStore, fmt: Format, stream: TextIO, since: float | datetime | None, kind: Kind
) -> int:
    columns = DECISION_COLUMNS if kind == "decisions" else COLUMNS
    count = 0
    if fmt == "jsonl":
        for record in _records(store, since, kind):
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    else:
        writer = csv.writer(stream, lineterminator="\r\n")
        writer.writerow(columns)
        for record in _records(store, since, kind):
            writer.writerow([csv_cell(record[c]) for c in columns])
            count += 1
    stream.flush()
    return count


def csv_cell(value: object) -> str:
    """One CSV cell: see the module docstring for the encoding of each type."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return json.dumps(list(value), ensure_ascii=False)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def iso_time(ts: float) -> str:
    """``ts`` (Unix seconds) as ISO 8601 UTC with milliseconds: ``2024-11-28T08:00:00.000Z``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_since(text: str, *, now: datetime | None = None) -> float:
    """Parse a ``--since`` value: a duration back from now (``90m``, ``24h``, ``7d``, ``2w``)
    or an ISO 8601 date/time (``2024-11-01``, ``2024-11-01T08:00+08:00``; naive means local
    time). Returns Unix seconds; raises ``ValueError`` with the accepted forms otherwise."""
    match = _SINCE.match(text)
    if match:
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        base = now if now is not None else datetime.now(UTC)
        return (base - timedelta(seconds=seconds)).timestamp()
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time: use a duration like 24h, 7d, 2w "
            "or a date like 2024-11-01 or 2024-11-01T08:00+08:00"
        ) from None
