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
from openusage.tui import state as st
from openusage.tui import views
from openusage.tui.fetcher import Fetcher
from openusage.tui.keys import Keys
from openusage.tui.painter import Painter

ESC_DELAY = 0.05  # seconds blessed waits after Esc for the rest of a sequence (its default, 0.35, makes
# Esc feel slow and reads Esc then q typed within it as Alt-q); terminals send a sequence in one write
IDLE_TICK = 1.0  # seconds between repaints when nothing happens (ages and countdowns move)
BUSY_TICK = 0.1  # while a fetch is under way
REFRESH_FOLLOW_UP = 2.0  # after `r`, read again this much later: the poll takes a moment
MAX_RETRY = 30.0


class _Wake(Exception):
    """Raised by the SIGWINCH handler to end a wait in inkey() early."""


class App(Keys):
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
