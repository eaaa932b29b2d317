"""Retention: per-event detail is kept for data.retention_days; rollups are kept for good (but rollup_qm,
the read model's, for its last days).

Rollups are written in the same transaction as the events they sum, so every committed event
already has its rollup and pruning never loses a total or a chart. Pruning never touches the counted
keys (store/counted.py): a re-read of a pruned event's log line finds it counted and adds nothing.
"""
from __future__ import annotations

import sqlite3
import time
from typing import Optional

from openusage.store import counted, db, limits

# One extra day so the partial first quarter-hour of a rolling window still has its raw events.
MARGIN_SECONDS = 86400


def prune(conn: sqlite3.Connection, retention_days: int, now: Optional[float] = None) -> int:
    """Delete events older than the retention period (inside the caller's transaction)."""
    now = time.time() if now is None else now
    cutoff = now - retention_days * 86400 - MARGIN_SECONDS
    cur = conn.execute("DELETE FROM events WHERE occurred_at < ?", (cutoff,))
    conn.execute("DELETE FROM rollup_qm WHERE bucket < ?", (int((now - db.QUARTER_MODEL_DAYS * 86400) // db.QUARTER),))
    limits.prune(conn, retention_days, now)
    return cur.rowcount


def clear_history(conn: sqlite3.Connection) -> None:
    """Forget all usage history: events, rollups, sessions, plan readings, and the keys of what was counted."""
    for table in ("events", "rollup_q", "rollup_d", "rollup_qm", "dim_q", "dim_d", "sessions", "limit_readings"):
        conn.execute(f"DELETE FROM {table}")
    counted.clear(conn)


def clear_cache(conn: sqlite3.Connection) -> None:
    """Forget cached provider state (file offsets) and last snapshots; history stays."""
    conn.execute("DELETE FROM provider_state")
    conn.execute("DELETE FROM snapshots")
