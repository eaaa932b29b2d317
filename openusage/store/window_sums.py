"""A window's sums for one account, from the store: whole local days from the day rollups, the partial
first day of a rolling window from quarter-hour buckets (usage from rollup_qm, by model alone), and
the part of the first quarter-hour inside the window from the event rows. A session that began
inside the window is read from its sessions row (its whole-life sums); only those that began before
it are summed like the other breakdowns. The read model (store/readmodel.py) and the alerts read them.
"""
from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from openusage.core import pricing
from openusage.core.windows import local_date, next_local_midnight, validate_window, window_start
from openusage.store.db import QUARTER

TOP_N = 50  # breakdown rows a snapshot shows (sessions: as many as can rank are read)
USAGE_FIELDS = ("input", "output", "cache_read", "cache_write", "reasoning", "cost", "requests")


@dataclass
class Aggregate:
    models: Dict[str, List[float]] = field(default_factory=lambda: defaultdict(lambda: [0] * 7))
    days: Dict[str, List[float]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))
    unpriced: Dict[str, int] = field(default_factory=lambda: defaultdict(int))  # model -> tokens left out
    dims: Dict[Tuple[str, str], List[float]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))

    def empty(self) -> bool:
        return not self.models and not self.dims

    def add_usage(self, day: str, model: str, values: Iterable[float]) -> None:
        """Add (input, output, cache_read, cache_write, reasoning, cost, requests) of a model on a day."""
        inp, out, cache_read, cache_write, reasoning, cost, requests = values
        acc = self.models[model]
        acc[0] += inp or 0
        acc[1] += out or 0
        acc[2] += cache_read or 0
        acc[3] += cache_write or 0
        acc[4] += reasoning or 0
        acc[5] += cost or 0
        acc[6] += requests or 0
        tokens = inp + out + cache_read + cache_write
        d = self.days[day]
        d[0] += cost or 0
        d[1] += tokens
        d[2] += requests or 0
        if pricing.leaves_out(model, cost, inp, out, cache_read, cache_write):
            d[3] += tokens
            self.unpriced[model] += int(tokens)

    def add_dim(self, dim: str, name: str, calls: float, requests: float, tokens: float, cost: float) -> None:
        acc = self.dims[(dim, name)]
        acc[0] += calls
        acc[1] += requests
        acc[2] += tokens
        acc[3] += cost


class WindowRange:
    """How a window splits into whole days, quarter buckets and raw-event edges."""

    def __init__(self, window: str, now: float):
        self.window = validate_window(window)
        self.start = window_start(window, now)
        self.first_full_day: Optional[str] = None  # day rollups from this day on (None: all days)
        self.quarters: Optional[Tuple[int, int]] = None  # [from, to) bucket numbers
        self.partial_day: Optional[str] = None
        self.edge: Optional[Tuple[float, float]] = None  # [from, to) epoch seconds from raw events
        if self.start is None:
            return
        start_day = local_date(self.start)
        if window == "1d":
            self.first_full_day = start_day
            return
        midnight = next_local_midnight(self.start)
        self.first_full_day = local_date(midnight)
        self.partial_day = start_day
        first_q = math.ceil(self.start / QUARTER)
        self.quarters = (first_q, int(midnight // QUARTER))
        if first_q * QUARTER > self.start:
            self.edge = (self.start, first_q * QUARTER)


def aggregate(conn: sqlite3.Connection, provider_id: str, account_id: str, rng: WindowRange) -> Aggregate:
    """Sum one account's usage and breakdowns over the window.

    Sessions are the breakdown with the most names (thousands a month): one whose first event is inside
    the window has all of its sums there, read from its `sessions` row; only the sessions that began
    before the window and go on inside it are summed from the day and quarter rows like the others. Of
    the first kind only those that can rank in the first TOP_N are read (their cost is the ranking key).
    """
    agg = Aggregate()
    key = (provider_id, account_id)
    cols = ", ".join(f"SUM({c})" for c in USAGE_FIELDS)
    day_filter, day_args = ("", ()) if rng.first_full_day is None else (" AND day >= ?", (rng.first_full_day,))
    for row in conn.execute(
        f"SELECT day, model, {cols} FROM rollup_d WHERE provider_id=? AND account_id=?{day_filter} "
        "GROUP BY day, model",
        (*key, *day_args),
    ):
        agg.add_usage(row[0], row[1], row[2:])
    dims = agg.dims  # still empty, and the rows are one per (dim, name): set them, nothing to add
    for row in conn.execute(
        "SELECT dim, name, SUM(calls), SUM(requests), SUM(tokens), SUM(cost) FROM dim_d "
        f"WHERE provider_id=? AND account_id=?{day_filter} AND dim <> 'session' GROUP BY dim, name",
        (*key, *day_args),
    ):
        dims[(row[0], row[1])] = [row[2], row[3], row[4], row[5]]
    straddling = _straddling_sessions(conn, key, rng)
    if straddling:
        for chunk in chunks(straddling):
            for row in conn.execute(
                "SELECT name, SUM(calls), SUM(requests), SUM(tokens), SUM(cost) FROM dim_d "
                f"WHERE provider_id=? AND account_id=?{day_filter} AND dim = 'session' "
                f"AND name IN ({', '.join('?' * len(chunk))}) GROUP BY name",
                (*key, *day_args, *chunk),
            ):
                dims[("session", row[0])] = [row[1], row[2], row[3], row[4]]
    if rng.quarters:
        q_from, q_to = rng.quarters
        for row in conn.execute(
            f"SELECT model, {cols} FROM rollup_qm WHERE provider_id=? AND account_id=? AND bucket>=? AND bucket<? "
            "GROUP BY model",
            (*key, q_from, q_to),
        ):
            agg.add_usage(rng.partial_day, row[0], row[1:])
        dim_sql = ("SELECT dim, name, SUM(calls), SUM(requests), SUM(tokens), SUM(cost) FROM dim_q "
                   "WHERE provider_id=? AND account_id=? AND bucket>=? AND bucket<? AND ")
        for row in conn.execute(dim_sql + "dim <> 'session' GROUP BY dim, name", (*key, q_from, q_to)):
            agg.add_dim(*row)
        for chunk in chunks(straddling):
            for row in conn.execute(dim_sql + f"dim = 'session' AND name IN ({', '.join('?' * len(chunk))}) "
                                    "GROUP BY dim, name", (*key, q_from, q_to, *chunk)):
                agg.add_dim(*row)
    if rng.edge:
        _add_edge_events(conn, key, rng, agg, straddling)
    _add_sessions_inside(conn, key, rng, agg)
    return agg


def chunks(names: Iterable[str], size: int = 500) -> Iterable[List[str]]:
    """Names in lists short enough for one statement's parameters."""
    names = list(names)
    return [names[i:i + size] for i in range(0, len(names), size)]


def _straddling_sessions(conn: sqlite3.Connection, key: Tuple[str, str], rng: WindowRange) -> set:
    """Sessions that began before the window and go on inside it."""
    if rng.start is None:
        return set()
    return {row[0] for row in conn.execute(
        "SELECT session_id FROM sessions WHERE provider_id=? AND account_id=? AND first_at < ? AND last_at >= ?",
        (*key, rng.start, rng.start))}


def _add_sessions_inside(conn: sqlite3.Connection, key: Tuple[str, str], rng: WindowRange, agg: Aggregate) -> None:
    """The sessions whose first event is inside the window: their whole-life sums, as many as can rank."""
    where, args = "provider_id=? AND account_id=?", key
    if rng.start is not None:
        where, args = where + " AND first_at >= ?", (*key, rng.start)
    nth = conn.execute(f"SELECT cost FROM sessions WHERE {where} ORDER BY cost DESC LIMIT 1 OFFSET ?",
                       (*args, TOP_N - 1)).fetchone()
    if nth is not None and round(nth[0], 6) > 0:
        # TOP_N sessions cost at least nth[0]: one that costs less (by more than the rounding) cannot rank.
        where, args = where + " AND cost >= ?", (*args, nth[0] - 2e-6)
    empty = []
    for name, calls, requests, tokens, cost in conn.execute(
            f"SELECT session_id, calls, requests, tokens, cost FROM sessions WHERE {where}", args):
        if calls == 0 and requests <= 0 and tokens == 0 and abs(cost) < 1e-9:
            empty.append(name)
        else:
            agg.dims[("session", name)] = [calls, requests, tokens, cost]
    if empty:  # nothing to sum: a session is in the window when one of its rows is (a turn with no usage)
        for name in _sessions_with_rows(conn, key, rng, empty):
            agg.dims[("session", name)] = [0, 0, 0, 0.0]


# The event rows of a window's edge (occurred_at >= ? AND < ?) of one account (provider, account): by
# the time index, each row's place by its id.
_EDGE_FROM = ("FROM events AS e INDEXED BY events_time CROSS JOIN counted_place AS p ON p.id = e.place "
              "WHERE e.occurred_at >= ? AND e.occurred_at < ? AND p.provider_id = ? AND p.account_id = ?")


def _sessions_with_rows(conn: sqlite3.Connection, key: Tuple[str, str], rng: WindowRange, names: List[str]) -> set:
    """Those of the sessions named that have a breakdown row (or a raw event) inside the window."""
    found = set()
    day_filter, day_args = ("", ()) if rng.first_full_day is None else (" AND day >= ?", (rng.first_full_day,))
    for chunk in chunks(names):
        marks = ", ".join("?" * len(chunk))
        parts = [(f"SELECT name FROM dim_d WHERE provider_id=? AND account_id=?{day_filter} AND dim = 'session' "
                  f"AND name IN ({marks})", (*key, *day_args, *chunk))]
        if rng.quarters:
            parts.append((f"SELECT name FROM dim_q WHERE provider_id=? AND account_id=? AND bucket>=? AND bucket<? "
                          f"AND dim = 'session' AND name IN ({marks})", (*key, *rng.quarters, *chunk)))
        if rng.edge:
            parts.append((f"SELECT p.session_id {_EDGE_FROM} AND p.session_id IN ({marks})",
                          (*rng.edge, *key, *chunk)))
        for sql, args in parts:
            found.update(row[0] for row in conn.execute(sql, args))
    return found


def _add_edge_events(conn: sqlite3.Connection, key: Tuple[str, str], rng: WindowRange, agg: Aggregate,
                     straddling: set) -> None:
    """The raw events of the window's partial first quarter-hour; of their sessions only those that began
    before the window (the others' sums are whole in their sessions rows)."""
    day = rng.partial_day
    add_usage, add_dim = agg.add_usage, agg.add_dim
    for model, inp, out, cache_read, cache_write, reasoning, cost, requests, event_type, tool, mcp, project, session \
            in conn.execute(
                "SELECT p.model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, "
                f"cost_usd, requests, event_type, p.tool_name, p.mcp_server, p.project, p.session_id {_EDGE_FROM}",
                (*rng.edge, *key)):
        cost = cost or 0.0
        if inp or out or cache_read or cache_write or cost or requests:
            add_usage(day, model or "", (inp, out, cache_read, cache_write, reasoning, cost, requests))
        tokens = inp + out + cache_read + cache_write
        calls = 1 if event_type == "tool_usage" else 0
        if tool:
            add_dim("tool", tool, calls, requests, tokens, cost)
        if mcp:
            add_dim("mcp", mcp, calls, requests, tokens, cost)
        if project:
            add_dim("project", project, calls, requests, tokens, cost)
        if session in straddling:
            add_dim("session", session, calls, requests, tokens, cost)
