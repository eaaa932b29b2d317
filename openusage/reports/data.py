"""Report input: quarter-hour usage rows from a store, filtered, with the cost of the chosen mode."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from openusage.store.db import QUARTER

COST_COLUMN = {"auto": "cost", "calculate": "cost_calc", "display": "cost_logged"}
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens")


@dataclass
class Row:
    """One quarter-hour (or folded period) of usage of one provider, account, model, project and session."""

    at: float  # start of the quarter-hour bucket, epoch seconds
    provider_id: str
    account_id: str
    model: str
    project: str
    session_id: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float
    requests: int
    unpriced_tokens: int = 0  # tokens the cost leaves out: no price known (never in display mode)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens


def load_rows(
    conn: sqlite3.Connection,
    since: Optional[float] = None,
    until: Optional[float] = None,
    providers: Optional[List[str]] = None,
    projects: Optional[List[str]] = None,
    mode: str = "auto",
    by_session: bool = True,
) -> Iterator[Row]:
    """Usage rows in [since, until), oldest first.

    Without by_session, SQLite first folds projects and sessions into one row per bucket, provider and
    model (what block reports need), which is several times fewer rows for Python.
    """
    where, args = _filters("", since, until, providers, projects, mode)
    cost = COST_COLUMN[mode]
    if by_session:
        sql = (
            "SELECT bucket, provider_id, account_id, model, project, session_id, input, output, cache_read, "
            f"cache_write, reasoning, {cost}, requests FROM rollup_q WHERE {where} ORDER BY bucket"
        )
    else:
        sql = (
            "SELECT bucket, provider_id, account_id, model, '', '', SUM(input), SUM(output), SUM(cache_read), "
            f"SUM(cache_write), SUM(reasoning), SUM({cost}), SUM(requests) FROM rollup_q "
            f"WHERE {where} GROUP BY bucket, provider_id, account_id, model ORDER BY bucket"
        )
    for r in conn.execute(sql, args):
        yield _row(r, mode)


def load_rows_by_period(
    conn: sqlite3.Connection,
    period_of: Callable[[float], str],
    since: Optional[float] = None,
    until: Optional[float] = None,
    providers: Optional[List[str]] = None,
    projects: Optional[List[str]] = None,
    mode: str = "auto",
) -> Iterator[Row]:
    """One row per period, provider, account and model, summed by SQLite, oldest first.

    `period_of(epoch)` names the period of a bucket (its local day, week or month): each distinct
    bucket is named once in Python, and SQLite sums through a join. A row's `at` is its period's
    first bucket.
    """
    where, args = _filters("", since, until, providers, projects, mode)
    buckets = [r[0] for r in conn.execute(f"SELECT DISTINCT bucket FROM rollup_q WHERE {where}", args)]
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS report_period(bucket INTEGER PRIMARY KEY, period TEXT)")
    conn.execute("DELETE FROM temp.report_period")
    conn.executemany("INSERT INTO temp.report_period VALUES (?, ?)",
                     [(b, period_of(b * QUARTER)) for b in buckets])
    where, args = _filters("r.", since, until, providers, projects, mode)
    cost = COST_COLUMN[mode]
    sql = (
        "SELECT MIN(r.bucket), r.provider_id, r.account_id, r.model, '', '', SUM(r.input), SUM(r.output), "
        f"SUM(r.cache_read), SUM(r.cache_write), SUM(r.reasoning), SUM(r.{cost}), SUM(r.requests) "
        f"FROM rollup_q r JOIN temp.report_period p ON p.bucket = r.bucket WHERE {where} "
        "GROUP BY p.period, r.provider_id, r.account_id, r.model ORDER BY 1"
    )
    for r in conn.execute(sql, args):
        yield _row(r, mode)


def load_rows_by_local_day(
    conn: sqlite3.Connection,
    since: Optional[float] = None,
    until: Optional[float] = None,
    providers: Optional[List[str]] = None,
) -> Optional[List[Row]]:
    """One row per local day, provider, account and model from the day rollups, oldest first.

    What load_rows_by_period reads for periods of whole local days in this process's own zone, in
    cost mode auto and without a project filter, at a fraction of the cost. None when the store's day
    rollups were made in another zone (a daemon started before the machine's zone changed); the
    caller then reads the quarter-hour rollups. A row's `at` is noon of its day.
    """
    import time

    from openusage.core.windows import local_date, tz_signature
    from openusage.store.db import get_meta

    if get_meta(conn, "tz_signature") != tz_signature():
        return None
    where = ["(input + output + cache_read + cache_write + requests) > 0"]
    args: List[object] = []
    if since is not None:
        where.append("day >= ?")
        args.append(local_date(since))
    if until is not None:
        where.append("day < ?")
        args.append(local_date(until))
    if providers:
        where.append(f"provider_id IN ({','.join('?' * len(providers))})")
        args.extend(providers)
    noon: Dict[str, float] = {}
    rows = []
    for r in conn.execute(
        "SELECT day, provider_id, account_id, model, input, output, cache_read, cache_write, reasoning, cost, "
        f"requests FROM rollup_d WHERE {' AND '.join(where)} ORDER BY day", args,
    ):
        at = noon.get(r[0])
        if at is None:
            y, m, d = (int(x) for x in r[0].split("-"))
            at = noon[r[0]] = time.mktime((y, m, d, 12, 0, 0, 0, 0, -1))
        rows.append(Row(at, r[1], r[2], r[3], "", "", r[4], r[5], r[6], r[7], r[8], r[9] or 0.0, r[10],
                        _unpriced(r[3], r[9] or 0.0, r[4], r[5], r[6], r[7], "auto")))
    return rows


def _row(r: tuple, mode: str = "auto") -> Row:
    cost = r[11] or 0.0
    return Row(r[0] * QUARTER, r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], cost, r[12],
               _unpriced(r[3], cost, r[6], r[7], r[8], r[9], mode))


def _unpriced(model: str, cost: float, inp: int, out: int, cache_read: int, cache_write: int, mode: str) -> int:
    """The row's tokens when its cost of 0 is a missing price; display mode shows logged costs only, by
    choice, so it leaves nothing out."""
    if cost or mode == "display":
        return 0
    from openusage.core import pricing

    return inp + out + cache_read + cache_write if pricing.leaves_out(model, cost, inp, out, cache_read,
                                                                        cache_write) else 0


def _filters(alias: str, since, until, providers, projects, mode) -> Tuple[str, List[object]]:
    """The WHERE clause (columns prefixed by alias) and its arguments."""
    if mode not in COST_COLUMN:
        raise ValueError(f"unknown cost mode {mode!r} (use auto, calculate or display)")
    a = alias
    where = [f"({a}input + {a}output + {a}cache_read + {a}cache_write + {a}requests) > 0"]
    args: List[object] = []
    if since is not None:
        where.append(f"{a}bucket >= ?")
        args.append(int(since // QUARTER))
    if until is not None:
        where.append(f"{a}bucket < ?")
        args.append(int(-(-until // QUARTER)))
    for column, values in (("provider_id", providers), ("project", projects)):
        if values:
            where.append(f"{a}{column} IN ({','.join('?' * len(values))})")
            args.extend(values)
    return " AND ".join(where), args


def session_info(conn: sqlite3.Connection) -> Dict[tuple, tuple]:
    """(provider, session) -> (project, first_at, last_at) from the sessions table."""
    return {(r[0], r[1]): (r[2], r[3], r[4])
            for r in conn.execute("SELECT provider_id, session_id, project, first_at, last_at FROM sessions")}


class Totals:
    """Token and cost sums, with a per-model split."""

    __slots__ = ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens", "reasoning_tokens",
                 "cost_usd", "requests", "models", "unpriced")

    def __init__(self) -> None:
        self.input_tokens = self.output_tokens = self.cache_write_tokens = self.cache_read_tokens = 0
        self.reasoning_tokens = self.requests = 0
        self.cost_usd = 0.0
        self.models: Dict[str, Totals] = {}
        self.unpriced: Dict[str, int] = {}  # model -> tokens the cost leaves out

    def add(self, row: Row, split: bool = True) -> None:
        self.input_tokens += row.input_tokens
        self.output_tokens += row.output_tokens
        self.cache_write_tokens += row.cache_write_tokens
        self.cache_read_tokens += row.cache_read_tokens
        self.reasoning_tokens += row.reasoning_tokens
        self.cost_usd += row.cost_usd
        self.requests += row.requests
        if row.unpriced_tokens:
            self.unpriced[row.model] = self.unpriced.get(row.model, 0) + row.unpriced_tokens
        if split and row.model:
            self.models.setdefault(row.model, Totals()).add(row, split=False)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_write_tokens + self.cache_read_tokens

    def fields(self) -> Dict[str, object]:
        out: Dict[str, object] = {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": round(self.cost_usd, 6),
        }
        if self.unpriced:
            out["cost_incomplete"] = True
            out["unpriced"] = [{"model": m or "(no model)", "tokens": n}
                               for m, n in sorted(self.unpriced.items(), key=lambda kv: (-kv[1], kv[0]))]
        return out

    def to_dict(self, with_models: bool = True) -> Dict[str, object]:
        out = self.fields()
        if with_models:
            out["models"] = [dict(model=name, **t.fields())
                             for name, t in sorted(self.models.items(), key=lambda kv: (-kv[1].cost_usd, kv[0]))]
        return out
