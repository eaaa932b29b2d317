"""Time windows (1d = since local midnight, 3d/7d/30d rolling, all) and local-day helpers.

Day boundaries are the local time zone's, including half- and quarter-hour offsets and DST.
"""
from __future__ import annotations

import os
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


# Names of one zone: Coordinated Universal Time under its aliases in the tz database.
_UTC_NAMES = frozenset({
    "UTC", "UCT", "Universal", "Zulu", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich",
    "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Etc/GMT", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0",
    "Etc/Greenwich",
})


def _zone_name(name: Optional[str]) -> Optional[str]:
    if not name:
        return None
    return "UTC" if name in _UTC_NAMES else name


def local_zone_name(environ: Optional[dict] = None, localtime: str = "/etc/localtime") -> Optional[str]:
    """The tz database name of this process's local zone (TZ, else /etc/localtime); None if unknown."""
    env = os.environ if environ is None else environ
    tz = env.get("TZ")
    if tz is not None:
        tz = tz.lstrip(":")
        if not tz:
            return "UTC"  # the C library reads an empty TZ as UTC
        if "zoneinfo/" in tz:
            tz = tz.split("zoneinfo/", 1)[1]
        elif tz.startswith("/"):
            return None  # a zone file somewhere else: its name is unknown
        # A POSIX rule ("CET-1CEST,M3.5.0") is no tz database name (Etc/GMT+5 and the UTC names are).
        if "," in tz or (any(c.isdigit() for c in tz) and "/" not in tz and tz not in _UTC_NAMES):
            return None
        return _zone_name(tz)
    try:
        target = os.path.realpath(localtime)
    except OSError:
        return None
    return _zone_name(target.split("zoneinfo/", 1)[1]) if "zoneinfo/" in target else None


def is_local_zone(tz: Optional[tzinfo]) -> bool:
    """Whether local days in tz are the local days of this process (the zone of the day rollups)."""
    if tz is None:
        return True
    local = local_zone_name()
    return local is not None and _zone_name(getattr(tz, "key", None)) == local
