"""Time windows (1d = since local midnight, 3d/7d/30d rolling, all) and local-day helpers.

Day boundaries are the local time zone's, including half- and quarter-hour offsets and DST.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, tzinfo
from typing import Optional

WINDOWS = ("1d", "3d", "7d", "30d", "all")
DEFAULT_WINDOW = "30d"
_DAYS = {"3d": 3, "7d": 7, "30d": 30}


class WindowError(ValueError):
    pass


def validate_window(window: str) -> str:
    if window not in WINDOWS:
        raise WindowError(f"unknown window {window!r} (use one of {', '.join(WINDOWS)})")
    return window


def local_midnight(now: float, tz: Optional[tzinfo] = None) -> float:
    """Epoch seconds of the start of the local day that contains `now`."""
    if tz is None:
        lt = time.localtime(now)
        return time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1))
    local = datetime.fromtimestamp(now, tz)
    start = datetime(local.year, local.month, local.day, tzinfo=tz)
    return start.timestamp()


def window_start(window: str, now: float, tz: Optional[tzinfo] = None) -> Optional[float]:
    """Epoch seconds where the window begins, or None for 'all'."""
    validate_window(window)
    if window == "all":
        return None
    if window == "1d":
        return local_midnight(now, tz)
    return now - _DAYS[window] * 86400.0


def local_date(epoch: float, tz: Optional[tzinfo] = None) -> str:
    """YYYY-MM-DD of an instant in the local (or given) time zone."""
    if tz is None:
        return time.strftime("%Y-%m-%d", time.localtime(epoch))
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d")


def next_local_midnight(epoch: float, tz: Optional[tzinfo] = None) -> float:
    """Start of the local day after the one containing `epoch`."""
    start = local_midnight(epoch, tz)
    # 26 hours always lands inside the next day, whatever DST does.
    return local_midnight(start + 26 * 3600, tz)


def days_between(first: str, last: str):
    """Every YYYY-MM-DD date from first to last inclusive."""
    day = datetime.strptime(first, "%Y-%m-%d")
    end = datetime.strptime(last, "%Y-%m-%d")
    while day <= end:
        yield day.strftime("%Y-%m-%d")
        day += timedelta(days=1)


def tz_signature(now: Optional[float] = None) -> str:
    """Identifies the local zone's rules well enough to notice a change of zone."""
    now = time.time() if now is None else now
    year = time.localtime(now).tm_year
    offsets = []
    for month in (1, 4, 7, 10):
        t = time.mktime((year, month, 1, 12, 0, 0, 0, 0, -1))
        offsets.append(str(time.localtime(t).tm_gmtoff))
    return ",".join(offsets) + "|" + "/".join(time.tzname)
