"""The dashboard App on a StringIO blessed Terminal, its output decoded by pyte; keys go through blessed's
decoder (ungetch + inkey) into the app's key handler. Shared by the TUI tests and the end-to-end checks of
what reaches a terminal."""
import io
import json

import pyte
from blessed import Terminal

from openusage import config
from openusage.tui import state as st
from openusage.tui.app import App


class Harness:
    """An App on a StringIO terminal, and a pyte screen fed with everything it writes."""

    def __init__(self, settings_path, source, width=80, height=24, color=True, term=None):
        self.term = term or Terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)
        self.size = [width, height]
        self.source = source
        self.settings_path = settings_path
        settings = config.load(str(settings_path))
        state = st.from_settings(settings, color=color)
        self.app = App(self.term, self.source, settings, state, interval=3600, size=lambda: tuple(self.size))
        self.screen = pyte.Screen(width, height)
        self.stream = pyte.Stream(self.screen)
        self.seen = 0

    def start(self):
        self.app.start()
        assert self.app.poll_results(wait=5)
        return self.draw()

    def output(self):
        return self.term.stream.getvalue()

    def draw(self):
        self.app.draw()
        out = self.output()
        self.stream.feed(out[self.seen:])
        self.seen = len(out)
        return self.text()

    def text(self):
        return "\n".join(self.screen.display)

    def press(self, keys):
        for key in keys:
            self.term.ungetch(key)
            stroke = self.term.inkey(timeout=0)
            assert str(stroke) == key
            self.app.handle_key(stroke)
        return self.draw()

    def wait_data(self):
        assert self.app.poll_results(wait=5)
        return self.draw()

    def resize(self, width, height):
        self.size[:] = [width, height]
        self.screen.resize(height, width)
        return self.draw()

    def saved(self):
        with open(self.settings_path, encoding="utf-8") as fh:
            return json.load(fh)

    def close(self):
        self.app.stop()
        self.app.fetcher.join(5)
