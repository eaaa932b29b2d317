"""The read model: one UsageSnapshot per account for a time window, built from the store.

Live values (status, rate limits, balances) come from the latest stored snapshot whatever the
window; spend, tokens, models, breakdowns and the per-day series are aggregated over the window:
whole local days from the day rollups, the partial first day of a rolling window from quarter-hour
buckets (usage from rollup_qm, by model alone), and the part of the first quarter-hour inside the
window from the raw events. A session that began inside the window is read from its sessions row
(its whole-life sums); only those that began before it are summed like the other breakdowns.
"""
from __future__ import annotations

import heapq
import json
import math
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple

from openusage.core import pricing, redact
from openusage.core.snapshot import Breakdown, DailyPoint, ModelUsage, Period, Spend, Tokens, Unpriced, UsageSnapshot
from openusage.core.timeutil import format_rfc3339, to_epoch
from openusage.core.windows import local_date, next_local_midnight, validate_window, window_start
from openusage.store import limits
from openusage.store.db import QUARTER

USAGE_FIELDS = ("input", "output", "cache_read", "cache_write", "reasoning", "cost", "requests")
DIMS = {"tool": "tools", "mcp": "mcp_servers", "project": "projects", "session": "sessions"}
TOP_N = 50


@dataclass
class AccountRef:
    """An account the read model must show even before it has data."""

    provider_id: str
    account_id: str
    display_name: Optional[str] = None


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
        for chunk in _chunks(straddling):
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
        for chunk in _chunks(straddling):
            for row in conn.execute(dim_sql + f"dim = 'session' AND name IN ({', '.join('?' * len(chunk))}) "
                                    "GROUP BY dim, name", (*key, q_from, q_to, *chunk)):
                agg.add_dim(*row)
    if rng.edge:
        _add_edge_events(conn, key, rng, agg, straddling)
    _add_sessions_inside(conn, key, rng, agg)
    return agg


def _chunks(names: Iterable[str], size: int = 500) -> Iterable[List[str]]:
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
    for chunk in _chunks(names):
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


def _account_keys(conn: sqlite3.Connection, refs: Iterable[AccountRef]) -> List[Tuple[str, str]]:
    keys: Dict[Tuple[str, str], None] = {}
    for ref in refs:
        keys[(ref.provider_id, ref.account_id)] = None
    for row in conn.execute("SELECT provider_id, account_id FROM snapshots"):
        keys[(row[0], row[1])] = None
    for table in ("rollup_d", "dim_d"):
        # Each account in key order, a seek past the one before (DISTINCT reads every row of the table).
        select = f"SELECT provider_id, account_id FROM {table}"
        row = conn.execute(f"{select} ORDER BY provider_id, account_id LIMIT 1").fetchone()
        while row is not None:
            keys[(row[0], row[1])] = None
            row = (conn.execute(f"{select} WHERE provider_id = ? AND account_id > ? ORDER BY account_id LIMIT 1",
                                row).fetchone()
                   or conn.execute(f"{select} WHERE provider_id > ? ORDER BY provider_id, account_id LIMIT 1",
                                   row[:1]).fetchone())
    return list(keys)


def build(
    conn: sqlite3.Connection,
    window: str,
    now: Optional[float] = None,
    accounts: Iterable[AccountRef] = (),
    provider_names: Optional[Dict[str, str]] = None,
    warn_threshold: float = 0.20,
) -> Dict[str, Any]:
    """The read-model response: {"window", "generated_at", "snapshots": {key: UsageSnapshot dict}}.

    Plan windows get their pace and history from the stored readings, and the status their use calls
    for (WARN when at most `warn_threshold` is left, LIMIT when full).
    """
    now = time.time() if now is None else now
    rng = WindowRange(window, now)
    refs = {(r.provider_id, r.account_id): r for r in accounts}
    stored = {
        (row[0], row[1]): (row[2], row[3])
        for row in conn.execute("SELECT provider_id, account_id, fetched_at, body FROM snapshots")
    }
    snapshots: Dict[str, Any] = {}
    for provider_id, account_id in _account_keys(conn, refs.values()):
        fetched = stored.get((provider_id, account_id))
        snap = _base_snapshot(provider_id, account_id, fetched, refs.get((provider_id, account_id)),
                              provider_names or {})
        agg = aggregate(conn, provider_id, account_id, rng)
        derive_spend(snap, rng, agg.empty())
        apply_aggregate(snap, agg, rng)
        attach_sessions(conn, snap)
        limits.decorate(conn, snap, now, warn_threshold)
        if snap.status is None:
            snap.status = "OK" if not agg.empty() else "UNKNOWN"
            if agg.empty() and not snap.message:
                snap.message = "no data yet"
        key = account_id if account_id not in snapshots else f"{provider_id}:{account_id}"
        snapshots[key] = snap.to_dict()
    return {
        "window": window,
        "generated_at": format_rfc3339(now),
        "window_start": format_rfc3339(rng.start) if rng.start is not None else None,
        "snapshots": snapshots,
    }


def _base_snapshot(provider_id, account_id, fetched, ref, names) -> UsageSnapshot:
    if fetched is not None:
        try:
            snap = UsageSnapshot.from_dict(redact.mask_tree(json.loads(fetched[1])))  # rows stored unmasked
        except (ValueError, TypeError):
            snap = UsageSnapshot(provider_id=provider_id, account_id=account_id, status="ERR",
                                 message="stored snapshot unreadable")
    else:
        snap = UsageSnapshot(provider_id=provider_id, account_id=account_id)
    if ref is not None and ref.display_name:
        snap.display_name = ref.display_name
    if not snap.display_name:
        snap.display_name = names.get(provider_id, provider_id)
    return snap


def apply_aggregate(snap: UsageSnapshot, agg: Aggregate, rng: WindowRange) -> None:
    """Fill the window's spend, tokens, models, per-day series and breakdowns into a snapshot."""
    if agg.empty():
        if snap.daily and rng.start is not None:
            first = local_date(rng.start)
            snap.daily = [p for p in snap.daily if p.date >= first]
        return
    totals = [0] * 7
    models = []
    for name, v in agg.models.items():
        for i in range(7):
            totals[i] += v[i]
        if name:
            unpriced = agg.unpriced.get(name) and not v[5]  # no cost at all: absent, not $0
            models.append(ModelUsage(model=name, input=int(v[0]), output=int(v[1]), cache_read=int(v[2]),
                                     cache_write=int(v[3]), reasoning=int(v[4]), requests=int(v[6]),
                                     cost=None if unpriced else round(v[5], 6)))
    models.sort(key=lambda m: (-(m.cost or 0), -m.total_tokens(), m.model))
    if models or any(totals):
        snap.models = models
        snap.tokens = Tokens(input=int(totals[0]), output=int(totals[1]), cache_read=int(totals[2]),
                             cache_write=int(totals[3]), reasoning=int(totals[4])).with_total()
        snap.spend = snap.spend or Spend()
        snap.spend.total = round(totals[5], 6)
        snap.currency = snap.currency or "USD"
        snap.daily = [DailyPoint(date=d, cost=round(v[0], 6), tokens=int(v[1]), requests=int(v[2]),
                                 unpriced_tokens=int(v[3]) or None) for d, v in sorted(agg.days.items())]
    left_out = sorted(((m or "(no model)", n) for m, n in agg.unpriced.items() if n), key=lambda x: (-x[1], x[0]))
    if left_out:
        snap.unpriced = [Unpriced(model=m, tokens=n) for m, n in left_out]
        snap.spend.incomplete = True
    _apply_breakdowns(snap, agg)


# How far before the window's start the observation a derived spend starts from may lie: the provider's
# sampling gap plus one poll interval (providers/observed.py).
OBSERVED_SLACK = 3600.0


def derive_spend(snap: UsageSnapshot, rng: WindowRange, no_events: bool) -> None:
    """The window's spend of an account that reports none (API providers): from its spend counter observed
    over time (`extras.window_spend`, exact to a poll) when that covers the window, else from its daily
    series of whole UTC days (labelled with the days it covers, `periods["spend.total"]`); else it stays
    unknown and the provider's own figures speak, each with its period."""
    extras = snap.extras or {}
    observed = extras.pop("window_spend", None)
    snap.extras = extras or None
    spend = snap.spend
    if not no_events or (spend is not None and spend.total is not None):
        return
    entry = observed.get(rng.window) if isinstance(observed, dict) else None
    if isinstance(entry, dict) and isinstance(entry.get("total"), (int, float)):
        start = to_epoch(entry["start"]) if entry.get("start") else None
        if (rng.start is None and start is None) or (
                rng.start is not None and start is not None and 0 <= rng.start - start <= OBSERVED_SLACK):
            snap.spend = spend or Spend()
            snap.spend.total = round(float(entry["total"]), 6)
            return
    covered = snap.period_of("daily")
    if rng.start is None or covered is None or covered.kind != "days" or not snap.daily:
        return
    first = time.strftime("%Y-%m-%d", time.gmtime(rng.start))
    if (covered.start or "")[:10] > first:
        return
    costs = [p.cost for p in snap.daily if p.date >= first and p.cost is not None]
    snap.spend = spend or Spend()
    snap.spend.total = round(sum(costs), 6)
    snap.set_period("spend.total", Period(kind="days", start=first + "T00:00:00.000Z"))


def _apply_breakdowns(snap: UsageSnapshot, agg: Aggregate) -> None:
    grouped: Dict[str, List[Tuple[str, List[float]]]] = defaultdict(list)
    for (dim, name), values in agg.dims.items():
        grouped[dim].append((name, values))
    tool_calls = sum(int(values[0]) for _, values in grouped.get("tool", []))
    if tool_calls:
        snap.tool_calls = tool_calls
    for dim, attr in DIMS.items():
        rows = grouped.get(dim)
        if not rows:
            continue
        # Only the first TOP_N become Breakdowns: a month can hold thousands of sessions.
        if dim in ("tool", "mcp"):
            top = heapq.nsmallest(TOP_N, rows, key=lambda r: (-int(r[1][0]), r[0]))
        else:
            top = heapq.nsmallest(TOP_N, rows, key=lambda r: (-round(r[1][3], 6), -int(r[1][2]), r[0]))
        setattr(snap, attr, [Breakdown(name=name, calls=int(calls) or None, requests=int(requests) or None,
                                       tokens=int(tokens) or None, cost=round(cost, 6) or None)
                             for name, (calls, requests, tokens, cost) in top])


def attach_sessions(conn: sqlite3.Connection, snap: UsageSnapshot) -> None:
    """Add project and first/last times to the session rows of a snapshot."""
    rows = {row.name: row for row in snap.sessions or []}
    if not rows:
        return
    for chunk in _chunks(rows):
        for name, project, first_at, last_at in conn.execute(
            "SELECT session_id, project, first_at, last_at FROM sessions WHERE provider_id=? AND account_id=? "
            f"AND session_id IN ({', '.join('?' * len(chunk))})",
            (snap.provider_id, snap.account_id, *chunk),
        ):
            row = rows[name]
            row.project = project
            row.first_at = format_rfc3339(first_at)
            row.last_at = format_rfc3339(last_at)
