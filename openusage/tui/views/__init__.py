"""The screens: pure functions from (UI state, data, width, height) to lines of (text, role) segments.

render_frame() draws the header row, the current screen's body and the status line. Each screen
module has render(state, data, width, height) for its body, and page(...) where it scrolls.
"""
from __future__ import annotations

from typing import List

from openusage.core.windows import WINDOWS
from openusage.tui import widgets
from openusage.tui.state import Data, UIState, visible_keys
from openusage.tui.views.parts import alert_mark, name_of, tab_label
from openusage.tui.widgets import Line, fit_line, spread

MIN_WIDTH = 40
MIN_HEIGHT = 10
STATUS_GAP = 3  # cells between the status line's facts and its key reminder


def _header(state: UIState, data: Data, width: int) -> Line:
    g = widgets.glyphs_for(state.ascii)
    left: Line = [(" openusage ", "header")]
    tabs = [("dashboard", "Dashboard"), ("list", "List"), ("analytics", "Analytics")]
    for screen, label in tabs:
        active = state.screen == screen
        left.append((tab_label(label, active, state), "tab_active" if active else "header_dim"))
    if state.screen == "detail" and state.selected in data.snapshots:
        name = name_of(state.selected, data.snapshots[state.selected])
        left.append((tab_label(f"Detail: {name}", True, state), "tab_active"))
    elif state.screen == "help":
        left.append((tab_label("Help", True, state), "tab_active"))
    count = len(visible_keys(state, data.snapshots))
    right: Line = []
    if state.filter or state.editing_filter:
        right.append((f" /{state.filter} ", "header"))
    if data.stale:
        right.append((" STALE ", "status_err"))
    right.append((f" {count} account{'s' if count != 1 else ''} {g.dot} {state.window} ", "header_dim"))
    return spread(left, right, width, "header", g.ellipsis)


def _status(state: UIState, data: Data, width: int) -> Line:
    g = widgets.glyphs_for(state.ascii)
    sep = (f" {g.v} ", "status")
    if state.editing_filter:
        left: Line = [(" filter: /", "status_ok"), (state.filter + "_", "status"),
                      ("   Enter keeps it, Esc clears it", "status")]
        return spread(left, [], width, "status", g.ellipsis)
    bad = data.error is not None or data.stale
    mark = ("!" if bad else "*") if state.ascii else ("▲" if bad else "●")
    left = [(f" {mark} ", "status_err" if bad else "status_ok")]
    if data.alerts:
        left += [(alert_line(data, state), "status_err"), sep]
    if data.stale:
        left += [("STALE", "status_err"), sep]
    if data.start_hint:  # it stands for the source's "unreachable, retrying" and says what to do
        left += [(data.start_hint, "status_ok"), sep]
    else:
        left += [(data.source or "no source", "status"), sep]
    if data.window and data.window not in WINDOWS:  # a source with a window of its own (a hub)
        window = f"window {data.window}"
    else:
        window = f"window {state.window}"
        if state.window != data.window and (data.requested or data.window):
            window += " (loading)"
    left += [(window, "status"), sep]
    if data.fetched_at is None:
        left.append(("not updated yet", "status"))
    else:
        left.append((f"updated {widgets.age(data.fetched_at, data.now)}", "status"))
    if data.error:
        left += [sep, (data.error, "status_err")]
    elif data.notice:
        left += [sep, (data.notice, "status")]
    # The reminder, shorter or not at all when the facts need the room; it never touches them.
    right: Line = []
    for hint in ("? help  q quit ", "? help "):
        if widgets.line_width(left) + STATUS_GAP + len(hint) <= width:
            right = [(hint, "status")]
            break
    return spread(left, right, width, "status", g.ellipsis)


def alert_line(data: Data, state: UIState) -> str:
    """The newest unseen alert in a few words, and how many more there are."""
    alert = data.alerts[0]
    snap = next((s for s in data.snapshots.values()
                 if (s.provider_id, s.account_id) == (alert.get("provider_id"), alert.get("account_id"))), None)
    key = f"{alert.get('provider_id')}:{alert.get('account_id')}"
    who = name_of(key, snap) if snap else key
    what = alert.get("message") or " ".join(str(v) for v in (alert.get("limit"), alert.get("value")) if v)
    more = len(data.alerts) - 1
    return f"{alert_mark(state)} {who}: {what}" + (f" (+{more} more, Enter on a tile marks it seen)" if more else "")


def body(state: UIState, data: Data, width: int, height: int) -> List[Line]:
    from openusage.tui.views import analytics, dashboard, detail, help, listview

    module = {"dashboard": dashboard, "list": listview, "detail": detail, "analytics": analytics,
              "help": help}.get(state.screen, dashboard)
    lines = module.render(state, data, width, height)
    lines = lines[:height] + [[] for _ in range(height - len(lines))]
    ellipsis = widgets.glyphs_for(state.ascii).ellipsis
    return [fit_line(line, width, ellipsis=ellipsis) for line in lines]


def render_frame(state: UIState, data: Data, width: int, height: int) -> List[Line]:
    """The whole screen: header, body, status line."""
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return _too_small(width, height)
    # the status line stops one cell short: writing the screen's last cell scrolls some terminals
    return [_header(state, data, width)] + body(state, data, width, height - 2) + [_status(state, data, width - 1)]


def _too_small(width: int, height: int) -> List[Line]:
    lines: List[Line] = [fit_line([(f"openusage needs {MIN_WIDTH}x{MIN_HEIGHT}", "error")], width),
                         fit_line([(f"this is {width}x{height}", "text")], width)]
    return lines[:height]


def page_size(state: UIState, data: Data, width: int, height: int) -> int:
    """How many rows (or tile rows) a page of the current screen holds."""
    from openusage.tui.views import analytics, dashboard, detail, help, listview

    body_height = max(1, height - 2)
    if state.screen == "dashboard":
        return dashboard.geometry(width, body_height, len(visible_keys(state, data.snapshots)))[2]
    module = {"list": listview, "detail": detail, "analytics": analytics, "help": help}[state.screen]
    return module.page(body_height)
