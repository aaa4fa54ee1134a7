"""Reading the audit store: the rows and counts that exports, reports and the extension show.

:class:`AuditQueries` holds the queries; :class:`addon.audit.AuditStore` provides its
connections. Every filter value is bound as a parameter, never formatted into SQL.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from addon.audit_schema import AuditStoreError

Bucket = Literal["hour", "day"]
CountKey = Literal["entity", "destination", "action", "site"]
BUCKET_SECONDS: dict[str, int] = {"hour": 3600, "day": 86400}


def as_timestamp(when: float | datetime | None) -> float | None:
    """Unix seconds of ``when`` (a datetime or a number), None for None."""
    if when is None:
        return None
    if isinstance(when, datetime):
        return when.timestamp()
    return float(when)


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
        start, end = as_timestamp(since), as_timestamp(until)
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


class AuditQueries:
    """The queries of an audit store; a subclass provides :meth:`_query` (rows of one
    statement, on a shared read connection) and :meth:`_connect` (a new read-only connection,
    for exports that stream)."""

    _closed: bool

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _connect(self, *, read_only: bool) -> sqlite3.Connection:
        raise NotImplementedError

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
