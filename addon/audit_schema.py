"""The audit store's SQLite schema and its migrations (``PRAGMA user_version``).

Version 1 created the ``verdicts``, ``findings`` and ``decisions`` tables; version 2 lets
``decisions`` hold ``timeout`` (an ask prompt nobody answered in time). Each applied step is also
logged in ``schema_migrations``. See :mod:`addon.audit` for what the columns hold.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "AuditStoreError", "Migration", "migrate"]

SCHEMA_VERSION = 2


class AuditStoreError(RuntimeError):
    """The store cannot be opened or used (not a database, newer schema, closed, read-only)."""


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
