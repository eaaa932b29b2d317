"""The pace projection of a plan window: how fast it is being used and when it reaches 100 %.

Pure functions over readings (observed_at epoch seconds, used percent, resets_at epoch or None).
The rate is the average since the current window began: from the window's start (resets_at minus
its length, where used is 0 by definition) when the length is known, else from the window's first
stored reading. It is steadier than the last few minutes' slope and needs no more than one reading
when the length is known. At that rate the window is full at `exhausts_at`; `before_reset` says
whether that comes before the window starts again.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from openusage.core.timeutil import format_rfc3339

Reading = Tuple[float, float, Optional[float]]  # observed_at, used_percent, resets_at
MIN_SPAN_SECONDS = 60.0  # readings closer together than this give no rate
SAME_RESET_SECONDS = 600.0  # resets_at values this close name the same window (servers round them)


def current_window(readings: Sequence[Reading], resets_at: Optional[float]) -> List[Tuple[float, float]]:
    """(observed_at, used_percent) of the readings in the window that resets at `resets_at`, in time order.

    Readings that name another reset belong to an earlier window; without reset times, a drop in the
    used percent marks where the current window began.
    """
    points = sorted(readings, key=lambda r: r[0])
    if resets_at is not None:
        same = [(t, p) for t, p, r in points if r is None or abs(r - resets_at) <= SAME_RESET_SECONDS]
        points = [(t, p, None) for t, p in same]
    out: List[Tuple[float, float]] = []
    for t, p, _ in points:
        if out and p < out[-1][1]:
            out = []  # a reset between these readings
        out.append((t, p))
    return out


def project(points: Sequence[Tuple[float, float]], resets_at: Optional[float] = None,
            window_seconds: Optional[float] = None) -> Optional[Dict[str, Any]]:
    """{"rate_percent_per_hour", "exhausts_at", "before_reset"} from a window's points, or None.

    None when the points span less than MIN_SPAN_SECONDS (no rate can be told yet).
    """
    if not points:
        return None
    first = points[0]
    last = points[-1]
    if resets_at is not None and window_seconds:
        start = resets_at - window_seconds
        if start < first[0]:
            first = (start, 0.0)
    span = last[0] - first[0]
    if span < MIN_SPAN_SECONDS:
        return None
    rate = max(0.0, (last[1] - first[1]) / span * 3600.0)
    exhausts = exhausts_at(last[0], last[1], rate)
    return {
        "rate_percent_per_hour": round(rate, 3),
        "exhausts_at": format_rfc3339(exhausts) if exhausts is not None else None,
        "before_reset": exhausts is not None and resets_at is not None and exhausts < resets_at,
    }


def exhausts_at(observed_at: float, used_percent: float, rate_per_hour: float) -> Optional[float]:
    """When a window used `used_percent` at `observed_at` reaches 100 % at the rate; None when it never does."""
    if used_percent >= 100.0:
        return observed_at
    if rate_per_hour <= 0:
        return None
    return observed_at + (100.0 - used_percent) / rate_per_hour * 3600.0
