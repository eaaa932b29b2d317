"""SQLite store: connection settings, schema, forward migrations, corruption recovery.

Events keep per-message detail for `data.retention_days`; rollups keep totals forever at two
grains: quarter-hour UTC buckets by model, project and session (exact for every time zone, since all
zone offsets are multiples of 15 minutes; what reports read) and local days by model (fast windows
and charts; rebuilt from the quarter buckets if the machine's time zone changes).
"""
from __future__ import annotations

import logging
import os
import sqlite3
import time
from typing import Callable, List, Optional, Union

from openusage.errors import OpenusageError
from openusage.store import counted, event_schema

log = logging.getLogger("openusage.store")

QUARTER = 900  # seconds in a rollup bucket
QUARTER_MODEL_DAYS = 32  # rollup_qm keeps this many days: a 30d window's partial first day, and a margin
# A WAL grown by a large write (a catch-up's events: ~30 MB) is cut back to this at the first commit
# after a checkpoint has emptied it; SQLite otherwise keeps the file at its largest size for good.
# About what the default autocheckpoint (1000 pages) lets it reach between checkpoints.
WAL_SIZE_LIMIT = 4 * 1024 * 1024


def read_model_rollups(conn: sqlite3.Connection) -> None:
    """Migration 5: each session's breakdown sums over its whole life (the read model's sessions of a
    window), filled from the day breakdowns; and quarter-hour usage by model alone (rollup_qm, a
    rolling window's partial first day) for the last QUARTER_MODEL_DAYS, filled from rollup_q. (The
    reports cache, which keeps neither, is rebuilt at a new schema version, never migrated.)"""
    for column in ("calls INTEGER", "requests INTEGER", "tokens INTEGER", "cost REAL"):
        conn.execute(f"ALTER TABLE sessions ADD COLUMN {column} NOT NULL DEFAULT 0")
    conn.executemany(
        "UPDATE sessions SET calls=?, requests=?, tokens=?, cost=? "
        "WHERE provider_id=? AND account_id=? AND session_id=?",
        [(*row[3:], *row[:3]) for row in conn.execute(
            "SELECT provider_id, account_id, name, SUM(calls), SUM(requests), SUM(tokens), SUM(cost) FROM dim_d "
            "WHERE dim='session' GROUP BY provider_id, account_id, name")])
    usage = "input, output, cache_read, cache_write, reasoning, cost, requests, events"
    conn.execute("""
    CREATE TABLE rollup_qm (
        provider_id TEXT NOT NULL, account_id TEXT NOT NULL, bucket INTEGER NOT NULL, model TEXT NOT NULL,
        input INTEGER NOT NULL DEFAULT 0, output INTEGER NOT NULL DEFAULT 0,
        cache_read INTEGER NOT NULL DEFAULT 0, cache_write INTEGER NOT NULL DEFAULT 0,
        reasoning INTEGER NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0, events INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (provider_id, account_id, bucket, model)
    ) WITHOUT ROWID""")
    conn.execute(
        f"INSERT INTO rollup_qm(provider_id, account_id, bucket, model, {usage}) "
        f"SELECT provider_id, account_id, bucket, model, {', '.join(f'SUM({c})' for c in usage.split(', '))} "
        "FROM rollup_q WHERE bucket >= ? GROUP BY provider_id, account_id, bucket, model",
        (int((time.time() - QUARTER_MODEL_DAYS * 86400) // QUARTER),))


# Each entry migrates from version i to i+1: a script, or a function run in the migration's
# transaction. Never edit a released entry; append a new one.
MIGRATIONS: List[Union[str, Callable[[sqlite3.Connection], None]]] = [
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        dedup_key TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        account_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        occurred_at REAL NOT NULL,
        session_id TEXT, turn_id TEXT, message_id TEXT, tool_call_id TEXT,
        model TEXT,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL, cost_logged_usd REAL, cost_computed_usd REAL,
        requests INTEGER NOT NULL DEFAULT 0,
        tool_name TEXT, project TEXT, mcp_server TEXT,
        raw TEXT,
        ingested_at REAL NOT NULL
    );
    CREATE INDEX events_account_time ON events(provider_id, account_id, occurred_at);
    CREATE INDEX events_time ON events(occurred_at);

    CREATE TABLE rollup_q (
        provider_id TEXT NOT NULL, account_id TEXT NOT NULL, bucket INTEGER NOT NULL,
        model TEXT NOT NULL, project TEXT NOT NULL, session_id TEXT NOT NULL,
        input INTEGER NOT NULL DEFAULT 0, output INTEGER NOT NULL DEFAULT 0,
        cache_read INTEGER NOT NULL DEFAULT 0, cache_write INTEGER NOT NULL DEFAULT 0,
        reasoning INTEGER NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0, events INTEGER NOT NULL DEFAULT 0,
        cost_calc REAL NOT NULL DEFAULT 0, cost_logged REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (provider_id, account_id, bucket, model, project, session_id)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_d (
        provider_id TEXT NOT NULL, account_id TEXT NOT NULL, day TEXT NOT NULL,
        model TEXT NOT NULL,
        input INTEGER NOT NULL DEFAULT 0, output INTEGER NOT NULL DEFAULT 0,
        cache_read INTEGER NOT NULL DEFAULT 0, cache_write INTEGER NOT NULL DEFAULT 0,
        reasoning INTEGER NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0, events INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (provider_id, account_id, day, model)
    ) WITHOUT ROWID;
    CREATE TABLE dim_q (
        provider_id TEXT NOT NULL, account_id TEXT NOT NULL, bucket INTEGER NOT NULL,
        dim TEXT NOT NULL, name TEXT NOT NULL,
        calls INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL DEFAULT 0,
        tokens INTEGER NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (provider_id, account_id, bucket, dim, name)
    ) WITHOUT ROWID;
    CREATE TABLE dim_d (
        provider_id TEXT NOT NULL, account_id TEXT NOT NULL, day TEXT NOT NULL,
        dim TEXT NOT NULL, name TEXT NOT NULL,
        calls INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL DEFAULT 0,
        tokens INTEGER NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (provider_id, account_id, day, dim, name)
    ) WITHOUT ROWID;
    CREATE TABLE sessions (
        provider_id TEXT NOT NULL, account_id TEXT NOT NULL, session_id TEXT NOT NULL,
        project TEXT, first_at REAL NOT NULL, last_at REAL NOT NULL,
        PRIMARY KEY (provider_id, account_id, session_id)
    ) WITHOUT ROWID;

    CREATE TABLE snapshots (
        provider_id TEXT NOT NULL, account_id TEXT NOT NULL,
        fetched_at REAL NOT NULL, status TEXT, body TEXT NOT NULL,
        PRIMARY KEY (provider_id, account_id)
    );
    CREATE TABLE provider_state (
        provider_id TEXT NOT NULL, account_id TEXT NOT NULL,
        state TEXT NOT NULL, updated_at REAL NOT NULL,
        PRIMARY KEY (provider_id, account_id)
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: every counted event's key kept past pruning (store/counted.py), filled from the events held.
    counted.create_from_events,
    # 3: plan-window readings as a series (store/limits.py), for the pace projection and history.
    """
    CREATE TABLE limit_readings (
        provider_id TEXT NOT NULL, account_id TEXT NOT NULL, name TEXT NOT NULL,
        observed_at REAL NOT NULL, used_percent REAL NOT NULL, resets_at REAL,
        window_seconds INTEGER, source TEXT NOT NULL,
        PRIMARY KEY (provider_id, account_id, name, observed_at)
    ) WITHOUT ROWID;
    """,
    # 4: alert state, one row per (rule, provider, account, limit; "" for whole-account rules), so a
    # daemon restart never repeats an alert (openusage.alerts.state).
    """
    CREATE TABLE alert_state (
        rule TEXT NOT NULL, provider_id TEXT NOT NULL, account_id TEXT NOT NULL, limit_name TEXT NOT NULL,
        armed INTEGER NOT NULL DEFAULT 1, firing INTEGER NOT NULL DEFAULT 0,
        since REAL, fired_at REAL, resets_at TEXT, value REAL, threshold REAL,
        seen INTEGER NOT NULL DEFAULT 1, updated_at REAL NOT NULL,
        PRIMARY KEY (rule, provider_id, account_id, limit_name)
    );
    """,
    # 5: sessions carry their breakdown sums (calls, requests, tokens, cost), so a window's sessions are
    # read from one row each rather than summed from every day and quarter they touched; rollup_qm.
    read_model_rollups,
    # 6: lean event rows (store/event_schema.py): the key as its 64-bit hash, the place as a counted_place
    # id, one index (time); the view event_detail names each row's place.
    event_schema.lean_events,
]

SCHEMA_VERSION = len(MIGRATIONS)
LEAN_EVENTS_VERSION = 6  # the version whose migration rewrites every event row


class SchemaTooNew(OpenusageError):
    """The database was written by a newer openusage (exit 1: upgrade, or use another file)."""


def connect(path: str, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the project's settings: WAL (its file kept to WAL_SIZE_LIMIT once checkpointed),
    synchronous=NORMAL, foreign keys, busy timeout."""
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema forward to SCHEMA_VERSION; returns the version found before."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        name = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "") or "database"
        raise SchemaTooNew(f"the store {name} has schema version {found}, newer than this openusage reads "
                           f"({SCHEMA_VERSION}); upgrade openusage, or use another store (--db-path)")
    for version in range(found, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            step = MIGRATIONS[version]
            if callable(step):
                step(conn)
            else:
                for statement in _split(step):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


def _split(script: str) -> List[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def open_store(path: str, check: bool = True) -> sqlite3.Connection:
    """Open (creating) the database; with check, one that fails quick_check is moved aside and replaced.

    The daemon checks at start; short-lived commands skip the check, whose cost grows with the file.
    """
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    if check and os.path.exists(path) and not _healthy(path):
        aside = f"{path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
        log.error("database %s failed PRAGMA quick_check; moved aside to %s, starting a fresh one", path, aside)
        os.replace(path, aside)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.replace(path + suffix, aside + suffix)
    # Created under umask 077: SQLite gives -wal and -shm the database file's mode, so all three are 0600.
    old_umask = os.umask(0o077)
    try:
        conn = connect(path)
        try:
            found = migrate(conn)
            if 0 < found < LEAN_EVENTS_VERSION and conn.execute("SELECT 1 FROM events LIMIT 1").fetchone():
                # The old event rows' pages are free now: give them back (the file is ~1.5x the new one).
                log.info("store %s rewritten to schema %d; compacting it", path, SCHEMA_VERSION)
                conn.execute("VACUUM")
        except BaseException:
            conn.close()
            raise
    finally:
        os.umask(old_umask)
    for suffix in ("", "-wal", "-shm"):  # a store an earlier version made 0644
        try:
            os.chmod(path + suffix, 0o600)
        except OSError:
            pass
    return conn


def _healthy(path: str) -> bool:
    try:
        conn = sqlite3.connect(path, timeout=10.0)
        try:
            row = conn.execute("PRAGMA quick_check").fetchone()
            return bool(row) and row[0] == "ok"
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False


def get_meta(conn: sqlite3.Connection, key: str, default: str = "") -> str:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return row[0] if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        (key, value),
    )


def saved_state(conn: sqlite3.Connection, provider_id: str, account_id: str) -> Optional[str]:
    """A collector's saved state as the JSON text it was written as; None when it has none."""
    row = conn.execute("SELECT state FROM provider_state WHERE provider_id=? AND account_id=?",
                       (provider_id, account_id)).fetchone()
    return row[0] if row else None
