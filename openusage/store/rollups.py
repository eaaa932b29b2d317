"""The rollups a write adds to: their columns, the deltas events make, and their sums in memory.

Quarter-hour rollups by model, project and session (rollup_q), local-day rollups by model (rollup_d)
and quarter-hour rollups by model alone for the last days (rollup_qm, the read model's), with their
breakdowns by tool, MCP server, project and session (dim_q, dim_d), and the sessions table (a
session's first project and times, and its breakdown sums over its whole life). The writer
(store/writer.py) sums one transaction's deltas in an Aggregate and writes each key once; workers'
summed batches (store/batch.py) merge sessions by the same rule.
"""
from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Optional, Tuple

from openusage.core.events import UsageEvent
from openusage.core.windows import local_date
from openusage.store import counted, db

USAGE_COLS = ("input", "output", "cache_read", "cache_write", "reasoning", "cost", "requests", "events")
QUARTER_COLS = USAGE_COLS + ("cost_calc", "cost_logged")
DIM_COLS = ("calls", "requests", "tokens", "cost")


def full_delta(ev: UsageEvent) -> Dict[str, float]:
    """What a new event adds."""
    return {
        "input": ev.input_tokens,
        "output": ev.output_tokens,
        "cache_read": ev.cache_read_tokens,
        "cache_write": ev.cache_write_tokens,
        "reasoning": ev.reasoning_tokens,
        "cost": ev.cost_usd or 0.0,
        "cost_calc": calc_cost(ev),
        "cost_logged": ev.cost_logged_usd or 0.0,
        "requests": ev.requests,
        "events": 1,
        "calls": 1 if ev.event_type == "tool_usage" else 0,
    }


def _counted_delta(row: counted.Counted) -> Dict[str, float]:
    """What a counted message added when it was counted (its kept copy's full delta)."""
    return {
        "input": row.input,
        "output": row.output,
        "cache_read": row.cache_read,
        "cache_write": row.cache_write,
        "reasoning": row.reasoning,
        "cost": row.cost or 0.0,
        "cost_calc": (row.cost_computed if row.cost_computed is not None else row.cost) or 0.0,
        "cost_logged": row.cost_logged or 0.0,
        "requests": row.requests,
        "events": 1,
        "calls": 0,
    }


def growth(ev: UsageEvent, row: counted.Counted) -> Dict[str, float]:
    """What a larger copy adds to a counted message that stays where it is (still one event, one request)."""
    new, old = full_delta(ev), _counted_delta(row)
    delta = {k: new[k] - old[k] for k in new}
    delta.update(requests=0, events=0, calls=0)
    return delta


def taken_back(row: counted.Counted) -> Dict[str, float]:
    """A counted message's whole contribution, negated: it moves to where its kept copy is dated."""
    return {k: -v for k, v in _counted_delta(row).items()}


def calc_cost(ev: UsageEvent) -> float:
    return (ev.cost_computed_usd if ev.cost_computed_usd is not None else ev.cost_usd) or 0.0


def merge_session(sessions: Dict[tuple, List[Any]], key: tuple, project: Optional[str], at: float) -> None:
    """A session's first non-empty project and its first and last times, kept in `sessions[key]`."""
    project = project or None  # an empty project is no project: it must not hide a later real one
    cur = sessions.get(key)
    if cur is None:
        sessions[key] = [project, at, at]
    else:
        cur[0] = cur[0] or project
        cur[1] = min(cur[1], at)
        cur[2] = max(cur[2], at)


def rebuild_day_rollups(conn: sqlite3.Connection) -> None:
    """Regroup quarter-hour rollups into local-day rollups (inside the caller's transaction)."""
    conn.execute("DELETE FROM rollup_d")
    conn.execute("DELETE FROM dim_d")
    days: Dict[int, str] = {}

    def day_of(bucket: int) -> str:
        if bucket not in days:
            days[bucket] = local_date(bucket * db.QUARTER)
        return days[bucket]

    usage: Dict[tuple, List[float]] = defaultdict(lambda: [0] * len(USAGE_COLS))
    for row in conn.execute(f"SELECT provider_id, account_id, bucket, model, {', '.join(USAGE_COLS)} FROM rollup_q"):
        acc = usage[(row[0], row[1], day_of(row[2]), row[3])]
        for i, v in enumerate(row[4:]):
            acc[i] += v
    conn.executemany(upsert_sql("rollup_d", ("provider_id", "account_id", "day", "model"), USAGE_COLS),
                     [(*k, *v) for k, v in usage.items()])
    dims: Dict[tuple, List[float]] = defaultdict(lambda: [0] * len(DIM_COLS))
    for row in conn.execute(f"SELECT provider_id, account_id, bucket, dim, name, {', '.join(DIM_COLS)} FROM dim_q"):
        acc = dims[(row[0], row[1], day_of(row[2]), row[3], row[4])]
        for i, v in enumerate(row[5:]):
            acc[i] += v
    conn.executemany(upsert_sql("dim_d", ("provider_id", "account_id", "day", "dim", "name"), DIM_COLS),
                     [(*k, *v) for k, v in dims.items()])


class Sums:
    __slots__ = ("values",)

    def __init__(self, width: int):
        self.values = [0] * width

    def add(self, delta: Tuple[float, ...]) -> None:
        values = self.values
        for i, v in enumerate(delta):
            if v:
                values[i] += v


class Aggregate:
    """Rollup deltas of one transaction, summed in memory and written once per key."""

    def __init__(self) -> None:
        self.usage_q: Dict[tuple, Sums] = defaultdict(lambda: Sums(len(QUARTER_COLS)))
        self.usage_d: Dict[tuple, Sums] = defaultdict(lambda: Sums(len(USAGE_COLS)))
        self.usage_qm: Dict[tuple, Sums] = defaultdict(lambda: Sums(len(USAGE_COLS)))
        self.dim_q: Dict[tuple, Sums] = defaultdict(lambda: Sums(len(DIM_COLS)))
        self.dim_d: Dict[tuple, Sums] = defaultdict(lambda: Sums(len(DIM_COLS)))
        self.sessions: Dict[tuple, List[Any]] = {}
        self.session_sums: Dict[tuple, Sums] = defaultdict(lambda: Sums(len(DIM_COLS)))  # a breakdown's deltas
        self.emptied: Dict[str, set] = defaultdict(set)  # rollup rows a moved message may have left empty

    def add_session(self, base: Tuple[str, str], session_id: str, project: Optional[str], at: float) -> None:
        merge_session(self.sessions, (*base, session_id), project, at)

    def flush(self, conn: sqlite3.Connection) -> None:
        for table, keys, cols, data in (
            ("rollup_q", ("provider_id", "account_id", "bucket", "model", "project", "session_id"), QUARTER_COLS,
             self.usage_q),
            ("rollup_d", ("provider_id", "account_id", "day", "model"), USAGE_COLS, self.usage_d),
            ("rollup_qm", ("provider_id", "account_id", "bucket", "model"), USAGE_COLS, self.usage_qm),
            ("dim_q", ("provider_id", "account_id", "bucket", "dim", "name"), DIM_COLS, self.dim_q),
            ("dim_d", ("provider_id", "account_id", "day", "dim", "name"), DIM_COLS, self.dim_d),
        ):
            if data:
                conn.executemany(upsert_sql(table, keys, cols), [(*k, *s.values) for k, s in data.items()])
                data.clear()
            if self.emptied.get(table):
                # A row left with nothing in it (its one message moved on) goes: no empty day in a report.
                empty = _EMPTY_USAGE if table.startswith("rollup") else _EMPTY_DIM
                where = " AND ".join(f"{k}=?" for k in keys)
                conn.executemany(f"DELETE FROM {table} WHERE {where} AND {empty}", list(self.emptied.pop(table)))
        if self.sessions:
            sums = self.session_sums
            zero = (0,) * len(DIM_COLS)
            conn.executemany(SESSIONS_UPSERT, [(*k, *v, *(sums[k].values if k in sums else zero))
                                               for k, v in self.sessions.items()])
            self.sessions.clear()
            sums.clear()


# A session's row: its first non-empty project, first and last times, and the sums of its breakdown rows
# (dim_q/dim_d with dim 'session') over its whole life, added up.
SESSIONS_UPSERT = (
    f"INSERT INTO sessions(provider_id, account_id, session_id, project, first_at, last_at, {', '.join(DIM_COLS)}) "
    f"VALUES({', '.join('?' * (6 + len(DIM_COLS)))}) ON CONFLICT(provider_id, account_id, session_id) DO UPDATE SET "
    "project=COALESCE(NULLIF(sessions.project, ''), excluded.project), "
    "first_at=MIN(sessions.first_at, excluded.first_at), last_at=MAX(sessions.last_at, excluded.last_at), "
    f"{', '.join(f'{c}=sessions.{c}+excluded.{c}' for c in DIM_COLS)}"
)
_EMPTY_USAGE = ("events <= 0 AND input = 0 AND output = 0 AND cache_read = 0 AND cache_write = 0 AND requests <= 0 "
                "AND abs(cost) < 1e-9")
_EMPTY_DIM = "calls = 0 AND requests <= 0 AND tokens = 0 AND abs(cost) < 1e-9"
_SQL_CACHE: Dict[tuple, str] = {}


def upsert_sql(table: str, keys: Iterable[str], cols: Iterable[str]) -> str:
    cache_key = (table, tuple(keys), tuple(cols))
    sql = _SQL_CACHE.get(cache_key)
    if sql is None:
        keys, cols = tuple(keys), tuple(cols)
        names = keys + cols
        sets = ", ".join(f"{c}={c}+excluded.{c}" for c in cols)
        sql = (
            f"INSERT INTO {table}({', '.join(names)}) VALUES({', '.join('?' * len(names))}) "
            f"ON CONFLICT({', '.join(keys)}) DO UPDATE SET {sets}"
        )
        _SQL_CACHE[cache_key] = sql
    return sql


def sets(cols: Iterable[str]) -> str:
    return ", ".join(f"{c}={c}+excluded.{c}" for c in cols)
