"""The app on a StringIO blessed Terminal, its output decoded by pyte at 80x24; keys go through
blessed's decoder (ungetch + inkey) into the app's key handler."""
import copy
import io
import json
import re

import pytest
from pyte_harness import Harness
from support import wait_for

from openusage.tui.run import make_terminal
from openusage.tui.source import SourceError
from openusage.tui.views import dashboard

TODAY = "2026-11-23"


def snapshot(account, name, status="OK", cost=10.0):
    return {
        "provider_id": "demo", "account_id": account, "display_name": name, "status": status,
        "currency": "USD", "spend": {"total": cost}, "tokens": {"input": 1000, "output": 500, "total": 1500},
        "rate_limits": {"5h": {"used_percent": 30.0, "resets_at": "2026-11-23T16:00:00Z"}},
        "models": [{"model": "m-large", "input": 900, "output": 400, "cost": cost}],
        "daily": [{"date": "2026-11-22", "cost": cost / 2, "tokens": 700}, {"date": TODAY, "cost": cost / 2}],
        "tools": [{"name": "Edit", "calls": 3}],
    }


MODEL = {"window": "30d", "snapshots": {
    "alpha": snapshot("alpha", "Alpha"), "beta": snapshot("beta", "Beta", cost=20.0),
    "gamma": snapshot("gamma", "Gamma", status="WARN", cost=30.0)}}


class FakeSource:
    def __init__(self, model=MODEL):
        self.model = model
        self.windows = []
        self.refreshes = []
        self.fail = False

    def fetch(self, window):
        self.windows.append(window)
        if self.fail:
            raise SourceError("no daemon answers on /tmp/x.sock (ConnectionError)")
        model = copy.deepcopy(self.model)
        model["window"] = window
        return model

    def refresh(self, provider=None):
        self.refreshes.append(provider)

    def describe(self):
        return "fake source"


@pytest.fixture
def settings_path(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"mine": {"keep": True}, "accounts": [], "dashboard": {"providers": []}}))
    return path


@pytest.fixture
def harness(settings_path):
    made = []

    def make(**kw):
        h = Harness(settings_path, kw.pop("source", None) or FakeSource(), **kw)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def test_first_frame_shows_every_tile_and_the_status_line(harness):
    h = harness()
    text = h.start()
    rows = text.split("\n")
    assert "openusage" in rows[0] and "3 accounts" in rows[0]
    assert "Alpha" in rows[1] and "Beta" in rows[1]
    assert "Gamma" in text and " WARN " in text and "$20.00" in text
    assert "fake source" in rows[-1] and "window 30d" in rows[-1] and "updated 0s ago" in rows[-1]
    assert h.source.windows == ["30d"]


def test_w_cycles_the_window_and_fetches_it(harness):
    h = harness()
    h.start()
    text = h.press("w")
    assert "window all (loading)" in text.split("\n")[-1]
    text = h.wait_data()
    assert "window all " in text.split("\n")[-1] and "(loading)" not in text
    for expected in ("1d", "3d", "7d"):
        h.press("w")
        h.wait_data()
        assert f"window {expected}" in h.text().split("\n")[-1]
    assert h.source.windows == ["30d", "all", "1d", "3d", "7d"]


def test_tab_enter_tabs_help_and_quit(harness):
    h = harness()
    h.start()
    text = h.press("\t")
    assert re.search(r"NAME\s+STATUS\s+SPEND\s+TOKENS", text)
    text = h.press("\t")
    assert "┌─ ▶ Alpha" in text
    text = h.press("j")  # down one row of tiles: the third tile
    assert "▶ Gamma" in text
    h.press("k")
    text = h.press("\r")
    assert "Detail: Alpha" in text and "Overview" in text and "spend (window)" in text
    text = h.press("]")
    assert re.search(r"MODEL\s+REQS\s+INPUT", text) and "m-large" in text
    text = h.press("]")
    assert re.search(r"TOOL\s+CALLS", text) and "Edit" in text
    text = h.press("[[")
    assert "spend (window)" in text
    text = h.press("?")
    assert "Keys" in text and "window 1d>3d>7d>30d>all" in text
    text = h.press("q")
    assert "Detail: Alpha" in text
    text = h.press("\x1b")
    assert "┌─ ▶ Alpha" in text
    assert h.app.running
    h.press("q")
    assert not h.app.running


def test_analytics_screen_and_account_key(harness):
    h = harness()
    h.start()
    text = h.press("a")
    assert "Daily spend · all accounts" in text and "11-22 Sun" in text and "$20.00" in text
    text = h.press("a")
    assert "Daily spend · Alpha" in text
    text = h.press("m")
    assert "Daily tokens · Alpha" in text
    assert "┌─" in h.press("q")


def test_reorder_persists_to_settings_json_and_keeps_other_keys(harness):
    h = harness()
    h.start()
    text = h.press("J")
    assert text.split("\n")[1].index("Beta") < text.split("\n")[1].index("Alpha")
    assert "order saved" in text.split("\n")[-1]
    saved = h.saved()
    assert [e["id"] for e in saved["dashboard"]["providers"]] == ["beta", "alpha", "gamma"]
    assert saved["mine"] == {"keep": True}
    h.press("J")
    assert [e["id"] for e in h.saved()["dashboard"]["providers"]] == ["beta", "gamma", "alpha"]
    h.press("K")
    assert [e["id"] for e in h.saved()["dashboard"]["providers"]] == ["beta", "alpha", "gamma"]
    # a new dashboard reads the order back
    again = Harness(h.settings_path, FakeSource())
    try:
        text = again.start()
        assert text.split("\n")[1].index("Beta") < text.split("\n")[1].index("Alpha")
    finally:
        again.close()


def test_hide_costs_and_theme_are_saved(harness):
    h = harness()
    h.start()
    text = h.press("c")
    assert "cost hidden" in text and "$10.00" not in text
    assert h.saved()["dashboard"]["providers"][0] == {"id": "alpha", "enabled": True, "hide_costs": True}
    text = h.press("c")
    assert "$10.00" in text and h.saved()["dashboard"]["providers"][0]["hide_costs"] is False
    before = h.output()
    h.press("t")
    assert h.saved()["theme"] == "light" and "theme light" in h.text()
    assert h.output() != before
    h.press("tt")
    assert h.saved()["theme"] == "dark"


def test_filter(harness):
    h = harness()
    h.start()
    text = h.press("/bet")
    assert "filter: /bet_" in text and "Beta" in text and "Alpha" not in text
    text = h.press("\r")
    assert "/bet" in text.split("\n")[0] and "1 account" in text.split("\n")[0]
    text = h.press("\x1b")  # Esc on the main screen clears the filter
    assert "Alpha" in text and "3 accounts" in text


def test_refresh_asks_the_source_then_reads_again(harness):
    h = harness()
    h.start()
    text = h.press("r")
    assert "refresh requested" in text
    assert wait_for(lambda: h.app.poll_results(wait=0.1) and len(h.source.windows) >= 2, 5)
    assert h.source.refreshes == [None] and h.source.windows == ["30d", "30d"]
    assert h.app.follow_up_at is not None  # and once more a moment later, when the poll is in


def test_failed_fetch_keeps_tiles_marks_them_stale_and_recovers(harness):
    h = harness()
    h.start()
    h.source.fail = True
    h.app.request_fetch()
    text = h.wait_data()
    last = text.split("\n")[-1]
    assert "STALE" in last and "no daemon answers" in last
    assert "Alpha" in text and "Beta" in text
    h.source.fail = False
    h.app.request_fetch()
    text = h.wait_data()
    assert "STALE" not in text and "no daemon answers" not in text


def test_only_changed_rows_are_written(harness):
    h = harness()
    h.start()
    assert h.app.painter.paint(h.app.frame(), 80, 24) == 0  # nothing changed
    h.term.ungetch("l")
    h.app.handle_key(h.term.inkey(timeout=0))
    written = h.app.draw()
    tile_height = dashboard.geometry(80, 22, 3)[3]
    assert 0 < written <= tile_height  # the first row of tiles (their borders) changes, nothing else
    mark = len(h.output())
    h.draw()
    assert len(h.output()) == mark


def test_resize_repaints_everything_at_the_new_size(harness):
    h = harness()
    h.start()
    text = h.resize(120, 30)
    rows = text.split("\n")
    assert len(rows) == 30 and len(rows[0]) == 120
    assert "Alpha" in rows[1] and "Beta" in rows[1] and "Gamma" in rows[1]  # three columns now
    text = h.resize(80, 24)
    assert "Gamma" not in text.split("\n")[1]


def test_colours_in_256_16_and_truecolor(harness):
    h = harness()
    h.start()
    assert "\x1b[38;5;" in h.output() or "\x1b[48;5;" in h.output()
    ok = [c for c in h.screen.buffer[1].values() if c.data == "O"]
    assert ok and ok[0].bg != "default"
    cases = ((16, r"\x1b\[(3|4|9|10)\dm", r"38;5;"), (8, r"\x1b\[(3|4)\dm", r"\x1b\[(9|10)\dm"),
             (1 << 24, r"\x1b\[38;2;", None))
    for colors, pattern, absent in cases:
        h.term.number_of_colors = colors
        h.app.painter.set_theme("dark")
        mark = len(h.output())
        h.draw()
        fresh = h.output()[mark:]
        assert re.search(pattern, fresh)
        if absent:
            assert not re.search(absent, fresh)


def test_no_color_keeps_the_terminal_and_drops_the_colours(harness, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    term = make_terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)
    assert term.move_yx(2, 3) == "\x1b[3;4H"  # blessed alone would blank this under NO_COLOR
    import os

    assert os.environ["NO_COLOR"] == "1"
    h = harness(term=term, color=False)
    text = h.start()
    assert "[OK]" in text and "[WARN]" in text
    out = h.output()
    assert "38;5;" not in out and "48;5;" not in out and not re.search(r"\x1b\[(3|4|9|10)\dm", out)
    cells = [c for row in h.screen.buffer.values() for c in row.values()]
    assert all(c.fg == "default" and c.bg == "default" for c in cells)
    assert any(c.reverse for c in cells)  # the header and status line still stand out


class AlertSource(FakeSource):
    """A source whose read model carries one unseen alert on Beta, as DaemonSource attaches them."""

    def __init__(self):
        super().__init__()
        self.model = dict(MODEL, alerts=[{"rule": "plan-80", "provider_id": "demo", "account_id": "beta",
                                          "limit": "5h", "value": 85.0, "seen": False,
                                          "message": "5h at 85 % used (alert at 80 %)"}])
        self.seen = []

    def mark_seen(self, provider_id, account_id):
        self.seen.append((provider_id, account_id))
        self.model = dict(self.model, alerts=[])


def test_an_alert_marks_its_tile_and_the_status_line_until_its_detail_is_opened(harness):
    h = harness(source=AlertSource())
    text = h.start()
    last = h.screen.display[-1]
    assert "⚠ Beta: 5h at 85 % used (alert at 80 %)" in last
    assert "┌─ Beta ⚠ ─" in h.screen.display[1] and "⚠" not in h.screen.display[12]  # Gamma's title row
    assert text.count("⚠") == 2  # Beta's tile and the status line
    h.press(["\x1b[C"])
    assert h.app.state.selected == "beta"
    assert "Detail: Beta" in h.press(["\r"])
    assert wait_for(lambda: h.source.seen == [("demo", "beta")], 5)
    assert "⚠" not in h.press(["\x1b"])


PERIODS_MODEL = {"window": "7d", "snapshots": {
    "openrouter": {
        "provider_id": "openrouter", "account_id": "openrouter", "display_name": "OpenRouter", "status": "OK",
        "currency": "USD", "spend": {"cycle": 20.75, "lifetime": 25.75, "balance": {"cash": 74.75}},
        "periods": {"spend.cycle": {"kind": "month_to_date", "start": "2026-11-01T00:00:00.000Z"},
                    "spend.lifetime": {"kind": "lifetime"}}},
    "deepseek": {
        "provider_id": "deepseek", "account_id": "deepseek", "display_name": "DeepSeek", "status": "OK",
        "currency": "CNY", "spend": {"balance": {"cash": 42.5, "granted": 3.0}}},
    "opencode": {
        "provider_id": "opencode", "account_id": "opencode", "display_name": "OpenCode", "status": "OK",
        "currency": "USD", "spend": {"total": 0.5, "incomplete": True},
        "tokens": {"input": 13160, "output": 480, "total": 13640},
        "models": [{"model": "claude-sonnet-4-5", "input": 1000, "output": 240, "cost": 0.5},
                   {"model": "glm-4.6", "input": 12160, "output": 240}],
        "unpriced": [{"model": "glm-4.6", "tokens": 12400}]},
}}


def test_tiles_show_each_figure_with_its_period_and_name_unpriced_models(harness):
    h = harness(source=FakeSource(PERIODS_MODEL), width=120, height=30)
    text = h.start()
    # OpenRouter: nothing is the window's; its lifetime and month-to-date spend say so.
    assert "$20.75 month to date" in text and "$25.75 lifetime" in text and "$74.75 cash" in text
    # DeepSeek opens with its balance, not with "no usage in this window".
    assert "42.50 CNY cash" in text and "3.00 CNY granted" in text
    assert "no usage in this window" not in text
    # OpenCode: the spend is at least $0.50, and the tile names what it leaves out.
    assert "≥$0.50" in text and "unpriced: glm-4.6 12.4k tok" in text


def test_detail_labels_each_spend_by_its_period(harness):
    h = harness(source=FakeSource(PERIODS_MODEL), width=100, height=30)
    h.start()
    h.press("ll")  # DeepSeek, OpenCode, OpenRouter: the third tile
    text = h.press("\r")
    assert "Detail: OpenRouter" in text
    assert "spend (window)    -" in text
    assert re.search(r"spend\s+\$20\.75  month to date", text) and re.search(r"spend\s+\$25\.75  lifetime", text)
