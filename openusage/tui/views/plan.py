"""Words for plan windows: the pace projection, where a reading came from and how old it is."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from openusage.core.snapshot import RateLimit, UsageSnapshot
from openusage.core.timeutil import to_epoch
from openusage.tui import widgets


def pace_text(limit: RateLimit, now: float, short: bool = False) -> Optional[str]:
    """'at this pace: 100% in 1h40m, before the reset in 3h10m' (short: 'full in 1h40m, before reset')."""
    pace = limit.pace
    if not pace or (limit.used_percent is not None and limit.used_percent >= 100):
        return None
    reset = widgets.countdown(limit.resets_at, now)
    exhausts = to_epoch(pace.get("exhausts_at")) if pace.get("exhausts_at") else None
    if exhausts is None:
        if short:
            return "not full before reset" if reset else "no use lately"
        rate = pace.get("rate_percent_per_hour") or 0.0
        return f"at this pace ({rate:.1f}%/h): not full" + (f" before the reset in {reset}" if reset else "")
    full_in = widgets.duration(exhausts - now) if exhausts > now else "now"
    before = bool(pace.get("before_reset"))
    if short:
        return f"full in {full_in}" + ((", before reset" if before else ", after reset") if reset else "")
    text = f"at this pace: 100% in {full_in}"
    if reset:
        text += f", {'before' if before else 'after'} the reset in {reset}"
    return text


def reading_age(limit: RateLimit, now: float) -> Optional[str]:
    """'oauth, 2m ago': where a plan window's reading came from and its age."""
    if not limit.source:
        return None
    observed = to_epoch(limit.observed_at) if limit.observed_at else None
    return limit.source + (f", {widgets.age(observed, now)}" if observed is not None else "")


def tile_lines(snap: UsageSnapshot, names: List[str], now: float) -> List[Tuple[str, str]]:
    """(text, role) lines a tile shows under its gauges: the most urgent pace, and plan, sources and ages."""
    limits: Dict[str, RateLimit] = snap.rate_limits or {}
    shown = [(n, limits[n]) for n in names if n in limits and limits[n].source]
    out: List[Tuple[str, str]] = []
    urgent = [(n, lim) for n, lim in shown if lim.pace and lim.pace.get("before_reset")]
    for name, lim in (urgent or shown)[:1]:
        text = pace_text(lim, now, short=True)
        if text:
            out.append((f"{name} {text}", "stale" if urgent else "dim"))
    if shown:
        ages = []
        for _, lim in shown:
            age = reading_age(lim, now)
            if age and age not in ages:
                ages.append(age)
        plan = (snap.extras or {}).get("plan")
        head = f"plan {plan}, " if isinstance(plan, str) and plan else ""
        out.append((head + "; ".join(ages[:2]), "dim"))
    return out
