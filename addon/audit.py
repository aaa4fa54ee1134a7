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

Raw values are never written. A finding's ``value`` only feeds its fingerprint: HMAC-SHA256
keyed with the per-install secret (:mod:`addon.secrets`) over ``entity type + U+001F +
canonical value`` (NFKC, separators and spaces removed, upper case, CN phones in national
form: see :func:`canonical_value`), truncated to 16 bytes and hex-encoded. The same value
leaked twice in different formatting therefore counts as one, while the store cannot be
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
import hmac
import json
import logging
import math
import queue
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

from addon.secrets import create_private_file, data_dir, ensure_private_dir, load_or_create_secret
from detectors.masking import mask

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
DB_FILE = "audit.sqlite3"
FINGERPRINT_BYTES = 16

Mode = Literal["enforce", "simulate"]
Answer = Literal["send_once", "always_allow", "block", "timeout"]
Bucket = Literal["hour", "day"]
CountKey = Literal["entity", "destination", "action", "site"]

MODES: tuple[str, ...] = ("enforce", "simulate")
# What a person answered, or "timeout": nobody did in time (the verdict holds the fallback).
ANSWERS: tuple[str, ...] = ("send_once", "always_allow", "block", "timeout")
BUCKET_SECONDS: dict[str, int] = {"hour": 3600, "day": 86400}

# Caps on attacker-influenced text (URLs and field names are chosen by websites).
MAX_URL = 2048
MAX_TEXT = 512

# Digit runs this long are phones, IDs or cards; shorter ones (dates, small ids) are kept.
# Everything but letters and digits of any script (\W is "not a word character"; _ is one).
_NON_ALNUM = re.compile(r"[\W_]+")
_LONG_DIGITS = re.compile(r"[0-9\uff10-\uff19]{11,}")


class AuditStoreError(RuntimeError):
    """The store cannot be opened or used (not a database, newer schema, closed, read-only)."""


class FindingLike(Protocol):
    """What the store reads from a finding (:class:`detectors.model.Finding` fits)."""

    @property
    def entity_type(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def location(self) -> str: ...
    @property
    def masked(self) -> str: ...
    @property
    def value(self) -> str: ...


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


# --- canonical values and fingerprints -------------------------------------------------------


def canonical_value(entity_type: str, value: str) -> str:
    """Return the form of ``value`` that is fingerprinted.

    NFKC first (full-width digits, ``Ｘ``), then: emails lose whitespace and are case-folded;
    everything else keeps only letters and digits (any script: names stay distinct) in upper
    case, so ``110105 1949-1231 002x`` and ``11010519491231002X`` are equal. CN phones are put
    in national form: ``+86``/``0086``/``86`` dropped, landlines given their leading ``0``.
    """
    text = unicodedata.normalize("NFKC", value)
    if entity_type == "EMAIL_ADDRESS":
        return "".join(text.split()).casefold()
    compact = _NON_ALNUM.sub("", text).upper()
    if not compact:
        return text  # all punctuation: fingerprint it as is rather than as ""
    if entity_type == "CN_PHONE" and compact.isdigit():
        compact = _national_phone(compact)
    return compact


def _national_phone(digits: str) -> str:
    """``8613812345678`` -> ``13812345678``; ``861012345678`` -> ``01012345678``."""
    if digits.startswith("0086"):
        rest = digits[4:]
    elif digits.startswith("86") and len(digits) >= 11:
        # National numbers start with 1 (mobile) or 0 (landline), never 86.
        rest = digits[2:]
    else:
        return digits
    if rest.startswith("0") or (rest.startswith("1") and len(rest) == 11):
        return rest
    return "0" + rest  # landline area code without its trunk prefix


class Fingerprinter:
    """Keyed fingerprints of values: ``Fingerprinter(secret)(entity_type, value)``."""

    __slots__ = ("_base",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("fingerprint secret must be at least 16 bytes")
        # Keyed once; each value copies the keyed state (cheaper than keying again, and than
        # hmac.digest, which keys a new context per call).
        self._base = hmac.new(secret, digestmod="sha256")

    def __call__(self, entity_type: str, value: str) -> str:
        mac = self._base.copy()
        mac.update(
            f"{entity_type}\x1f{canonical_value(entity_type, value)}".encode(
                "utf-8", "surrogatepass"
            )
        )
        return mac.digest()[:FINGERPRINT_BYTES].hex()

    def __repr__(self) -> str:
        return "Fingerprinter(<secret>)"


# --- sanitising what goes into the store -----------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _mask_digit_run(match: re.Match[str]) -> str:
    run = match.group(0)
    return run[:3] + "*" * (len(run) - 5) + run[-2:]


def scrub(text: str, replacements: Sequence[tuple[str, str]] = ()) -> str:
    """Replace each ``(raw, masked)`` pair's raw value, then mask long digit runs."""
    for raw, masked in replacements:
        if raw and raw in text:
            text = text.replace(raw, masked)
    return _LONG_DIGITS.sub(_mask_digit_run, text)


def sanitize_url(url: str, replacements: Sequence[tuple[str, str]] = ()) -> str:
    """Return ``scheme://host[:port]/path`` of ``url`` with finding values masked.

    The query, fragment and user info are dropped (their names are recorded separately as
    locations); the path is percent-decoded so that a value in it can be found and masked.
    An unparsable URL is stored as ``"<unparsable url>"`` rather than as given.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparsable url>"
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    netloc = host if port is None else f"{host}:{port}"
    path = unquote(parts.path, errors="replace")
    base = f"{parts.scheme}://{netloc}" if parts.scheme or netloc else ""
    return _clip(scrub(base + path, replacements), MAX_URL)


def _safe_mask(finding: FindingLike) -> str:
    masked = finding.masked
    value = finding.value
    # A finding whose mask still contains its value is a caller bug; never store it.
    if value and len(value) >= 4 and value in masked:
        masked = mask(finding.entity_type, value)
    return _clip(scrub(masked), MAX_TEXT)


def _as_ts(when: float | datetime | None) -> float | None:
    if when is None:
        return None
    if isinstance(when, datetime):
        return when.timestamp()
    return float(when)


def _now_or(when: float | datetime | None) -> float:
    ts = _as_ts(when)
    return time.time() if ts is None else ts


def _json_insert(table: str, columns: str) -> str:
    """``INSERT INTO table(columns) SELECT ... FROM json_each(?)``: one row per element of a
    JSON array of arrays, each array holding the columns' values in order."""
    names = [c.strip() for c in columns.split(",")]
    picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(names)))
    # table and column names are this module's constants, never input
    return f"INSERT INTO {table}({', '.join(names)}) SELECT {picks} FROM json_each(?)"


_INSERT_VERDICTS = _json_insert(
    "verdicts",
    "id, ts, flow_id, method, url, fields, site, destination, third_party, action, rule, mode, "
    "incomplete, issues",
)
_INSERT_FINDINGS = _json_insert(
    "findings", "verdict_id, ts, location, entity_type, score, masked, fingerprint, action, rule"
)
_INSERT_DECISIONS = _json_insert(
    "decisions", "ts, flow_id, site, destination, entity_types, fingerprints, answer, rule"
)


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


# --- schema and migrations -------------------------------------------------------------------

_SCHEMA_V1 = (
    """CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        applied_at REAL NOT NULL
    )""",
    """CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        flow_id TEXT NOT NULL,
        method TEXT NOT NULL,
        url TEXT NOT NULL,
        fields TEXT NOT NULL DEFAULT '[]',
        site TEXT,
        destination TEXT NOT NULL,
        third_party INTEGER NOT NULL,
        action TEXT NOT NULL,
        rule TEXT NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('enforce', 'simulate')),
        incomplete INTEGER NOT NULL,
        issues TEXT NOT NULL DEFAULT '[]'
    )""",
    """CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        verdict_id INTEGER NOT NULL REFERENCES verdicts(id) ON DELETE CASCADE,
        ts REAL NOT NULL,
        location TEXT NOT NULL,
        entity_type TEXT NOT NULL,
        score REAL,
        masked TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        action TEXT NOT NULL,
        rule TEXT NOT NULL
    )""",
    """CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        flow_id TEXT,
        site TEXT,
        destination TEXT NOT NULL,
        entity_types TEXT NOT NULL DEFAULT '[]',
        fingerprints TEXT NOT NULL DEFAULT '[]',
        answer TEXT NOT NULL CHECK (answer IN ('send_once', 'always_allow', 'block')),
        rule TEXT
    )""",
    "CREATE INDEX verdicts_ts ON verdicts(ts)",
    "CREATE INDEX verdicts_destination ON verdicts(destination, ts)",
    "CREATE INDEX verdicts_site ON verdicts(site, ts)",
    "CREATE INDEX verdicts_flow ON verdicts(flow_id)",
    "CREATE INDEX findings_verdict ON findings(verdict_id)",
    "CREATE INDEX findings_ts ON findings(ts)",
    "CREATE INDEX findings_entity ON findings(entity_type, ts)",
    "CREATE INDEX findings_fingerprint ON findings(fingerprint)",
    "CREATE INDEX decisions_ts ON decisions(ts)",
)

Migration = Callable[[sqlite3.Connection], None]


def _create_v1(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V1:
        conn.execute(statement)


_DECISIONS_V2 = """CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        flow_id TEXT,
        site TEXT,
        destination TEXT NOT NULL,
        entity_types TEXT NOT NULL DEFAULT '[]',
        fingerprints TEXT NOT NULL DEFAULT '[]',
        answer TEXT NOT NULL
            CHECK (answer IN ('send_once', 'always_allow', 'block', 'timeout')),
        rule TEXT
    )"""


def _v2_timeout_answers(conn: sqlite3.Connection) -> None:
    """Allow ``timeout`` answers: SQLite cannot change a CHECK constraint in place, so the
    ``decisions`` table is rebuilt (its rows and ids kept)."""
    conn.execute("ALTER TABLE decisions RENAME TO decisions_v1")
    conn.execute(_DECISIONS_V2)
    conn.execute("INSERT INTO decisions SELECT * FROM decisions_v1")
    conn.execute("DROP TABLE decisions_v1")
    conn.execute("CREATE INDEX decisions_ts ON decisions(ts)")


# MIGRATIONS[n] upgrades a database at user_version n to n + 1, inside one transaction.
MIGRATIONS: dict[int, Migration] = {0: _create_v1, 1: _v2_timeout_answers}


def migrate(
    conn: sqlite3.Connection,
    target: int = SCHEMA_VERSION,
    migrations: Mapping[int, Migration] = MIGRATIONS,
) -> int:
    """Bring the database to ``target`` one step at a time; return the version found.

    Each step runs in a ``BEGIN IMMEDIATE`` transaction that re-reads the version, so two
    processes opening a new database at once do not both create it. A database newer than
    ``target`` raises :class:`AuditStoreError` (an older formshield must not write to it).
    """
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > target:
        raise AuditStoreError(
            f"audit database has schema version {found}, newer than this formshield's "
            f"{target}: upgrade formshield or use another audit database"
        )
    version = found
    while version < target:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version < target:
                step = migrations.get(version)
                if step is None:
                    raise AuditStoreError(f"no migration from audit schema version {version}")
                step(conn)
                version += 1
                # PRAGMA takes no parameters; version is an int we computed.
                conn.execute(f"PRAGMA user_version = {version:d}")
                conn.execute(
                    "INSERT OR REPLACE INTO schema_migrations(version, applied_at) VALUES (?, ?)",
                    (version, time.time()),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


# --- rows returned by queries ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FindingRow:
    """A stored finding with the verdict it belongs to."""

    id: int
    verdict_id: int
    ts: float
    flow_id: str
    method: str
    url: str
    site: str | None
    destination: str
    third_party: bool
    mode: str
    verdict_action: str
    location: str
    entity_type: str
    score: float | None
    masked: str
    fingerprint: str
    action: str
    rule: str


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """A stored answer to an "ask" prompt."""

    id: int
    ts: float
    flow_id: str | None
    site: str | None
    destination: str
    entity_types: tuple[str, ...]
    fingerprints: tuple[str, ...]
    answer: str
    rule: str | None


@dataclass(frozen=True, slots=True)
class DestinationEntityCount:
    """Findings of one entity type sent to one destination domain."""

    destination: str
    entity_type: str
    findings: int
    by_action: tuple[tuple[str, int], ...]
    third_party: bool
    last_ts: float


@dataclass(frozen=True, slots=True)
class BucketCount:
    """Findings in one time bucket starting at ``start`` (Unix seconds), per ``key``."""

    start: float
    key: str | None
    count: int


@dataclass(frozen=True, slots=True)
class DestinationLeak:
    """What one site sent to one third-party destination."""

    destination: str
    findings: int
    entity_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SiteLeak:
    """A site that sent personal data to third parties, with where it went."""

    site: str
    findings: int
    verdicts: int
    destinations: tuple[DestinationLeak, ...]


@dataclass(frozen=True, slots=True)
class FingerprintCount:
    """One value (by fingerprint) seen several times."""

    fingerprint: str
    entity_type: str
    masked: str
    findings: int
    destinations: int
    sites: int
    first_ts: float
    last_ts: float


@dataclass(frozen=True, slots=True)
class RuleCount:
    """How often a rule decided, per action and mode."""

    rule: str
    action: str
    mode: str
    verdicts: int


@dataclass(frozen=True, slots=True)
class Totals:
    """Headline numbers for a period."""

    verdicts: int
    findings: int
    incomplete: int
    by_action: tuple[tuple[str, int], ...]
    by_mode: tuple[tuple[str, int], ...]
    first_ts: float | None
    last_ts: float | None


# Columns of :meth:`AuditStore.iter_export`, in order.
EXPORT_COLUMNS: tuple[str, ...] = (
    "verdict_id", "ts", "flow_id", "method", "url", "fields", "site", "destination",
    "third_party", "verdict_action", "verdict_rule", "mode", "incomplete", "issues",
    "finding_id", "location", "entity_type", "score", "masked", "fingerprint", "action", "rule",
)  # fmt: skip
DECISION_COLUMNS: tuple[str, ...] = (
    "id", "ts", "flow_id", "site", "destination", "entity_types", "fingerprints", "answer", "rule",
)  # fmt: skip

_FINDING_SELECT = """
    SELECT f.id, f.verdict_id, f.ts, v.flow_id, v.method, v.url, v.site, v.destination,
           v.third_party, v.mode, v.action, f.location, f.entity_type, f.score, f.masked,
           f.fingerprint, f.action, f.rule
    FROM findings f JOIN verdicts v ON v.id = f.verdict_id
"""


def _finding_row(r: Sequence[Any]) -> FindingRow:
    return FindingRow(
        id=r[0], verdict_id=r[1], ts=r[2], flow_id=r[3], method=r[4], url=r[5], site=r[6],
        destination=r[7], third_party=bool(r[8]), mode=r[9], verdict_action=r[10],
        location=r[11], entity_type=r[12], score=r[13], masked=r[14], fingerprint=r[15],
        action=r[16], rule=r[17],
    )  # fmt: skip


def _decision_row(r: Sequence[Any]) -> DecisionRow:
    return DecisionRow(
        id=r[0], ts=r[1], flow_id=r[2], site=r[3], destination=r[4],
        entity_types=tuple(json.loads(r[5])), fingerprints=tuple(json.loads(r[6])),
        answer=r[7], rule=r[8],
    )  # fmt: skip


def _by_count(counts: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda a: (-a[1], a[0])))


def _one_or_many(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


class _Where:
    """Builds a WHERE clause from optional filters (values always bound, never formatted)."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def eq(self, column: str, value: str | Sequence[str] | None) -> None:
        values = _one_or_many(value)
        if values is None:
            return
        self.clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
        self.params.extend(values)

    def since(self, column: str, since: float | datetime | None, until: Any = None) -> None:
        start, end = _as_ts(since), _as_ts(until)
        if start is not None:
            self.clauses.append(f"{column} >= ?")
            self.params.append(start)
        if end is not None:
            self.clauses.append(f"{column} < ?")
            self.params.append(end)

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    @property
    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


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
    masks = [_safe_mask(o.finding) for o in p.outcomes]
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
        location = _clip(scrub(f.location, pairs), MAX_TEXT)
        if location not in fields:
            fields.append(location)
        finding_rows.append(
            (p.when, location, f.entity_type, _finite(f.score), masked,
             fp(f.entity_type, f.value), o.action, o.rule)
        )  # fmt: skip
    verdict = (
        p.when, p.flow_id, _clip(p.method.upper(), 32), sanitize_url(p.url, pairs),
        _json_strings(fields),
        None if p.site is None else _clip(scrub(p.site), MAX_TEXT),
        _clip(scrub(p.destination), MAX_TEXT), int(bool(p.third_party)), p.action, p.rule,
        p.mode, int(p.incomplete), _json_strings(p.kinds),
    )  # fmt: skip
    return verdict, finding_rows


def default_db_path(data_directory: str | Path | None = None) -> Path:
    """``<data dir>/audit.sqlite3`` (see :func:`addon.secrets.data_dir`)."""
    return data_dir(data_directory) / DB_FILE


class AuditStore:
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
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
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
        """The keyed fingerprint this store writes for ``value`` (see :func:`canonical_value`)."""
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
            None if site is None else _clip(scrub(site), MAX_TEXT),
            _clip(scrub(destination), MAX_TEXT), json.dumps(entity_types), json.dumps(prints),
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
        try:
            self._queue.put_nowait(item)
        except queue.Full:
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
        job = _Prune(_as_ts(now), threading.Event())
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
        for attempt in (1, 2):
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    failed = self._insert_batch(conn, writes)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
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

    def _insert_batch(self, conn: sqlite3.Connection, writes: list[Any]) -> int:
        """Insert a batch with one statement per table, inside the caller's transaction.

        Python's sqlite3 lets go of the GIL for every row it steps (``executemany`` included)
        and must take it back from the proxy's event loop each time: a forced thread switch per
        row, which cost the proxy ~0.4 ms per audited request under load (measured as mitmdump
        CPU per request with the audit on and off). So each table's rows go in as one JSON
        array, unpacked by SQLite's ``json_each`` in a single step. Verdict ids are assigned
        here (what SQLite would pick: the largest id plus one; the transaction holds the write
        lock) so that findings can name their verdict. Returns how many queued verdicts could
        not be turned into rows (a bug, logged and counted in ``lost``).
        """
        fp = self._fingerprint
        assert fp is not None
        failed = 0
        next_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM verdicts").fetchone()[0]
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
                verdicts.append((next_id, *verdict))
                findings.extend((next_id, *row) for row in finding_rows)
                next_id += 1
            else:
                decisions.append(payload)
        for sql, rows in (
            (_INSERT_VERDICTS, verdicts),
            (_INSERT_FINDINGS, findings),
            (_INSERT_DECISIONS, decisions),
        ):
            if rows:
                conn.execute(sql, (_json_rows(rows),))
        return failed

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

    # --- queries

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self._closed:
            raise AuditStoreError("audit store is closed")
        with self._read_lock:
            return self._rconn.execute(sql, params).fetchall()

    def recent_findings(
        self,
        limit: int = 50,
        offset: int = 0,
        *,
        site: str | Sequence[str] | None = None,
        destination: str | Sequence[str] | None = None,
        entity: str | Sequence[str] | None = None,
        action: str | Sequence[str] | None = None,
        mode: str | None = None,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
    ) -> list[FindingRow]:
        """Newest findings first, ``limit`` per page from ``offset``; filters combine with AND
        (``action`` is the finding's own action)."""
        w = _Where()
        w.eq("v.site", site)
        w.eq("v.destination", destination)
        w.eq("f.entity_type", entity)
        w.eq("f.action", action)
        w.eq("v.mode", mode)
        # f.ts == v.ts and ids grow with time, so both orders give the same rows; each lets
        # SQLite walk an index in order instead of sorting every match (0.1 ms vs 20 ms at 40k).
        if entity is None and action is None:
            w.since("v.ts", since, until)
            order = " ORDER BY v.ts DESC, v.id DESC, f.id DESC"
        else:
            w.since("f.ts", since, until)
            order = " ORDER BY f.ts DESC, f.id DESC"
        rows = self._query(
            _FINDING_SELECT + w.sql + order + " LIMIT ? OFFSET ?",
            [*w.params, max(0, limit), max(0, offset)],
        )
        return [_finding_row(r) for r in rows]

    def findings_for_flow(self, flow_id: str) -> list[FindingRow]:
        """All findings recorded for one flow, in the order they were written."""
        rows = self._query(_FINDING_SELECT + " WHERE v.flow_id = ? ORDER BY f.id", (flow_id,))
        return [_finding_row(r) for r in rows]

    def recent_decisions(
        self,
        limit: int = 50,
        offset: int = 0,
        *,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
    ) -> list[DecisionRow]:
        """Newest answers to "ask" prompts first."""
        w = _Where()
        w.since("ts", since, until)
        rows = self._query(
            f"SELECT {', '.join(DECISION_COLUMNS)} FROM decisions{w.sql} "
            "ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?",
            [*w.params, max(0, limit), max(0, offset)],
        )
        return [_decision_row(r) for r in rows]

    def totals(
        self, since: float | datetime | None = None, until: float | datetime | None = None
    ) -> Totals:
        """Verdict and finding counts of a period, per verdict action and mode."""
        w = _Where()
        w.since("ts", since, until)
        verdicts, incomplete, first, last = self._query(
            f"SELECT count(*), coalesce(sum(incomplete), 0), min(ts), max(ts) FROM verdicts{w.sql}",
            w.params,
        )[0]
        findings = self._query(f"SELECT count(*) FROM findings{w.sql}", w.params)[0][0]
        by_action = self._query(
            f"SELECT action, count(*) FROM verdicts{w.sql} GROUP BY action ORDER BY 2 DESC, 1",
            w.params,
        )
        by_mode = self._query(
            f"SELECT mode, count(*) FROM verdicts{w.sql} GROUP BY mode ORDER BY 2 DESC, 1",
            w.params,
        )
        return Totals(
            verdicts, findings, incomplete, tuple(map(tuple, by_action)),
            tuple(map(tuple, by_mode)), first, last,
        )  # fmt: skip

    def counts_by_destination_entity(
        self, since: float | datetime | None = None, until: float | datetime | None = None
    ) -> list[DestinationEntityCount]:
        """Findings per destination domain and entity type, most first."""
        w = _Where()
        w.since("f.ts", since, until)
        rows = self._query(
            "SELECT v.destination, f.entity_type, f.action, count(*), max(v.third_party), "
            "max(f.ts) FROM findings f JOIN verdicts v ON v.id = f.verdict_id"
            f"{w.sql} GROUP BY 1, 2, 3",
            w.params,
        )
        merged: dict[tuple[str, str], list[Any]] = {}
        for dest, entity, action, count, third, last in rows:
            slot = merged.setdefault((dest, entity), [0, {}, False, 0.0])
            slot[0] += count
            slot[1][action] = count
            slot[2] = slot[2] or bool(third)
            slot[3] = max(slot[3], last)
        result = [
            DestinationEntityCount(dest, entity, total, _by_count(actions), third, last)
            for (dest, entity), (total, actions, third, last) in merged.items()
        ]
        result.sort(key=lambda c: (-c.findings, c.destination, c.entity_type))
        return result

    def counts_over_time(
        self,
        bucket: Bucket = "day",
        *,
        key: CountKey | None = "entity",
        since: float | datetime | None = None,
        until: float | datetime | None = None,
        tz_offset: int | None = None,
        site: str | Sequence[str] | None = None,
        destination: str | Sequence[str] | None = None,
        entity: str | Sequence[str] | None = None,
        action: str | Sequence[str] | None = None,
    ) -> list[BucketCount]:
        """Findings per time bucket (and per ``key``), oldest first, filtered like
        :meth:`recent_findings`.

        Buckets are aligned to local midnight/hours: ``tz_offset`` is the UTC offset in seconds
        (default: this machine's current one; DST changes inside the period shift by an hour).
        Empty buckets are not returned.
        """
        size = BUCKET_SECONDS[bucket]
        offset = local_utc_offset() if tz_offset is None else tz_offset
        column = {
            "entity": "f.entity_type", "destination": "v.destination", "action": "f.action",
            "site": "v.site", None: "NULL",
        }[key]  # fmt: skip
        w = _Where()
        w.since("f.ts", since, until)
        w.eq("v.site", site)
        w.eq("v.destination", destination)
        w.eq("f.entity_type", entity)
        w.eq("f.action", action)
        rows = self._query(
            f"SELECT CAST(floor((f.ts + ?) / ?) AS INTEGER) AS b, {column}, count(*) "
            "FROM findings f JOIN verdicts v ON v.id = f.verdict_id"
            f"{w.sql} GROUP BY 1, 2 ORDER BY 1, 3 DESC",
            [offset, size, *w.params],
        )
        return [BucketCount(float(b * size - offset), k, n) for b, k, n in rows]

    def top_sites(
        self,
        limit: int = 10,
        *,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
    ) -> list[SiteLeak]:
        """Sites that sent the most findings to third-party destinations, with the destinations."""
        w = _Where()
        w.since("f.ts", since, until)
        w.add("v.third_party = 1")
        w.add("v.site IS NOT NULL")
        join = " FROM findings f JOIN verdicts v ON v.id = f.verdict_id"
        top = self._query(
            f"SELECT v.site, count(*), count(DISTINCT v.id){join}{w.sql} "
            "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?",
            [*w.params, max(0, limit)],
        )
        if not top:
            return []
        sites = [row[0] for row in top]
        w.eq("v.site", sites)
        detail = self._query(
            f"SELECT v.site, v.destination, f.entity_type, count(*){join}{w.sql} GROUP BY 1, 2, 3",
            w.params,
        )
        per_site: dict[str, dict[str, list[Any]]] = {s: {} for s in sites}
        for site, dest, entity, count in detail:
            slot = per_site[site].setdefault(dest, [0, set()])
            slot[0] += count
            slot[1].add(entity)
        result: list[SiteLeak] = []
        for site, findings, verdicts in top:
            dests = sorted(per_site[site].items(), key=lambda i: (-i[1][0], i[0]))
            leaks = tuple(DestinationLeak(d, n, tuple(sorted(ents))) for d, (n, ents) in dests)
            result.append(SiteLeak(site, findings, verdicts, leaks))
        return result

    def repeated_values(
        self,
        limit: int = 20,
        *,
        min_count: int = 2,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
    ) -> list[FingerprintCount]:
        """Values (by fingerprint) seen at least ``min_count`` times, most first."""
        w = _Where()
        w.since("f.ts", since, until)
        rows = self._query(
            "SELECT f.fingerprint, f.entity_type, max(f.masked), count(*), "
            "count(DISTINCT v.destination), count(DISTINCT v.site), min(f.ts), max(f.ts) "
            f"FROM findings f JOIN verdicts v ON v.id = f.verdict_id{w.sql} "
            "GROUP BY 1, 2 HAVING count(*) >= ? ORDER BY 4 DESC, 1 LIMIT ?",
            [*w.params, min_count, max(0, limit)],
        )
        return [FingerprintCount(*r) for r in rows]

    def rule_counts(
        self, since: float | datetime | None = None, until: float | datetime | None = None
    ) -> list[RuleCount]:
        """Verdicts per deciding rule, action and mode, most first."""
        w = _Where()
        w.since("ts", since, until)
        rows = self._query(
            f"SELECT rule, action, mode, count(*) FROM verdicts{w.sql} "
            "GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3",
            w.params,
        )
        return [RuleCount(*r) for r in rows]

    def issue_counts(
        self, since: float | datetime | None = None, until: float | datetime | None = None
    ) -> list[tuple[str, int]]:
        """Incomplete-scan issue kinds and how many verdicts had each, most first."""
        w = _Where()
        w.since("v.ts", since, until)
        rows = self._query(
            f"SELECT j.value, count(*) FROM verdicts v, json_each(v.issues) j{w.sql} "
            "GROUP BY 1 ORDER BY 2 DESC, 1",
            w.params,
        )
        return [(str(k), int(n)) for k, n in rows]

    def iter_export(self, since: float | datetime | None = None) -> Iterator[dict[str, Any]]:
        """Every verdict joined with its findings (one item per finding; a verdict without
        findings gives one item with the finding columns None), oldest first, as dicts with
        :data:`EXPORT_COLUMNS`. ``fields`` and ``issues`` are lists. Streams from its own
        connection so a large export does not hold up other queries."""
        if self._closed:
            raise AuditStoreError("audit store is closed")
        w = _Where()
        w.since("v.ts", since)
        sql = (
            "SELECT v.id, v.ts, v.flow_id, v.method, v.url, v.fields, v.site, v.destination, "
            "v.third_party, v.action, v.rule, v.mode, v.incomplete, v.issues, f.id, f.location, "
            "f.entity_type, f.score, f.masked, f.fingerprint, f.action, f.rule "
            f"FROM verdicts v LEFT JOIN findings f ON f.verdict_id = v.id{w.sql} "
            "ORDER BY v.ts, v.id, f.id"
        )
        conn = self._connect(read_only=True)
        try:
            for r in conn.execute(sql, w.params):
                row = dict(zip(EXPORT_COLUMNS, r, strict=True))
                row["fields"] = json.loads(row["fields"])
                row["issues"] = json.loads(row["issues"])
                row["third_party"] = bool(row["third_party"])
                row["incomplete"] = bool(row["incomplete"])
                yield row
        finally:
            conn.close()

    def iter_decisions(self, since: float | datetime | None = None) -> Iterator[DecisionRow]:
        """Every decision, oldest first (streamed like :meth:`iter_export`)."""
        if self._closed:
            raise AuditStoreError("audit store is closed")
        w = _Where()
        w.since("ts", since)
        conn = self._connect(read_only=True)
        try:
            cur = conn.execute(
                f"SELECT {', '.join(DECISION_COLUMNS)} FROM decisions{w.sql} ORDER BY ts, id",
                w.params,
            )
            for r in cur:
                yield _decision_row(r)
        finally:
            conn.close()


def local_utc_offset(when: float | None = None) -> int:
    """This machine's UTC offset in seconds at ``when`` (default: now)."""
    return int(time.localtime(when).tm_gmtoff)
