"""The audit trail of the live proxy: an embedded SQLite store of verdicts, findings and decisions.

Format (schema version 2, ``PRAGMA user_version``; each applied step is also logged in
``schema_migrations``; version 2 added the ``timeout`` answer):

- ``verdicts``: one row per request the proxy judged: ``ts`` (Unix seconds, UTC), ``flow_id``,
  ``method``, ``url`` (``scheme://host[:port]/path`` only: no user info, query or fragment, and
  finding values in the path replaced by their masks), ``fields`` (JSON array of the locations
  that carried findings, e.g. ``["query.phone", "form.idNo"]``), ``site`` (registrable domain of
  the page that sent it, or NULL), ``destination`` (registrable domain it went to),
  ``third_party``, ``action``, ``rule`` (the rule that decided), ``mode`` (``enforce`` or
  ``simulate``), ``incomplete`` (part of the request could not be scanned) and ``issues`` (JSON
  array of :class:`detectors.model.ScanIssue` kinds).
- ``findings``: one row per finding: ``verdict_id``, ``ts``, ``location``, ``entity_type``,
  ``score``, ``masked``, ``fingerprint``, ``action``, ``rule``.
- ``decisions``: what a person answered when the policy asked (``send_once``,
  ``always_allow``, ``block``), or ``timeout`` when the question went unanswered and the rule's
  fallback was applied, with the entity types and fingerprints the question was about.

The schema and its migrations are in :mod:`addon.audit_schema`, what is written in place of raw
values in :mod:`addon.audit_values`, the queries in :mod:`addon.audit_queries`.

Raw values are never written. A finding's ``value`` only feeds its fingerprint: HMAC-SHA256
keyed with the per-install secret (:mod:`addon.secrets`) over ``entity type + U+001F + canonical
value`` (NFKC, separators and spaces removed, upper case, CN phones in national form: see
:func:`addon.audit_values.canonical_value`), truncated to 16 bytes and hex-encoded. The same
value leaked twice in different formatting therefore counts as one, while the store cannot be
reversed even with a list of all phone numbers unless the secret is known. As a backstop for
values a detector missed, runs of 11 or more digits (the length of a phone, ID or card) in the
stored URL path, locations and masks are masked too.

Concurrency: the proxy's hot path only enqueues (:meth:`AuditStore.record_verdict` costs a few
microseconds; the findings, raw values included, wait in memory until the writer has masked,
scrubbed and fingerprinted them); one background writer thread owns the write connection and
commits in batches: after the first record of a batch it collects what arrives
in the next ``commit_interval`` seconds (0.2 by default; up to ``batch_size`` records) and
commits them in one transaction. A transaction per record costs about seven times as much CPU
(each commit appends every touched table and index page to the WAL), CPU a proxy under load
takes from the requests it serves. Readers use their own connection; WAL mode lets them read
while the writer writes, and ``synchronous=NORMAL`` keeps every committed transaction across a
crash of the process (only a power loss can lose the last few); a crash loses what was still
queued, at most about ``commit_interval`` seconds of records. :meth:`AuditStore.flush` (and
closing) commits at once and waits until everything queued so far is committed.

Retention: with ``retention_days`` set, older rows are deleted at open, then every
``prune_every`` writes or ``prune_interval`` seconds, whichever comes first
(``secure_delete`` overwrites them in the file instead of leaving them in free pages).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import math
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from addon.audit_queries import AuditQueries, as_timestamp
from addon.audit_schema import SCHEMA_VERSION, AuditStoreError, migrate
from addon.audit_values import (
    MAX_TEXT,
    FindingLike,
    Fingerprinter,
    clip,
    safe_mask,
    sanitize_url,
    scrub,
)
from addon.secrets import create_private_file, data_dir, ensure_private_dir, load_or_create_secret

__all__ = [
    "ANSWERS",
    "DB_FILE",
    "MODES",
    "Answer",
    "AuditStore",
    "AuditStoreError",
    "FindingOutcome",
    "IssueLike",
    "Mode",
    "default_db_path",
]

log = logging.getLogger(__name__)

DB_FILE = "audit.sqlite3"

Mode = Literal["enforce", "simulate"]
Answer = Literal["send_once", "always_allow", "block", "timeout"]

MODES: tuple[str, ...] = ("enforce", "simulate")
# What a person answered, or "timeout": nobody did in time (the verdict holds the fallback).
ANSWERS: tuple[str, ...] = ("send_once", "always_allow", "block", "timeout")


class IssueLike(Protocol):
    """A scan issue (:class:`detectors.model.ScanIssue` fits); only ``kind`` is stored."""

    @property
    def kind(self) -> str: ...


@dataclass(frozen=True, slots=True)
class FindingOutcome:
    """A finding with its own action and rule, when they differ from the verdict's."""

    finding: FindingLike
    action: str
    rule: str


def _now_or(when: float | datetime | None) -> float:
    ts = as_timestamp(when)
    return time.time() if ts is None else ts


def _json_insert(table: str, columns: str, param: str, first: str | None = None) -> str:
    """``INSERT INTO table(columns) SELECT ... FROM json_each(param)``: one row per element of a
    JSON array of arrays, each array holding the columns' values in order. ``first``, when
    given, is the SQL for the first column, with ``{0}`` standing for the element's first value
    (a row's index, from which its verdict id is computed)."""
    names = [c.strip() for c in columns.split(",")]
    picks = [f"json_extract(value, '$[{i}]')" for i in range(len(names))]
    if first is not None:
        picks[0] = first.format(picks[0])
    # table and column names are this module's constants, never input
    return (
        f"INSERT INTO {table}({', '.join(names)}) "
        f"SELECT {', '.join(picks)} FROM json_each({param});"
    )


# A batch is written by one statement, an INSERT into this view, whose trigger fills the three
# tables, each from one JSON array of rows unpacked by SQLite's json_each. Python's sqlite3 lets
# go of the GIL around every step of a statement (every row of an executemany), and this thread
# must then take it back from the proxy's busy event loop: a round of futile wake-ups and
# forced switches each time. A row per step cost the proxy ~0.4 ms per audited request under
# load. A transaction of several statements (BEGIN, the next verdict id, one INSERT per table,
# COMMIT) still took six or seven such rounds per batch. Measured under the benchmark's
# browsing load (/proc's context switch counts, per request): the writer woke 0.34 times, the
# proxy's thread waited 0.05 times (0.001 without the audit store); with one statement, 0.13
# and 0.02. In autocommit mode one statement is one transaction, trigger included: the whole
# batch is committed, or none of it. TEMP: created on the write connection when it opens,
# never stored in the file (a TEMP trigger may write to the main tables).
#
# Verdict ids are what SQLite would pick, the largest id plus one, in the order of the batch.
# The largest id is read once, before the verdicts are written (a subquery that does not
# depend on the row is evaluated once per statement); each finding row names its verdict by
# its index in the batch, turned into the id once the verdicts are in.
_BATCH_VIEW = "audit_batch"
_BATCH_SCHEMA = (
    f"CREATE TEMP VIEW IF NOT EXISTS {_BATCH_VIEW}(verdicts, findings, decisions) "
    "AS SELECT NULL, NULL, NULL WHERE 0",
    f"CREATE TEMP TRIGGER IF NOT EXISTS {_BATCH_VIEW}_write INSTEAD OF INSERT ON {_BATCH_VIEW} "
    "BEGIN "
    + _json_insert(
        "verdicts",
        "id, ts, flow_id, method, url, fields, site, destination, third_party, action, rule, "
        "mode, incomplete, issues",
        "NEW.verdicts",
        first="(SELECT COALESCE(MAX(id), 0) FROM verdicts) + 1 + {0}",
    )
    + _json_insert(
        "findings",
        "verdict_id, ts, location, entity_type, score, masked, fingerprint, action, rule",
        "NEW.findings",
        first="(SELECT MAX(id) FROM verdicts) - json_array_length(NEW.verdicts) + 1 + {0}",
    )
    + _json_insert(
        "decisions",
        "ts, flow_id, site, destination, entity_types, fingerprints, answer, rule",
        "NEW.decisions",
    )
    + " END",
)
_INSERT_BATCH = f"INSERT INTO {_BATCH_VIEW}(verdicts, findings, decisions) VALUES (?, ?, ?)"


def _json_rows(rows: list[tuple[Any, ...]]) -> str:
    """Rows as one JSON array for :func:`_json_insert`. Text that is not valid Unicode (a lone
    surrogate from a URL mitmproxy decoded with ``surrogateescape``) gets U+FFFD: SQLite must
    only ever hold valid UTF-8."""
    text = json.dumps(rows, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


# Characters json.dumps(ensure_ascii=False) escapes in a string.
_JSON_ESCAPED = re.compile(r'[\x00-\x1f"\\]')


def _json_strings(items: list[str]) -> str:
    """``json.dumps(items, ensure_ascii=False)`` for a list of strings, without the encoder's
    machinery when no item needs escaping (locations and issue kinds almost never do)."""
    if not items:
        return "[]"
    if any(_JSON_ESCAPED.search(item) for item in items):
        return json.dumps(items, ensure_ascii=False)
    return '["' + '", "'.join(items) + '"]'


def _finite(score: float) -> float | None:
    value = float(score)
    return value if math.isfinite(value) else None


# --- the store -------------------------------------------------------------------------------

_STOP = object()


@dataclass(slots=True)
class _Prune:
    now: float | None
    done: threading.Event
    deleted: int = 0


@dataclass(slots=True)
class _PendingVerdict:
    """A verdict as the proxy queued it; :func:`_verdict_rows` turns it into stored rows.
    Holds raw values (in the findings) only in memory, until the writer has masked them."""

    when: float
    flow_id: str
    method: str
    url: str
    destination: str
    action: str
    rule: str
    mode: str
    site: str | None
    third_party: bool
    outcomes: list[FindingOutcome]
    kinds: list[str]
    incomplete: bool


def _verdict_rows(
    p: _PendingVerdict, fp: Fingerprinter
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The ``verdicts`` row (without its id) and ``findings`` rows (without ``verdict_id``) of a
    queued verdict: masks checked, finding values scrubbed from locations and the URL,
    fingerprints made. Nothing raw is left in them."""
    masks = [safe_mask(o.finding) for o in p.outcomes]
    # Longest first, so that a value containing another is masked whole.
    pairs = sorted(
        zip((o.finding.value for o in p.outcomes), masks, strict=True),
        key=lambda pair: len(pair[0]),
        reverse=True,
    )
    finding_rows: list[tuple[Any, ...]] = []
    fields: list[str] = []
    for o, masked in zip(p.outcomes, masks, strict=True):
        f = o.finding
        location = clip(scrub(f.location, pairs), MAX_TEXT)
        if location not in fields:
            fields.append(location)
        finding_rows.append(
            (p.when, location, f.entity_type, _finite(f.score), masked,
             fp(f.entity_type, f.value), o.action, o.rule)
        )  # fmt: skip
    verdict = (
        p.when, p.flow_id, clip(p.method.upper(), 32), sanitize_url(p.url, pairs),
        _json_strings(fields),
        None if p.site is None else clip(scrub(p.site), MAX_TEXT),
        clip(scrub(p.destination), MAX_TEXT), int(bool(p.third_party)), p.action, p.rule,
        p.mode, int(p.incomplete), _json_strings(p.kinds),
    )  # fmt: skip
    return verdict, finding_rows


def default_db_path(data_directory: str | Path | None = None, *, create: bool = True) -> Path:
    """``<data dir>/audit.sqlite3`` (see :func:`addon.secrets.data_dir`; ``create``: make the
    directory if it is missing)."""
    return data_dir(data_directory, create=create) / DB_FILE


class AuditStore(AuditQueries):
    """The audit trail (see the module docstring). Use as a context manager or call close().

    ``path`` defaults to :func:`default_db_path`; ``data_directory`` overrides the data
    directory used for that default and for the secret. ``secret`` (tests) skips the secret
    file. ``read_only`` opens an existing database for queries and exports only: no writer
    thread, no secret needed.

    Opening raises :class:`AuditStoreError` (not a database, newer schema, missing in
    read-only mode), :class:`addon.secrets.SecretError` or ``OSError`` (directory or file not
    creatable): a proxy turns these into an option error. Afterwards nothing raises on the hot
    path: records the writer cannot commit are logged and counted in ``lost``, records refused
    because the queue is full in ``dropped``.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        data_directory: str | Path | None = None,
        secret: bytes | None = None,
        retention_days: float | None = None,
        read_only: bool = False,
        batch_size: int = 500,
        commit_interval: float = 0.2,
        prune_every: int = 1000,
        prune_interval: float = 3600.0,
        queue_size: int = 100_000,
    ) -> None:
        if retention_days is not None and not retention_days > 0:
            raise ValueError(f"retention_days must be positive, got {retention_days!r}")
        self.path = Path(path).expanduser() if path is not None else None
        self.read_only = read_only
        self.retention_days = retention_days
        self._batch_size = max(1, batch_size)
        self._commit_interval = max(0.0, commit_interval)
        self._hurry = threading.Event()  # ends the writer's wait for more records
        self._prune_every = max(1, prune_every)
        self._prune_interval = prune_interval
        self._closed = False
        self._read_lock = threading.Lock()
        # SimpleQueue (C): a put costs ~0.1 us against ~1.3 us for queue.Queue's locks and
        # conditions, on the proxy's event loop for every audited verdict. Its bound is kept by
        # _put, for records only (flush, prune and close always get through).
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._queue_size = max(1, queue_size)
        self.written = 0  # verdicts + decisions committed
        self.dropped = 0  # refused because the queue was full
        self.lost = 0  # failed to commit (logged)
        self._last_drop_log = 0.0
        self._drop_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._wconn: sqlite3.Connection | None = None
        self._fingerprint: Fingerprinter | None = None

        if read_only:
            if self.path is None:
                self.path = data_dir(data_directory, create=False) / DB_FILE
            if not self.path.is_file():
                raise AuditStoreError(f"no audit database at {self.path}")
            self._rconn = self._connect(read_only=True)
            version = int(self._rconn.execute("PRAGMA user_version").fetchone()[0])
            if version != SCHEMA_VERSION:
                self._rconn.close()
                raise AuditStoreError(
                    f"audit database {self.path} has schema version {version}, this formshield "
                    f"reads version {SCHEMA_VERSION}: open it once read-write to migrate it"
                )
            return

        if self.path is None:
            self.path = default_db_path(data_directory)
        else:
            ensure_private_dir(self.path.parent)
        self._fingerprint = Fingerprinter(
            secret if secret is not None else load_or_create_secret(data_directory)
        )
        create_private_file(self.path)
        self._wconn = self._connect(read_only=False)
        try:
            migrate(self._wconn)
            for sql in _BATCH_SCHEMA:  # TEMP: lives with this connection, not in the file
                self._wconn.execute(sql)
            self._last_prune = time.monotonic()
            self._writes_since_prune = 0
            if retention_days is not None:
                self._prune_now(self._wconn, None)
            self._rconn = self._connect(read_only=True)
        except BaseException:
            self._wconn.close()
            raise
        self._writer = threading.Thread(target=self._run, name="formshield-audit", daemon=True)
        self._writer.start()
        # A proxy that exits without close() still commits what it queued.
        atexit.register(self.close)

    # --- connections

    def _connect(self, *, read_only: bool) -> sqlite3.Connection:
        assert self.path is not None
        uri = self.path.resolve().as_uri() + ("?mode=ro" if read_only else "")
        try:
            conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            conn.execute("PRAGMA busy_timeout = 10000")
            if not read_only:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA secure_delete = ON")
            else:
                conn.execute("PRAGMA query_only = ON")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise AuditStoreError(f"cannot open audit database {self.path}: {exc}") from exc
        return conn

    # --- writing (hot path: sanitise and enqueue only)

    def fingerprint(self, entity_type: str, value: str) -> str:
        """The keyed fingerprint this store writes for ``value`` (see
        :func:`addon.audit_values.canonical_value`)."""
        if self._fingerprint is None:
            raise AuditStoreError("a read-only audit store has no fingerprint secret")
        return self._fingerprint(entity_type, value)

    def record_verdict(
        self,
        *,
        flow_id: str,
        method: str,
        url: str,
        destination: str,
        action: str,
        rule: str,
        mode: Mode = "enforce",
        site: str | None = None,
        third_party: bool = False,
        findings: Iterable[FindingLike | FindingOutcome] = (),
        issues: Iterable[str | IssueLike] = (),
        incomplete: bool | None = None,
        ts: float | datetime | None = None,
    ) -> None:
        """Queue one verdict and its findings (each with the verdict's action and rule unless
        given as :class:`FindingOutcome`). ``incomplete`` defaults to "there were issues".
        Never blocks; raises ``ValueError`` for an unknown mode and :class:`AuditStoreError`
        once closed."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self._writable()
        kinds: list[str] = []
        for issue in issues:
            kind = issue if isinstance(issue, str) else issue.kind
            if kind not in kinds:
                kinds.append(kind)
        # Masking, scrubbing and fingerprinting happen on the writer thread, batch by batch:
        # the proxy's event loop only queues (see _verdict_rows).
        pending = _PendingVerdict(
            when=_now_or(ts),
            flow_id=flow_id,
            method=method,
            url=url,
            destination=destination,
            action=action,
            rule=rule,
            mode=mode,
            site=site,
            third_party=third_party,
            outcomes=[
                f if isinstance(f, FindingOutcome) else FindingOutcome(f, action, rule)
                for f in findings
            ],
            kinds=kinds,
            incomplete=bool(kinds) if incomplete is None else incomplete,
        )
        self._put(("verdict", pending))

    def record_decision(
        self,
        *,
        destination: str,
        answer: Answer,
        findings: Iterable[FindingLike] = (),
        flow_id: str | None = None,
        site: str | None = None,
        rule: str | None = None,
        ts: float | datetime | None = None,
    ) -> None:
        """Queue a person's answer to an "ask" prompt about ``findings`` (fingerprinted), or
        ``timeout`` when nobody answered in time."""
        if answer not in ANSWERS:
            raise ValueError(f"answer must be one of {ANSWERS}, got {answer!r}")
        fp = self._writable()
        items = list(findings)
        entity_types = sorted({f.entity_type for f in items})
        prints = sorted({fp(f.entity_type, f.value) for f in items})
        row = (
            _now_or(ts), flow_id,
            None if site is None else clip(scrub(site), MAX_TEXT),
            clip(scrub(destination), MAX_TEXT), json.dumps(entity_types), json.dumps(prints),
            answer, rule,
        )  # fmt: skip
        self._put(("decision", row))

    def _writable(self) -> Fingerprinter:
        if self._closed:
            raise AuditStoreError("audit store is closed")
        if self._fingerprint is None:
            raise AuditStoreError("audit store is read-only")
        return self._fingerprint

    def _put(self, item: object) -> None:
        if self._queue.qsize() < self._queue_size:
            self._queue.put(item)
        else:
            # The proxy must not stall on a slow disk: count and report the loss instead.
            with self._drop_lock:
                self.dropped += 1
                now = time.monotonic()
                report = now - self._last_drop_log > 10
                if report:
                    self._last_drop_log = now
            if report:
                log.error("audit queue full: %d records dropped so far", self.dropped)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything queued before this call is committed; False on timeout."""
        if self._writer is None or not self._writer.is_alive():
            return True
        done = threading.Event()
        self._queue.put(done)
        self._hurry.set()
        return done.wait(timeout)

    def prune(self, now: float | datetime | None = None) -> int:
        """Delete verdicts, findings and decisions older than ``retention_days`` before ``now``.

        Returns the number of rows deleted (0 without a retention setting)."""
        if self.retention_days is None or self._writer is None:
            return 0
        job = _Prune(as_timestamp(now), threading.Event())
        self._queue.put(job)
        self._hurry.set()
        job.done.wait()
        return job.deleted

    def close(self) -> None:
        """Commit what is queued, stop the writer and close the connections (idempotent)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        if self._writer is not None:
            self._queue.put(_STOP)
            self._hurry.set()
            self._writer.join(timeout=60)
            if self._writer.is_alive():
                log.error("audit writer did not stop within 60 s; %d queued", self._queue.qsize())
        with self._read_lock:
            self._rconn.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AuditStore({str(self.path)!r}, read_only={self.read_only})"

    # --- the writer thread

    def _run(self) -> None:
        conn = self._wconn
        assert conn is not None
        try:
            stop = False
            while not stop:
                batch = self._next_batch()
                writes = [b for b in batch if isinstance(b, tuple)]
                try:
                    if writes:
                        self._write(conn, writes)
                        self._writes_since_prune += len(writes)
                    self._maybe_prune(conn)
                except Exception:
                    # A bug must not kill the writer (flush() would then hang until timeout).
                    self.lost += len(writes)
                    log.exception("audit writer failed on a batch of %d records", len(writes))
                for item in batch:
                    if isinstance(item, _Prune):
                        item.deleted = self._prune_now(conn, item.now)
                        item.done.set()
                    elif isinstance(item, threading.Event):
                        item.set()
                    elif item is _STOP:
                        stop = True
        finally:
            with contextlib.suppress(sqlite3.Error):  # only an optimisation hint
                conn.execute("PRAGMA optimize")
            conn.close()

    def _next_batch(self) -> list[object]:
        """Block for one item; after a record, let records gather for ``commit_interval``
        seconds (no wake-up per record: the writer sleeps on ``_hurry``, which flush, prune and
        close set), then take what is queued, up to ``batch_size`` items."""
        batch = [self._queue.get()]
        if isinstance(batch[0], tuple) and self._commit_interval:
            self._hurry.wait(self._commit_interval)
        self._hurry.clear()
        while len(batch) < self._batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, conn: sqlite3.Connection, writes: list[Any]) -> None:
        rows, failed = self._batch_rows(writes)
        for attempt in (1, 2):
            try:
                # One statement, one transaction (autocommit): see _BATCH_SCHEMA.
                conn.execute(_INSERT_BATCH, rows)
            except sqlite3.Error as exc:
                if attempt == 1:
                    time.sleep(0.05)  # e.g. locked by another process beyond busy_timeout
                    continue
                self.lost += len(writes)
                # sqlite's messages name tables and constraints, never bound values.
                log.error("audit: %d records could not be written: %s", len(writes), exc)
                return
            self.written += len(writes) - failed
            self.lost += failed
            return

    def _batch_rows(self, writes: list[Any]) -> tuple[tuple[str, str, str], int]:
        """The parameters of :data:`_INSERT_BATCH` for a batch: its verdicts, findings and
        decisions, each table's rows as one JSON array (unpacked by SQLite's ``json_each``).
        A verdict row starts with its index in the batch, a finding row with its verdict's.
        Also returns how many queued verdicts could not be turned into rows (a bug, logged and
        counted in ``lost``)."""
        fp = self._fingerprint
        assert fp is not None
        failed = 0
        verdicts: list[tuple[Any, ...]] = []
        findings: list[tuple[Any, ...]] = []
        decisions: list[tuple[Any, ...]] = []
        for kind, payload in writes:
            if kind == "verdict":
                try:
                    verdict, finding_rows = _verdict_rows(payload, fp)
                except Exception as exc:  # never let one record take the batch down
                    failed += 1
                    log.error("audit: a verdict could not be recorded: %s", type(exc).__name__)
                    continue
                index = len(verdicts)
                verdicts.append((index, *verdict))
                findings.extend((index, *row) for row in finding_rows)
            else:
                decisions.append(payload)
        return (_json_rows(verdicts), _json_rows(findings), _json_rows(decisions)), failed

    def _maybe_prune(self, conn: sqlite3.Connection) -> None:
        if self.retention_days is None:
            return
        due = self._writes_since_prune >= self._prune_every or (
            time.monotonic() - self._last_prune >= self._prune_interval
        )
        if due:
            self._prune_now(conn, None)

    def _prune_now(self, conn: sqlite3.Connection, now: float | None) -> int:
        if self.retention_days is None:
            return 0
        cutoff = (time.time() if now is None else now) - self.retention_days * 86400
        self._last_prune = time.monotonic()
        self._writes_since_prune = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Findings carry their verdict's ts; delete through the verdict to be exact.
                deleted = conn.execute(
                    "DELETE FROM findings WHERE verdict_id IN "
                    "(SELECT id FROM verdicts WHERE ts < ?)",
                    (cutoff,),
                ).rowcount
                deleted += conn.execute("DELETE FROM verdicts WHERE ts < ?", (cutoff,)).rowcount
                deleted += conn.execute("DELETE FROM decisions WHERE ts < ?", (cutoff,)).rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            log.error("audit: pruning older than %s days failed: %s", self.retention_days, exc)
            return 0
        if deleted:
            log.info("audit: pruned %d records older than %s days", deleted, self.retention_days)
        return deleted

    # --- queries (AuditQueries)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self._closed:
            raise AuditStoreError("audit store is closed")
        with self._read_lock:
            return self._rconn.execute(sql, params).fetchall()
