"""The dashboard's keys: what each one does to the UI state (a mixin of the loop in tui/app.py).

COMMANDS names the method each key runs, MOVES the moves; typing a filter takes every key until
Enter or Esc. After each key the scroll positions are settled where the views will draw them.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional

from openusage.core.snapshot import UsageSnapshot
from openusage.core.windows import WINDOWS
from openusage.tui import state as st
from openusage.tui import themes, views
from openusage.tui.views import analytics, dashboard, detail, help
from openusage.tui.views.parts import selected_snapshot

COMMANDS = {
    "q": "quit_or_back", "KEY_ESCAPE": "back", "?": "toggle_help", "KEY_TAB": "tab", "KEY_BTAB": "back_tab",
    "KEY_ENTER": "enter", "w": "next_window", "r": "refresh", "/": "start_filter", "t": "next_theme",
    "c": "toggle_costs", "J": "move_down", "K": "move_up", "a": "analytics", "m": "toggle_metric",
    "[": "previous_tab", "]": "next_tab", "s": "start_daemon", "\x03": "quit",
}
MOVES = {
    "j": ("row", 1), "KEY_DOWN": ("row", 1), "k": ("row", -1), "KEY_UP": ("row", -1),
    "l": ("col", 1), "KEY_RIGHT": ("col", 1), "h": ("col", -1), "KEY_LEFT": ("col", -1),
    "KEY_PGDOWN": ("page", 1), "KEY_PGUP": ("page", -1),
    "KEY_HOME": ("end", -1), "KEY_END": ("end", 1),
}


class Keys:
    """The key handling of App, which holds the UI state (`state`), the data (`data`), the painter,
    the settings and the fetch requests these methods call."""

    state: st.UIState
    data: st.Data
    running: bool

    def handle_key(self, key: Any) -> None:
        """Act on one key (a blessed Keystroke or a plain string)."""
        name = getattr(key, "name", None) if getattr(key, "is_sequence", False) else None
        ch = str(key)
        if name and name.startswith("KEY_ALT_") and len(ch) == 2 and ch[0] == "\x1b":
            # Esc and a key typed together (faster than ESC_DELAY): no Alt binding, so both, in order
            self.handle_key("\x1b")
            if self.running:
                self.handle_key(ch[1])
            return
        if name is None and ch in ("\t", "\r", "\n", "\x1b", "\x7f", "\x08"):
            name = {"\t": "KEY_TAB", "\r": "KEY_ENTER", "\n": "KEY_ENTER", "\x1b": "KEY_ESCAPE",
                    "\x7f": "KEY_BACKSPACE", "\x08": "KEY_BACKSPACE"}[ch]
        self.data.notice = None
        if self.state.editing_filter:
            self._filter_key(name, ch)
        else:
            self._command_key(name, ch)
        self.settle()

    def _filter_key(self, name: Optional[str], ch: str) -> None:
        s = self.state
        if name == "KEY_ENTER":
            s.editing_filter = False
        elif name == "KEY_ESCAPE":
            s.filter, s.editing_filter = "", False
        elif name in ("KEY_BACKSPACE", "KEY_DELETE"):
            s.filter = s.filter[:-1]
        elif name is None and len(ch) == 1 and ch.isprintable():
            s.filter += ch
        s.scroll["dashboard"] = s.scroll["list"] = 0
        keys = st.visible_keys(s, self.data.snapshots)
        if keys and s.selected not in keys:
            st.select(s, keys, 0)

    def _command_key(self, name: Optional[str], ch: str) -> None:
        action = COMMANDS.get(name or ch)
        if action is not None:
            getattr(self, action)()
            return
        move = MOVES.get(name or ch)
        if move is not None:
            self.move(*move)

    # commands

    def back(self) -> None:
        s = self.state
        if s.screen == "help":
            s.screen = s.previous
        elif s.screen in ("detail", "analytics"):
            s.screen = s.main
        elif s.filter:
            s.filter = ""
        else:
            self.running = False

    def quit_or_back(self) -> None:
        s = self.state
        if s.screen in ("help", "detail", "analytics"):
            self.back()
        else:
            self.running = False

    def quit(self) -> None:
        self.running = False

    def toggle_help(self) -> None:
        s = self.state
        if s.screen == "help":
            s.screen = s.previous
        else:
            s.previous = s.screen
            s.scroll["help"] = 0
            s.screen = "help"

    def tab(self) -> None:
        s = self.state
        if s.screen == "detail":
            self.detail_tab(1)
        elif s.screen in st.MAIN_SCREENS:
            s.main = "list" if s.main == "dashboard" else "dashboard"
            s.screen = s.main
        else:
            s.screen = s.main

    def back_tab(self) -> None:
        if self.state.screen == "detail":
            self.detail_tab(-1)

    def enter(self) -> None:
        s = self.state
        if s.screen in st.MAIN_SCREENS and s.selected in self.data.snapshots:
            s.screen = "detail"
            s.scroll["detail"] = 0
            self._seen(self.data.snapshots[s.selected])

    def _seen(self, snap: UsageSnapshot) -> None:
        """Opening a tile's detail is seeing its alerts: the mark goes, the daemon is told."""
        if not self.data.alerts_of(snap):
            return
        self.data.alerts = [a for a in self.data.alerts if a not in self.data.alerts_of(snap)]
        if self.fetcher is not None and hasattr(self.source, "mark_seen"):
            self.fetcher.submit("seen", (snap.provider_id, snap.account_id))

    def next_window(self) -> None:
        s = self.state
        s.window = WINDOWS[(WINDOWS.index(s.window) + 1) % len(WINDOWS)] if s.window in WINDOWS else "30d"
        self.request_fetch()

    def refresh(self) -> None:
        self.request_refresh(None)

    def start_daemon(self) -> None:
        """`s` while the daemon does not answer: start it (a service manager's daemon is left to it)."""
        if not self.data.start_hint or self.fetcher is None or self.starting:
            return
        if not self.data.start_hint.startswith("s "):  # "systemd restarts the daemon": it is left to it
            return
        self.starting = True
        self.data.notice = "starting the daemon..."
        self.fetcher.submit("start", None)

    def _start_hint(self) -> Optional[str]:
        hint = getattr(self.source, "start_hint", None)
        if hint is None:  # a hub's source: nothing to start
            return None
        try:
            return hint() or None
        except Exception:  # a hint must never break the loop
            return None

    def start_filter(self) -> None:
        """`/` starts a new filter (the one before, if any, goes)."""
        s = self.state
        if s.screen not in st.MAIN_SCREENS:
            s.screen = s.main
        s.filter = ""
        s.editing_filter = True

    def next_theme(self) -> None:
        s = self.state
        s.theme = themes.next_theme(s.theme)
        self.painter.set_theme(s.theme)
        self._save(lambda: st.save_theme(self.settings, s.theme), f"theme {s.theme}")

    def toggle_costs(self) -> None:
        s = self.state
        key = s.selected
        if key is None or key not in self.data.snapshots:
            return
        if key in s.hidden_costs:
            s.hidden_costs.discard(key)
            what = "shown"
        else:
            s.hidden_costs.add(key)
            what = "hidden"
        self._save(lambda: st.save_dashboard(self.settings, s, self.data.snapshots), f"costs {what}")

    def move_down(self) -> None:
        self._reorder(1)

    def move_up(self) -> None:
        self._reorder(-1)

    def _reorder(self, delta: int) -> None:
        if self.state.screen not in st.MAIN_SCREENS:
            return
        if st.move_selected(self.state, self.data.snapshots, delta):
            self._save(lambda: st.save_dashboard(self.settings, self.state, self.data.snapshots), "order saved")

    def analytics(self) -> None:
        s = self.state
        if s.screen != "analytics":
            s.screen = "analytics"
            s.analytics_scope = None
            s.scroll["analytics"] = 0
            return
        self._scope_step(1)

    def toggle_metric(self) -> None:
        s = self.state
        s.analytics_metric = "tokens" if s.analytics_metric == "cost" else "cost"

    def next_tab(self) -> None:
        self.detail_tab(1)

    def previous_tab(self) -> None:
        self.detail_tab(-1)

    def detail_tab(self, delta: int) -> None:
        s = self.state
        if s.screen == "detail":
            s.detail_tab = (s.detail_tab + delta) % len(st.DETAIL_TABS)
            s.scroll["detail"] = 0

    def _save(self, write: Callable[[], None], done: str) -> None:
        try:
            write()
        except OSError as exc:
            self.data.notice = f"could not save settings: {exc.strerror or exc}"
        else:
            self.data.notice = done

    # movement

    def move(self, how: str, amount: int) -> None:
        s = self.state
        width, height = self.size()
        page = views.page_size(s, self.data, width, height)
        if s.screen in st.MAIN_SCREENS:
            keys = st.visible_keys(s, self.data.snapshots)
            if not keys or (s.screen == "list" and how == "col"):
                return
            cols = dashboard.geometry(width, height - 2, len(keys))[0] if s.screen == "dashboard" else 1
            step = {"row": cols, "col": 1, "page": cols * page, "end": len(keys)}[how]
            st.select(s, keys, st.selected_index(s, keys) + step * amount)
        elif how == "col" and s.screen == "detail":
            self.detail_tab(amount)
        elif how == "col" and s.screen == "analytics":
            self._scope_step(amount)
        elif how != "col":
            step = {"row": 1, "page": page, "end": 1 << 30}[how]
            s.scroll[s.screen] = max(0, s.scroll.get(s.screen, 0) + step * amount)

    def _scope_step(self, delta: int) -> None:
        s = self.state
        scopes: List[Optional[str]] = [None] + st.visible_keys(s, self.data.snapshots)
        i = scopes.index(s.analytics_scope) if s.analytics_scope in scopes else 0
        s.analytics_scope = scopes[(i + delta) % len(scopes)]
        s.scroll["analytics"] = 0

    def settle(self) -> None:
        """Keep scroll positions where the views draw them, so moving back is immediate."""
        s = self.state
        width, height = self.size()
        body = max(1, height - 2)
        keys = st.visible_keys(s, self.data.snapshots)
        index = st.selected_index(s, keys)
        if s.screen == "dashboard" and keys:
            cols, _, rows, _ = dashboard.geometry(width, body, len(keys))
            total = (len(keys) + cols - 1) // cols
            s.scroll["dashboard"] = dashboard.first_visible(s.scroll["dashboard"], index // cols, rows, total)
        elif s.screen == "list" and keys:
            rows = views.page_size(s, self.data, width, height)
            s.scroll["list"] = dashboard.first_visible(s.scroll["list"], index, rows, len(keys))
        elif s.screen in ("detail", "analytics", "help"):
            total = self._content_rows(width, body)
            page = views.page_size(s, self.data, width, height)
            s.scroll[s.screen] = max(0, min(s.scroll.get(s.screen, 0), total - page))

    def _content_rows(self, width: int, body: int) -> int:
        s = self.state
        if s.screen == "detail":
            snap = selected_snapshot(s, self.data)
            if snap is None:
                return 0
            rows = detail.content(s.selected or "", snap, s, self.data, width)
            return len(rows) - (1 if s.tab not in ("overview", "limits") and rows else 0)
        if s.screen == "analytics":
            return len(analytics.all_days(analytics.collect(s, self.data)[2], self.data.now))
        return len(help.all_lines(s.ascii)) if width < 80 else (len(help.all_lines(s.ascii)) + 1) // 2 + 2
