"""The dashboard's event loop: keys from blessed, data from a source on a fetch thread, one painter.

The loop waits in term.inkey(timeout) - up to a second when idle, so countdowns and ages move - and
takes fetch results from a queue; the source is only ever called on the fetch thread, so a slow or
absent daemon never freezes the keys. SIGTERM and SIGHUP raise SystemExit, which unwinds blessed's
context managers and leaves the terminal as it was; SIGWINCH wakes the loop to repaint at once.
"""
from __future__ import annotations

import queue
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from openusage.core.snapshot import UsageSnapshot
from openusage.core.windows import WINDOWS
from openusage.tui import state as st
from openusage.tui import themes, views
from openusage.tui.fetcher import Fetcher
from openusage.tui.painter import Painter
from openusage.tui.views import analytics, dashboard, detail, help
from openusage.tui.views.parts import selected_snapshot

ESC_DELAY = 0.05  # seconds blessed waits after Esc for the rest of a sequence (its default, 0.35, makes
# Esc feel slow and reads Esc then q typed within it as Alt-q); terminals send a sequence in one write
IDLE_TICK = 1.0  # seconds between repaints when nothing happens (ages and countdowns move)
BUSY_TICK = 0.1  # while a fetch is under way
REFRESH_FOLLOW_UP = 2.0  # after `r`, read again this much later: the poll takes a moment
MAX_RETRY = 30.0


class _Wake(Exception):
    """Raised by the SIGWINCH handler to end a wait in inkey() early."""


class App:
    def __init__(self, term: Any, source: Any, settings: Any, state: st.UIState, interval: float = 30.0,
                 size: Optional[Callable[[], Tuple[int, int]]] = None, clock: Callable[[], float] = time.time):
        self.term = term
        self.source = source
        self.settings = settings
        self.state = state
        self.interval = max(1.0, float(interval))
        self.clock = clock
        self._size = size
        self.painter = Painter(term, state.theme, state.color)
        self.data = st.Data()
        self.results: queue.Queue = queue.Queue()
        self.fetcher: Optional[Fetcher] = None
        self.running = True
        self.fetching = False
        self.fetch_again = False
        self.next_fetch_at = 0.0  # monotonic
        self.follow_up_at: Optional[float] = None
        self.failures = 0
        self.starting = False
        self._waiting = False

    # --- size, drawing --------------------------------------------------------------------------

    def size(self) -> Tuple[int, int]:
        if self._size is not None:
            return self._size()
        return self.term.width, self.term.height

    def frame(self) -> List[views.Line]:
        width, height = self.size()
        self.data.now = self.clock()
        self.data.source = self.source.describe()
        return views.render_frame(self.state, self.data, width, height)

    def draw(self) -> int:
        width, height = self.size()
        return self.painter.paint(self.frame(), width, height)

    # --- fetching -------------------------------------------------------------------------------

    def start(self) -> None:
        self.fetcher = Fetcher(self.source, self.results)
        self.fetcher.start()
        self.request_fetch()

    def stop(self) -> None:
        self.running = False
        if self.fetcher is not None:
            self.fetcher.stop()

    def request_fetch(self) -> None:
        if self.fetcher is None:
            return
        if self.fetching:
            self.fetch_again = True
            return
        self.fetching = True
        self.data.requested = self.state.window
        self.fetcher.submit("fetch", self.state.window)

    def request_refresh(self, provider: Optional[str] = None) -> None:
        if self.fetcher is not None:
            self.fetcher.submit("refresh", provider)
        self.data.notice = "refresh requested"

    def poll_results(self, wait: float = 0.0) -> bool:
        """Apply every result waiting (waiting up to `wait` s for the first); True if any came."""
        got = False
        while True:
            try:
                result = self.results.get(timeout=wait) if wait and not got else self.results.get_nowait()
            except queue.Empty:
                return got
            got = True
            self.apply(result)

    def apply(self, result: Tuple[Any, ...]) -> None:
        kind = result[0]
        now = time.monotonic()
        if kind == "data":
            _, window, model, specs = result
            if specs is not None:
                self.data.widgets = specs
            self.set_model(window, model)
            self.failures = 0
            self.next_fetch_at = now + self.interval
            self._fetch_done()
        elif kind == "refreshed":
            self.request_fetch()
            self.follow_up_at = now + REFRESH_FOLLOW_UP
        elif kind == "started":
            self.starting = False
            self.data.notice = result[1] or None
            self.next_fetch_at = now  # read at once, whatever the back-off had reached
        elif kind == "error":
            _, job, _, message = result
            self.data.error = message
            if job == "start":
                self.starting = False
            if job == "fetch":
                self.data.start_hint = self._start_hint()
                self.failures += 1
                self.data.stale = bool(self.data.snapshots)
                self.next_fetch_at = now + min(MAX_RETRY, self.interval, 2.0 * 2 ** (self.failures - 1))
                self._fetch_done()

    def _fetch_done(self) -> None:
        self.fetching = False
        self.data.requested = None
        if self.fetch_again:
            self.fetch_again = False
            self.request_fetch()

    def set_model(self, window: str, model: Dict[str, Any]) -> None:
        """Take a read model: tiles that went missing stay, marked, and bad snapshots are skipped."""
        snapshots: Dict[str, UsageSnapshot] = {}
        bad = 0
        for key, raw in (model.get("snapshots") or {}).items():
            try:
                snapshots[key] = UsageSnapshot.from_dict(raw)
            except (ValueError, TypeError):
                bad += 1
        for key, old in self.data.snapshots.items():
            if key not in snapshots:
                old.message = "not in the latest read model"
                snapshots[key] = old
        st.resolve(self.state, snapshots)
        data = self.data
        data.snapshots = snapshots
        data.window = model.get("window") or window
        data.generated_at = model.get("generated_at")
        data.alerts = [a for a in model.get("alerts") or [] if isinstance(a, dict)]
        data.fetched_at = self.clock()
        data.error = f"{bad} snapshot(s) could not be read" if bad else None
        data.stale = False
        data.loading = False
        data.start_hint = None
        keys = st.visible_keys(self.state, snapshots)
        if self.state.selected not in keys:
            st.select(self.state, keys, 0)

    def due(self) -> bool:
        now = time.monotonic()
        if self.follow_up_at is not None and now >= self.follow_up_at:
            self.follow_up_at = None
            return True
        return now >= self.next_fetch_at

    def timeout(self) -> float:
        if self.fetching:
            return BUSY_TICK
        now = time.monotonic()
        wait = self.next_fetch_at - now
        if self.follow_up_at is not None:
            wait = min(wait, self.follow_up_at - now)
        return max(0.05, min(IDLE_TICK, wait))

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        self.term.stream.write(self.term.home + self.term.clear)
        self.start()
        self.draw()
        try:
            while self.running:
                key = self.wait_key(self.timeout())
                self.poll_results()
                if key:
                    self.handle_key(key)
                if self.running and self.due() and not self.fetching:
                    self.request_fetch()
                if self.running:
                    self.draw()
        finally:
            self.stop()

    def wait_key(self, timeout: float) -> Any:
        try:
            self._waiting = True
            return self.term.inkey(timeout=timeout, esc_delay=ESC_DELAY)
        except _Wake:
            return None
        finally:
            self._waiting = False

    def on_resize(self, *_: Any) -> None:
        if self._waiting:
            raise _Wake()

    # --- keys -----------------------------------------------------------------------------------

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
