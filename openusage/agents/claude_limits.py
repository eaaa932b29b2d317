"""Claude Code's subscription limits (5-hour and 7-day use), as its statusLine input reports them.

The statusLine JSON Claude Code gives `openusage statusline` on every update carries
`rate_limits.five_hour` / `seven_day` {`used_percentage`, `resets_at` (epoch seconds)} for Pro/Max
plans: the only local source of these figures. The statusline command keeps the latest reading in a
small file of the state dir (percentages and times only); the Claude Code collector puts it on its
snapshot at each poll.
"""
from __future__ import annotations

import json
import math
import os
import time
from typing import Any, Dict, Optional

from openusage.core.snapshot import RateLimit
from openusage.core.timeutil import format_rfc3339

FILE_NAME = "claude-code-limits.json"
WINDOWS = {"five_hour": "5h", "seven_day": "weekly"}
REWRITE_AFTER_SECONDS = 60.0  # an unchanged reading is written again this often (its time moves)


def path() -> str:
    from openusage import paths

    return os.path.join(paths.state_dir(), FILE_NAME)


def reading(rate_limits: Any) -> Dict[str, Dict[str, float]]:
    """The windows of a statusLine `rate_limits` object that carry a usable percentage."""
    out: Dict[str, Dict[str, float]] = {}
    if not isinstance(rate_limits, dict):
        return out
    for key in WINDOWS:
        win = rate_limits.get(key)
        if not isinstance(win, dict):
            continue
        pct = win.get("used_percentage", win.get("used_percent"))
        if not _number(pct):
            continue
        entry = {"used_percent": float(pct)}
        if _number(win.get("resets_at")) and win["resets_at"] > 0:
            entry["resets_at"] = float(win["resets_at"])
        out[key] = entry
    return out


def remember(rate_limits: Any, now: float, target: Optional[str] = None) -> bool:
    """Keep the newest reading (atomically, 0600); True when the file was written."""
    windows = reading(rate_limits)
    if not windows:
        return False
    target = target or path()
    previous = _load_file(target)
    if previous and previous.get("windows") == windows and now - previous.get("observed_at", 0) < REWRITE_AFTER_SECONDS:
        return False
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    tmp = f"{target}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"observed_at": now, "windows": windows}, fh)
    os.replace(tmp, target)
    return True


def limits(now: Optional[float] = None, source: Optional[str] = None) -> Dict[str, Any]:
    """{"rate_limits": {"5h"|"weekly": RateLimit}, "observed_at": RFC 3339} of the newest reading, or {}.

    A window whose reset time has passed has started again: it shows 0% until a newer reading comes.
    """
    now = time.time() if now is None else now
    data = _load_file(source or path())
    if not data or not isinstance(data.get("windows"), dict):
        return {}
    out: Dict[str, RateLimit] = {}
    for key, win in data["windows"].items():
        if key not in WINDOWS or not isinstance(win, dict) or not _number(win.get("used_percent")):
            continue
        resets = win.get("resets_at")
        if _number(resets) and resets <= now:
            out[WINDOWS[key]] = RateLimit(used_percent=0.0)
        else:
            out[WINDOWS[key]] = RateLimit(used_percent=float(win["used_percent"]),
                                          resets_at=format_rfc3339(resets) if _number(resets) else None)
    observed = data.get("observed_at")
    return {"rate_limits": out, "observed_at": format_rfc3339(observed) if _number(observed) else None} if out else {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _load_file(source: str) -> Optional[Dict[str, Any]]:
    try:
        with open(source, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
