"""The dashboard on this terminal: a blessed Terminal, the locale and colour choices, the signals that
unwind it, and the run from start to quit (the loop itself is tui/app.py)."""
from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

from openusage.tui import state as st
from openusage.tui.app import App


def locale_is_utf8(env: Optional[Dict[str, str]] = None) -> bool:
    """Whether the locale (LC_ALL, then LC_CTYPE, then LANG) is a UTF-8 one."""
    env = os.environ if env is None else env
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = env.get(name)
        if value:
            return "utf-8" in value.lower() or "utf8" in value.lower()
    return False


def make_terminal(**kwargs: Any) -> Any:
    """A blessed Terminal that moves the cursor even under NO_COLOR (colours are dropped by the painter)."""
    import blessed

    saved = os.environ.pop("NO_COLOR", None)
    try:
        return blessed.Terminal(**kwargs)
    finally:
        if saved is not None:
            os.environ["NO_COLOR"] = saved


def wants_color(args: Any = None) -> bool:
    return not (os.environ.get("NO_COLOR") or getattr(args, "no_color", False))


@contextmanager
def _signals(app: App) -> Iterator[None]:
    """SIGTERM and SIGHUP unwind (restoring the terminal); SIGWINCH repaints at once."""

    fired: List[int] = []

    def terminate(signum: int, _frame: Any) -> None:
        if fired:  # already unwinding: let the terminal be restored in peace
            return
        fired.append(signum)
        raise SystemExit(128 + signum)

    wanted = {signal.SIGTERM: terminate, signal.SIGHUP: terminate, signal.SIGWINCH: app.on_resize}
    previous = {sig: signal.signal(sig, handler) for sig, handler in wanted.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_dashboard(source: Any, settings: Any, args: Any = None, interval: Optional[float] = None,
                  window: Optional[str] = None) -> int:
    """Open the full-screen dashboard on this terminal until the user quits; the exit code."""
    state = st.from_settings(settings, window=window or getattr(args, "window", None), color=wants_color(args),
                             ascii_only=not locale_is_utf8())
    term = make_terminal()
    app = App(term, source, settings, state,
              interval=interval or float(settings.get("ui.refresh_interval_seconds", 30) or 30))
    try:
        with _signals(app), term.fullscreen(), term.cbreak(), term.hidden_cursor():
            app.run()
    except KeyboardInterrupt:
        return 0
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    return 0
