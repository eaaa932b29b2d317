"""Plan-window readings as a series: written with each stored snapshot, read back for the read model.

A snapshot's plan windows (rate limits that carry a `source` and an `observed_at`) are appended to
`limit_readings` by the writer, one row per window and reading time (a copy of the same reading, as a
failed poll stores, adds nothing). An unchanged reading is written again only every THIN_SECONDS so
a quiet window keeps a time axis without a row a minute. The read model puts on each window its pace
projection (openusage.core.pace), a short history, and the status its use calls for.
"""
from __future__ import annotations

import sqlite3
from typing import Any, Dict, List, Optional

from openusage.core import pace
from openusage.core.snapshot import STATUS_RANK, RateLimit, UsageSnapshot
from openusage.core.timeutil import to_epoch

SOURCES = ("oauth", "statusline", "rollout")
THIN_SECONDS = 600.0
HISTORY_POINTS = 48  # per window in the read model (the detail view's history)
KEEP_DAYS = 8  # a weekly window's history, whatever data.retention_days says


def is_plan_window(limit: RateLimit) -> bool:
    return limit.source in SOURCES and limit.observed_at is not None and limit.used_percent is not None


def record(conn: sqlite3.Connection, snapshot: UsageSnapshot) -> int:
    """Append the snapshot's plan-window readings (inside the writer's transaction); rows added."""
    added = 0
    for name, limit in (snapshot.rate_limits or {}).items():
        if not is_plan_window(limit):
            continue
        observed = to_epoch(limit.observed_at)
        if observed is None:
            continue
        resets = to_epoch(limit.resets_at) if limit.resets_at else None
        last = conn.execute(
            "SELECT observed_at, used_percent, resets_at FROM limit_readings WHERE provider_id=? AND account_id=? "
            "AND name=? ORDER BY observed_at DESC LIMIT 1", (snapshot.provider_id, snapshot.account_id, name),
        ).fetchone()
        if last is not None and (observed <= last[0] or (
                last[1] == limit.used_percent and last[2] == resets and observed - last[0] < THIN_SECONDS)):
            continue
        conn.execute(
            "INSERT OR IGNORE INTO limit_readings(provider_id, account_id, name, observed_at, used_percent, "
            "resets_at, window_seconds, source) VALUES(?,?,?,?,?,?,?,?)",
            (snapshot.provider_id, snapshot.account_id, name, observed, float(limit.used_percent), resets,
             limit.window_seconds, limit.source),
        )
        added += 1
    return added


def prune(conn: sqlite3.Connection, retention_days: int, now: float) -> int:
    """Delete readings older than the retention period (at least KEEP_DAYS)."""
    cutoff = now - max(retention_days, KEEP_DAYS) * 86400
    return conn.execute("DELETE FROM limit_readings WHERE observed_at < ?", (cutoff,)).rowcount


def readings(conn: sqlite3.Connection, provider_id: str, account_id: str, name: str,
             since: float) -> List[pace.Reading]:
    rows = conn.execute(
        "SELECT observed_at, used_percent, resets_at FROM limit_readings WHERE provider_id=? AND account_id=? "
        "AND name=? AND observed_at >= ? ORDER BY observed_at", (provider_id, account_id, name, since),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def decorate(conn: sqlite3.Connection, snap: UsageSnapshot, now: float, warn_threshold: float = 0.20) -> None:
    """Put pace and history on the snapshot's plan windows and raise its status for their use."""
    history: Dict[str, List[List[float]]] = {}
    for name, limit in (snap.rate_limits or {}).items():
        if not is_plan_window(limit):
            continue
        resets = to_epoch(limit.resets_at) if limit.resets_at else None
        since = now - (limit.window_seconds or KEEP_DAYS * 86400)
        rows = readings(conn, snap.provider_id, snap.account_id, name, since)
        observed = to_epoch(limit.observed_at)
        if observed is not None and not any(abs(r[0] - observed) < 1e-3 for r in rows):
            rows.append((observed, float(limit.used_percent), resets))  # the snapshot's own, not stored yet
        points = pace.current_window(rows, resets)
        projected = pace.project(points, resets, limit.window_seconds)
        limit.pace = projected
        if points:
            history[name] = [[round(t), round(p, 2)] for t, p in _thin(points, HISTORY_POINTS)]
    if history:
        snap.extras = dict(snap.extras or {}, limits_history=history)
    _raise_status(snap, warn_threshold)


def _thin(points: List[Any], count: int) -> List[Any]:
    """At most `count` points, evenly picked, always keeping the last."""
    if len(points) <= count:
        return list(points)
    step = (len(points) - 1) / (count - 1)
    return [points[round(i * step)] for i in range(count)]


def _raise_status(snap: UsageSnapshot, warn_threshold: float) -> None:
    """LIMIT when a plan window is full, WARN when what is left is at most the threshold."""
    worst: Optional[str] = None
    worst_name = ""
    worst_pct = 0.0
    for name, limit in (snap.rate_limits or {}).items():
        if not is_plan_window(limit):
            continue
        pct = float(limit.used_percent)  # type: ignore[arg-type]
        level = "LIMIT" if pct >= 100.0 else "WARN" if (100.0 - pct) / 100.0 <= warn_threshold + 1e-9 else None
        if level and (worst is None or STATUS_RANK[level] > STATUS_RANK[worst] or pct > worst_pct):
            worst, worst_name, worst_pct = level, name, pct
    current = snap.status or "OK"
    if worst is None or STATUS_RANK.get(current, 0) >= STATUS_RANK[worst]:
        return
    note = f"{worst_name} plan window {worst_pct:.0f}% used"
    snap.message = note if current == "OK" or not snap.message else f"{note}; {snap.message}"
    snap.status = worst

