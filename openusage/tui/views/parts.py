"""What the screens share: an account's name and status badge, tabs, hidden costs and the empty message."""
from __future__ import annotations

from typing import Optional

from openusage.core.snapshot import UsageSnapshot
from openusage.tui.state import Data, UIState, visible_keys
from openusage.tui.widgets import Line


def name_of(key: str, snap: UsageSnapshot) -> str:
    return snap.display_name or key


def status_of(snap: UsageSnapshot) -> str:
    return snap.status or "UNKNOWN"


def badge(status: str, state: UIState) -> Line:
    """The status as a word, coloured when there is colour, bracketed when there is not."""
    text = f" {status} " if state.color else f"[{status}]"
    return [(text, "badge_" + status)]


def tab_label(label: str, active: bool, state: UIState) -> str:
    """A tab's text; without colour the active one is bracketed, since only its attributes differ."""
    return f"[{label}]" if active and not state.color else f" {label} "


def costs_hidden(state: UIState, key: str) -> bool:
    return key in state.hidden_costs


def empty_message(state: UIState, data: Data) -> str:
    if data.loading and not data.snapshots:
        return data.error or "connecting to the daemon..."
    if not data.snapshots:
        return "no accounts yet: configure one in settings.json, or try 'openusage demo'"
    if state.filter and not visible_keys(state, data.snapshots):
        return f"no account matches /{state.filter}  (Esc clears the filter)"
    return "every account is hidden (dashboard.providers[].enabled)"


def alert_mark(state: UIState) -> str:
    return "!" if state.ascii else "⚠"


def selected_snapshot(state: UIState, data: Data) -> Optional[UsageSnapshot]:
    if state.selected is None:
        return None
    return data.snapshots.get(state.selected)
