"""The read model: one UsageSnapshot per account for a time window, built from the store.

Live values (status, rate limits, balances) come from the latest stored snapshot whatever the
window; spend, tokens, models, breakdowns and the per-day series are aggregated over the window:
each account's sums (store/window_sums.py) made into its snapshot here.
"""
from __future__ import annotations

import heapq
import json
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

from openusage.core import redact
from openusage.core.snapshot import Breakdown, DailyPoint, ModelUsage, Period, Spend, Tokens, Unpriced, UsageSnapshot
from openusage.core.timeutil import format_rfc3339, to_epoch
from openusage.core.windows import local_date
from openusage.store import limits
from openusage.store.window_sums import TOP_N, Aggregate, WindowRange, aggregate, chunks

__all__ = ["TOP_N", "AccountRef", "Aggregate", "WindowRange", "aggregate", "build"]

DIMS = {"tool": "tools", "mcp": "mcp_servers", "project": "projects", "session": "sessions"}


@dataclass
class AccountRef:
    """An account the read model must show even before it has data."""

    provider_id: str
    account_id: str
    display_name: Optional[str] = None


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
    for chunk in chunks(rows):
        for name, project, first_at, last_at in conn.execute(
            "SELECT session_id, project, first_at, last_at FROM sessions WHERE provider_id=? AND account_id=? "
            f"AND session_id IN ({', '.join('?' * len(chunk))})",
            (snap.provider_id, snap.account_id, *chunk),
        ):
            row = rows[name]
            row.project = project
            row.first_at = format_rfc3339(first_at)
            row.last_at = format_rfc3339(last_at)
