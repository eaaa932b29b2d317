"""The reports: daily, weekly, monthly, session and 5-hour blocks, as stable JSON-ready dicts."""
from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Dict, Iterable, List, Optional

from openusage.core.timeutil import format_rfc3339
from openusage.reports.data import Row, Totals

BLOCK_SECONDS = 5 * 3600


def _local(epoch: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(epoch, tz)


def period_start(day: datetime, kind: str, week_start: str = "monday") -> str:
    """First day (YYYY-MM-DD) of the day's period."""
    if kind == "daily":
        return day.strftime("%Y-%m-%d")
    if kind == "monthly":
        return day.strftime("%Y-%m-01")
    offset = day.weekday() if week_start == "monday" else (day.weekday() + 1) % 7
    return (day - timedelta(days=offset)).strftime("%Y-%m-%d")


def periods(rows: Iterable[Row], kind: str, tz: tzinfo, week_start: str = "monday",
            last: Optional[int] = None) -> Dict[str, object]:
    """{"daily"|"weekly"|"monthly": [...rows...], "totals": {...}}"""
    groups: Dict[str, Totals] = {}
    totals = Totals()
    day_cache: Dict[float, str] = {}
    for row in rows:
        key = day_cache.get(row.at)
        if key is None:
            key = day_cache[row.at] = period_start(_local(row.at, tz), kind, week_start)
        groups.setdefault(key, Totals()).add(row)
        totals.add(row)
    keys = sorted(groups)
    if last:
        keys = keys[-last:]
        totals = Totals()
        for k in keys:
            _merge(totals, groups[k])
    return {kind: [dict(date=k, **groups[k].to_dict()) for k in keys], "totals": totals.to_dict()}


def _merge(into: Totals, other: Totals) -> None:
    for name in ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens", "reasoning_tokens",
                 "cost_usd", "requests"):
        setattr(into, name, getattr(into, name) + getattr(other, name))
    for model, tokens in other.unpriced.items():
        into.unpriced[model] = into.unpriced.get(model, 0) + tokens
    for model, t in other.models.items():
        _merge(into.models.setdefault(model, Totals()), t)


def sessions(rows: Iterable[Row], tz: tzinfo, info: Dict[tuple, tuple],
             last: Optional[int] = None) -> Dict[str, object]:
    """{"sessions": [...], "totals": {...}}: one row per session, most recent last."""
    groups: Dict[tuple, Totals] = {}
    spans: Dict[tuple, List[float]] = {}
    projects: Dict[tuple, str] = {}
    totals = Totals()
    for row in rows:
        key = (row.provider_id, row.session_id or "(no session)")
        groups.setdefault(key, Totals()).add(row)
        span = spans.setdefault(key, [row.at, row.at])
        span[1] = max(span[1], row.at)
        if row.project:
            projects[key] = row.project
        totals.add(row)
    out = []
    for key, t in groups.items():
        project, first, last_at = info.get(key, (None, None, None))
        first = first if first is not None else spans[key][0]
        last_at = last_at if last_at is not None else spans[key][1]
        out.append(dict(
            session_id=key[1], provider=key[0], project=projects.get(key) or project,
            date=_local(first, tz).strftime("%Y-%m-%d"), first_at=format_rfc3339(first),
            last_at=format_rfc3339(last_at), duration_seconds=round(max(0.0, last_at - first)),
            **t.to_dict()))
    out.sort(key=lambda s: (s["last_at"], s["session_id"]))
    if last:
        # The totals row adds up the rows shown, as the period reports' does.
        out = out[-last:]
        totals = Totals()
        for s in out:
            _merge(totals, groups[(s["provider"], s["session_id"])])
    return {"sessions": out, "totals": totals.to_dict()}


def blocks(rows: Iterable[Row], now: float, last: Optional[int] = None) -> Dict[str, object]:
    """{"blocks": [...], "totals": {...}}: 5-hour billing blocks, each starting at the hour of its first use.

    A block ends 5 hours after it starts; activity after that, or after a gap of more than 5 hours,
    starts a new block. Activity times have quarter-hour precision (the rollups' grain).
    """
    found: List[dict] = []
    current: Optional[dict] = None
    totals = Totals()
    for row in rows:
        if current is None or row.at >= current["end"] or row.at - current["last"] > BLOCK_SECONDS:
            start = row.at - row.at % 3600
            current = {"start": start, "end": start + BLOCK_SECONDS, "last": row.at, "totals": Totals()}
            found.append(current)
        current["last"] = max(current["last"], row.at)
        current["totals"].add(row)
        totals.add(row)
    if last:
        found = found[-last:]
        totals = Totals()
        for b in found:
            _merge(totals, b["totals"])
    return {"blocks": [_block_dict(b, now) for b in found], "totals": totals.to_dict()}


def _block_dict(b: dict, now: float) -> dict:
    t: Totals = b["totals"]
    active = b["start"] <= now < b["end"]
    entry = dict(start=format_rfc3339(b["start"]), end=format_rfc3339(b["end"]),
                 actual_end=format_rfc3339(min(b["last"] + 900, b["end"])), is_active=active,
                 date=datetime.utcfromtimestamp(b["start"]).strftime("%Y-%m-%d"), **t.to_dict())
    if active:
        elapsed = max(now - b["start"], 60.0)
        cost_per_hour = t.cost_usd / (elapsed / 3600)
        tokens_per_minute = t.total_tokens / (elapsed / 60)
        remaining = b["end"] - now
        entry["burn_rate"] = {"cost_per_hour": round(cost_per_hour, 4),
                              "tokens_per_minute": round(tokens_per_minute, 1)}
        entry["projection"] = {"cost_usd": round(t.cost_usd + cost_per_hour * remaining / 3600, 4),
                               "total_tokens": int(t.total_tokens + tokens_per_minute * remaining / 60),
                               "remaining_minutes": int(remaining // 60)}
    return entry


def active_block(rows: Iterable[Row], now: float) -> Optional[dict]:
    """The block running now, or None."""
    found = blocks(rows, now)["blocks"]
    return found[-1] if found and found[-1]["is_active"] else None
