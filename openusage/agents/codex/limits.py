"""Codex plan limits: the rate_limits of token_count events, kept in the state and put on the snapshot."""
from __future__ import annotations

from typing import Any, Dict, Optional

from openusage.agents.records import number, text
from openusage.core.snapshot import RateLimit, UsageSnapshot
from openusage.core.timeutil import format_rfc3339

_WINDOWS = {299: "5h", 300: "5h", 10079: "weekly", 10080: "weekly", 43800: "monthly"}


def window_name(minutes: Any, slot: str) -> str:
    """A rate-limit window's name by its length (slots move between plans), else the slot's name."""
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
        return slot
    return _WINDOWS.get(int(minutes), f"{int(minutes)}m")


def parse_rate_limits(obj: Dict[str, Any], ts: float) -> Optional[Dict[str, Any]]:
    """A token_count's rate_limits as {limit_id, at, windows {name: {used_percent, resets_at}}, ...}."""
    windows: Dict[str, Dict[str, Any]] = {}
    for slot in ("primary", "secondary"):
        win = obj.get(slot)
        if not isinstance(win, dict):
            # Very old builds: flat primary_used_percent, primary_window_minutes, ...
            win = {k[len(slot) + 1:]: v for k, v in obj.items() if k.startswith(slot + "_")}
        used = number(win.get("used_percent"))
        if used is None:
            continue
        resets = number(win.get("resets_at"))
        if resets is None:
            after = number(win.get("resets_in_seconds"))
            resets = ts + after if after is not None else None
        windows[window_name(win.get("window_minutes"), slot)] = {"used_percent": used, "resets_at": resets}
    if not windows:
        return None
    reading: Dict[str, Any] = {"limit_id": text(obj.get("limit_id")) or "codex", "at": ts, "windows": windows}
    if text(obj.get("plan_type")):
        reading["plan_type"] = obj["plan_type"]
    credits = obj.get("credits")
    if isinstance(credits, dict):
        reading["credits"] = {k: credits.get(k) for k in ("has_credits", "unlimited", "balance") if k in credits}
    if text(obj.get("rate_limit_reached_type")):
        reading["reached"] = obj["rate_limit_reached_type"]
    return reading


def is_placeholder(reading: Dict[str, Any], current: Dict[str, Any]) -> bool:
    """An all-zero reading while the last real one's windows are still running (some builds write one)."""
    if any(w["used_percent"] for w in reading["windows"].values()):
        return False
    running = [w for w in current["windows"].values()
               if w["used_percent"] and w.get("resets_at") is not None and w["resets_at"] > reading["at"]]
    return bool(running)


def limits_for_snapshot(readings: Dict[str, Any], now: float) -> Dict[str, RateLimit]:
    """Named windows for the snapshot; a window whose reset has passed starts again at 0%."""
    out: Dict[str, RateLimit] = {}
    for limit_id, reading in sorted(readings.items()):
        for name, win in reading["windows"].items():
            key = name if limit_id == "codex" else f"{limit_id}:{name}"
            resets = win.get("resets_at")
            if resets is not None and resets <= now:
                out[key] = RateLimit(used_percent=0.0)
            else:
                out[key] = RateLimit(used_percent=float(win["used_percent"]),
                                     resets_at=format_rfc3339(resets) if resets is not None else None)
    return out


def apply_limits(snapshot: UsageSnapshot, state: Dict[str, Any], now: float) -> None:
    """Put the latest plan limits (kept in the state across polls) on the snapshot."""
    readings = state.get("limits") or {}
    if not readings:
        return
    snapshot.rate_limits = limits_for_snapshot(readings, now)
    latest = max(readings.values(), key=lambda r: r["at"])
    extras = snapshot.extras if snapshot.extras is not None else {}
    extras["rate_limits_at"] = format_rfc3339(latest["at"])
    # Kept apart from the windows: builds that omit the plan still report fresh percentages.
    plan = state.get("plan") or {}
    for key in ("plan_type", "credits"):
        if key in plan:
            extras[key] = plan[key]
    snapshot.extras = extras
    if any(r.used_percent is not None and r.used_percent >= 100 for r in snapshot.rate_limits.values()):
        snapshot.status = "LIMIT"
