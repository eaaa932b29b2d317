"""A window's spend from a spend counter observed over time, for APIs that tell only a running total
(OpenRouter's lifetime usage) or a balance (DeepSeek, Moonshot, xAI).

Each poll may record the counter in the account's state: at most one sample every SAMPLE_EVERY seconds,
the last MAX_AGE seconds of them, as named columns (`times`, `totals`). A window's spend is the counter
now minus the counter at the last sample at or before the window's start, when that sample is at most
MAX_GAP before it (the daemon was polling then); else it is unknown, never guessed. The results go into
the snapshot as `extras.window_spend` {window: {"total", "start"}} ("start" = the sample's time), which
the read model turns into `spend.total` for the window asked (store/readmodel.py).

A balance becomes a counter by adding up its falls: a rise is a top-up and adds nothing, so spending
between the same two polls as a top-up is missed (at most one poll interval of it).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from openusage.core.snapshot import UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.core.windows import window_start

SAMPLE_EVERY = 600.0
MAX_AGE = 31 * 86400.0 + 3600.0
MAX_GAP = 1800.0
SAMPLES = "spend_samples"
WINDOWS = ("1d", "3d", "7d", "30d")


def _samples(state: Dict[str, Any]) -> Tuple[List[float], List[float]]:
    saved = state.get(SAMPLES)
    if isinstance(saved, dict) and isinstance(saved.get("times"), list) and isinstance(saved.get("totals"), list) \
            and len(saved["times"]) == len(saved["totals"]):
        return [float(t) for t in saved["times"]], [float(v) for v in saved["totals"]]
    return [], []


def observe_total(state: Dict[str, Any], now: float, total: float) -> Dict[str, Dict[str, Any]]:
    """Record a running total of spend; the spend of every window the samples cover."""
    times, totals = _samples(state)
    if totals and total < totals[-1] - 1e-9:
        times, totals = [], []  # the counter went back (a refund, another account): its past says nothing
    out: Dict[str, Dict[str, Any]] = {}
    for window in WINDOWS:
        start = window_start(window, now)
        at = _last_at_or_before(times, start)
        if at is not None and start - times[at] <= MAX_GAP:
            out[window] = {"total": round(max(0.0, total - totals[at]), 6), "start": format_rfc3339(times[at])}
    if not times or now - times[-1] >= SAMPLE_EVERY:
        times.append(round(now, 3))
        totals.append(round(total, 6))
    keep = next((i for i, t in enumerate(times) if now - t <= MAX_AGE), len(times))
    state[SAMPLES] = {"times": times[keep:], "totals": totals[keep:]}
    return out


def observe_balance(state: Dict[str, Any], now: float, balance: Optional[float]) -> Dict[str, Dict[str, Any]]:
    """Record a balance as the running sum of its falls; the spend of every window the samples cover."""
    if balance is None:
        return {}
    last = state.get("balance_last")
    spent = float(state.get("balance_spent") or 0.0)
    if isinstance(last, (int, float)) and balance < last:
        spent += last - balance
    state["balance_last"] = balance
    state["balance_spent"] = round(spent, 6)
    return observe_total(state, now, spent)


def apply(snap: UsageSnapshot, windows: Dict[str, Dict[str, Any]], lifetime_is_all: bool = False) -> None:
    """Put the windows' spend into the snapshot for the read model; with lifetime_is_all the account's
    lifetime spend is the `all` window's."""
    found = dict(windows)
    if lifetime_is_all and snap.spend is not None and snap.spend.lifetime is not None:
        found["all"] = {"total": snap.spend.lifetime}
    if found:
        snap.extras = dict(snap.extras or {}, window_spend=found)


def _last_at_or_before(times: List[float], when: Optional[float]) -> Optional[int]:
    if when is None:
        return None
    found = None
    for i, t in enumerate(times):
        if t > when:
            break
        found = i
    return found
