"""What the dashboard shows and how: the UI state (screen, selection, window, filter, theme, order...)
and the data last read from the source. Both are plain values; views read them, the app changes them.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set

from openusage.core.snapshot import UsageSnapshot
from openusage.core.windows import WINDOWS
from openusage.tui import themes

MAIN_SCREENS = ("dashboard", "list")
SCREENS = ("dashboard", "list", "detail", "analytics", "help")
DETAIL_TABS = ("overview", "models", "tools", "projects", "sessions", "mcp", "limits")
METRICS = ("cost", "tokens")


@dataclass
class Data:
    """The read model as last fetched, plus how fetching goes."""

    snapshots: Dict[str, UsageSnapshot] = field(default_factory=dict)
    window: Optional[str] = None  # the window the snapshots were read for
    requested: Optional[str] = None  # the window of the fetch under way, if any
    generated_at: Optional[str] = None
    fetched_at: Optional[float] = None  # epoch of the last good fetch
    error: Optional[str] = None  # the last fetch's error, cleared by a good fetch
    stale: bool = False  # the snapshots are older than the last attempt
    loading: bool = True  # nothing fetched yet
    source: str = ""  # the source's own description, for the status line
    notice: Optional[str] = None  # a short message after an action ("order saved")
    start_hint: Optional[str] = None  # while the source does not answer: what `s` does ("s starts the daemon")
    now: float = field(default_factory=time.time)
    widgets: Dict[str, Dict[str, List[str]]] = field(default_factory=dict)  # provider id -> widget spec
    alerts: List[Dict[str, Any]] = field(default_factory=list)  # fired alerts not seen yet, newest first

    def alerts_of(self, snap: UsageSnapshot) -> List[Dict[str, Any]]:
        """The unseen alerts of one tile's account."""
        return [a for a in self.alerts
                if a.get("provider_id") == snap.provider_id and a.get("account_id") == snap.account_id]


@dataclass
class UIState:
    screen: str = "dashboard"
    main: str = "dashboard"  # the main screen (dashboard or list) the others return to
    previous: str = "dashboard"  # where help returns to
    selected: Optional[str] = None  # snapshot key
    window: str = "30d"
    filter: str = ""
    editing_filter: bool = False
    theme: str = themes.DEFAULT_THEME
    order: List[str] = field(default_factory=list)  # snapshot keys (or settings ids not resolved yet)
    hidden_costs: Set[str] = field(default_factory=set)
    disabled: Set[str] = field(default_factory=set)
    scroll: Dict[str, int] = field(default_factory=lambda: {s: 0 for s in SCREENS})
    detail_tab: int = 0
    analytics_scope: Optional[str] = None  # a snapshot key, or None for every account
    analytics_metric: str = "cost"
    warn: float = 0.20  # warn when this share or less remains
    crit: float = 0.05
    color: bool = True
    ascii: bool = False

    @property
    def tab(self) -> str:
        return DETAIL_TABS[self.detail_tab % len(DETAIL_TABS)]


def from_settings(settings: Any, window: Optional[str] = None, color: bool = True, ascii_only: bool = False) -> UIState:
    """The initial UI state from settings.json (thresholds, theme, window, dashboard.providers)."""
    entries = [e for e in (settings.get("dashboard.providers") or []) if isinstance(e, dict) and e.get("id")]
    chosen = window or settings.get("data.time_window", "30d")
    return UIState(
        window=chosen if chosen in WINDOWS else "30d",
        theme=themes.normalize(settings.get("theme")),
        order=[e["id"] for e in entries],
        hidden_costs={e["id"] for e in entries if e.get("hide_costs")},
        disabled={e["id"] for e in entries if e.get("enabled") is False},
        warn=float(settings.get("ui.warn_threshold", 0.20)),
        crit=float(settings.get("ui.crit_threshold", 0.05)),
        color=color,
        ascii=ascii_only,
    )


def _resolve_id(ident: str, snapshots: Dict[str, UsageSnapshot]) -> List[str]:
    """The snapshot keys a settings id names: the key itself, else an account id, else a provider id."""
    if ident in snapshots:
        return [ident]
    for attr in ("account_id", "provider_id"):
        keys = sorted(k for k, s in snapshots.items() if getattr(s, attr) == ident)
        if keys:
            return keys
    return [ident]


def resolve(state: UIState, snapshots: Dict[str, UsageSnapshot]) -> None:
    """Turn ids from settings.json into snapshot keys, once the snapshots are known."""
    order: List[str] = []
    for ident in state.order:
        for key in _resolve_id(ident, snapshots):
            if key not in order:
                order.append(key)
    state.order = order
    state.hidden_costs = {k for i in state.hidden_costs for k in _resolve_id(i, snapshots)}
    state.disabled = {k for i in state.disabled for k in _resolve_id(i, snapshots)}


def ordered_keys(state: UIState, snapshots: Dict[str, UsageSnapshot]) -> List[str]:
    """Every enabled snapshot key: the saved order first, then the rest by provider and name."""
    placed = [k for k in state.order if k in snapshots]
    rest = sorted((k for k in snapshots if k not in placed),
                  key=lambda k: (snapshots[k].provider_id, (snapshots[k].display_name or k).lower(), k))
    return [k for k in placed + rest if k not in state.disabled]


def matches(key: str, snap: UsageSnapshot, text: str) -> bool:
    needle = text.strip().lower()
    if not needle:
        return True
    hay = " ".join(filter(None, (key, snap.provider_id, snap.account_id, snap.display_name, snap.status)))
    return needle in hay.lower()


def visible_keys(state: UIState, snapshots: Dict[str, UsageSnapshot]) -> List[str]:
    """The keys shown, in order, after the filter."""
    return [k for k in ordered_keys(state, snapshots) if matches(k, snapshots[k], state.filter)]


def selected_index(state: UIState, keys: List[str]) -> int:
    if state.selected in keys:
        return keys.index(state.selected)
    return 0


def select(state: UIState, keys: List[str], index: int) -> None:
    if keys:
        state.selected = keys[max(0, min(len(keys) - 1, index))]


def move_selected(state: UIState, snapshots: Dict[str, UsageSnapshot], delta: int) -> bool:
    """Move the selected tile `delta` places among the visible ones; False when it cannot move."""
    visible = visible_keys(state, snapshots)
    if state.selected not in visible:
        return False
    i = visible.index(state.selected)
    j = i + delta
    if not 0 <= j < len(visible):
        return False
    full = ordered_keys(state, snapshots)
    a, b = full.index(visible[i]), full.index(visible[j])
    full[a], full[b] = full[b], full[a]
    state.order = full + [k for k in state.order if k not in full]
    return True


def dashboard_entries(state: UIState, snapshots: Dict[str, UsageSnapshot],
                      existing: List[Any]) -> List[Dict[str, Any]]:
    """dashboard.providers as it should be saved: the current order, hidden costs, disabled tiles.

    Entries the file already had keep their other keys; entries for accounts not shown now stay.
    """
    by_id = {e["id"]: e for e in existing if isinstance(e, dict) and isinstance(e.get("id"), str)}
    keys = ordered_keys(state, snapshots) + sorted(k for k in state.disabled if k in snapshots)
    out: List[Dict[str, Any]] = []
    for key in keys:
        snap = snapshots[key]
        old = by_id.pop(key, None) or by_id.pop(snap.account_id, None) or {}
        entry = copy.deepcopy(old)
        entry["id"] = key
        entry["enabled"] = key not in state.disabled
        if key in state.hidden_costs or "hide_costs" in entry:
            entry["hide_costs"] = key in state.hidden_costs
        out.append(entry)
    kept = [e for e in existing if isinstance(e, dict) and e.get("id") in by_id]
    return out + copy.deepcopy(kept)


def save_dashboard(settings: Any, state: UIState, snapshots: Dict[str, UsageSnapshot]) -> None:
    """Write order and hidden costs to settings.json (dashboard.providers), keeping every other key."""
    from openusage import config

    dash = settings.raw.setdefault("dashboard", {})
    if not isinstance(dash, dict):
        dash = settings.raw["dashboard"] = {}
    dash["providers"] = dashboard_entries(state, snapshots, list(dash.get("providers") or []))
    config.save(settings)


def save_theme(settings: Any, theme: str) -> None:
    from openusage import config

    settings.raw["theme"] = theme
    config.save(settings)
