"""The dashboard as a newcomer meets it, at 80x24 and 200x50: tiles that use the width, detail labels
that are whole, a status line that never runs into its key hint, a sparkline with every day of the
window, `/` that starts a new filter, Esc that acts at once."""
import io
import sys

import pytest
from blessed import Terminal
from test_render_pyte import FakeSource, Harness, settings_path  # noqa: F401 (a fixture)
from test_views import NOW, make_data, make_state, screen, snap

from openusage.core.snapshot import DailyPoint
from openusage.tui import app as app_mod
from openusage.tui import views
from openusage.tui.views import dashboard, detail


def tile_tops(rows):
    """(column, text) of each tile's top border row."""
    return [(i, row) for i, row in enumerate(rows) if "┌" in row]


@pytest.mark.parametrize("width, height, count, per_row, tile_width", [
    (200, 50, 2, 2, 100), (200, 50, 3, 3, 67), (200, 50, 12, 5, 40), (80, 24, 1, 1, 80), (80, 24, 3, 2, 40)])
def test_tiles_share_the_whole_width(width, height, count, per_row, tile_width):
    snaps = {f"a{i}": snap(account=f"a{i}", name=f"Account number {i} with a long name") for i in range(count)}
    rows = screen(make_state(snaps), make_data(snaps), width, height)
    top = [row for row in rows if "┌" in row][0]
    assert top.count("┌") == per_row
    assert top.rstrip().endswith("┐") and len(top.rstrip()) == width  # no empty columns at the right
    assert top.index("┌", 1) == tile_width if per_row > 1 else len(top) == tile_width


def test_a_wide_tile_shows_what_a_narrow_one_cut():
    snaps = {"a": snap(account="a"), "b": snap(account="b")}
    rows = screen(make_state(snaps), make_data(snaps), 200, 50)
    text = "\n".join(rows)
    assert "top big-model 76% · small-model 24%" in text
    assert "…" not in "\n".join(r for r in rows[1:-1] if "│" in r)


def test_detail_labels_are_whole_and_internal_keys_humane_or_hidden():
    s = snap()
    s.tokens.cache_write = 1200
    s.extras = {"bytes_read": 12345, "lines_read": 9, "skipped_reasons": {"x": 1}, "demo": True,
                "files": 3, "plan_name": "Max 20x", "unlimited": False, "rate_limits_at": "2026-11-23T11:00:00Z"}
    snaps = {"main": s}
    for width, height in ((80, 24), (200, 50)):
        state = make_state(snaps, screen="detail")
        rows = screen(state, make_data(snaps), width, height)
        text = "\n".join(rows)
        assert "tokens cache write" in text and "tokens cache writ " not in text
        assert "limit hard" in text
        for internal in ("bytes_read", "bytes read", "lines read", "skipped", "demo  ", "demo True", "demo yes"):
            assert internal not in text, internal
        assert "plan name" in text and "Max 20x" in text and "unlimited" in text and " no" in text
        assert "log files" in text and "limits as of" in text


def test_detail_values_line_up_after_the_longest_label():
    lines = detail._align([detail._kv("status", "OK"), detail._kv("tokens cache write", "1,200")], 80)
    texts = ["".join(t for t, _ in line) for line in lines]
    assert texts[0].index("OK") == texts[1].index("1,200") == len("  tokens cache write ")


@pytest.mark.parametrize("width", [80, 200])
def test_the_status_line_keeps_a_gap_before_its_key_hint(width):
    snaps = {"main": snap()}
    data = make_data(snaps)
    for source_text in ("daemon ok", "x" * (width - 60), "y" * (width - 50), "z" * (width - 45)):
        data.source = source_text
        last = screen(make_state(snaps), data, width, 24 if width == 80 else 50)[-1]
        if "? help" in last:
            before = last[:last.index("? help")]
            assert before.endswith("   "), last
        assert "ago?" not in last
    data.source = "daemon ok, started by openusage"
    last = screen(make_state(snaps), data, 80, 24)[-1]
    assert last.rstrip().endswith("? help") and "updated 5s ago   " in last  # the short reminder fits


def test_the_sparkline_has_every_day_of_the_window():
    s = snap(days=2)  # usage on 11-17 and 11-18 only
    kind, values = dashboard.daily_series(s, False, "30d", NOW)
    assert kind == "spend" and len(values) == 30
    assert values[-7:] == [8.5, 9.5] + [0.0] * 5 and values.count(0.0) == 28
    assert dashboard.daily_series(s, False, "7d", NOW)[1] == [8.5, 9.5, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert len(dashboard.daily_series(s, False, "1d", NOW)[1]) == 1
    assert dashboard.daily_series(s, False, "all", NOW)[1][:2] == [8.5, 9.5]
    snaps = {"main": s}
    rows = screen(make_state(snaps, window="30d"), make_data(snaps, window="30d"), 200, 50)
    spark = [r for r in rows if "daily spend" in r][0]
    bars = spark.split("│")[1].strip().split(" daily")[0]
    assert len(bars) == 30 and bars.count("▁") == 28
    s.daily = [DailyPoint(date="2026-11-23", cost=0.01), DailyPoint(date="2026-11-22", cost=100.0)]
    assert dashboard.daily_series(s, False, "3d", NOW)[1] == [0.0, 100.0, 0.01]
    assert views.widgets.sparkline([0.0, 100.0, 0.01], 3, views.widgets.UNICODE) == "▁█▂"  # any use shows


def test_a_second_slash_starts_a_new_filter(settings_path):  # noqa: F811
    h = Harness(settings_path, source=FakeSource())
    try:
        h.start()
        h.press("/be\r")
        assert h.app.state.filter == "be" and not h.app.state.editing_filter
        text = h.press("/ga")
        assert h.app.state.filter == "ga" and "Gamma" in text and "Beta" not in text.split("\n", 1)[1]
        h.press("\r")
        assert h.app.state.filter == "ga"
    finally:
        h.close()


def test_esc_and_a_key_typed_together_are_both_acted_on(settings_path):  # noqa: F811
    h = Harness(settings_path, source=FakeSource())
    try:
        h.start()
        h.press("?")
        assert h.app.state.screen == "help"
        h.term.ungetch("\x1bq")  # what arrives when Esc and q come faster than the escape delay
        h.app.handle_key(h.term.inkey(timeout=0))
        assert h.app.state.screen == "dashboard" and not h.app.running
    finally:
        h.close()


def test_the_escape_delay_is_short():
    assert app_mod.ESC_DELAY <= 0.05
    term = Terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)
    waits = []

    class Recorder:
        def inkey(self, timeout=None, esc_delay=0.35):
            waits.append(esc_delay)
            return ""

    app = app_mod.App(term, FakeSource(), None, make_state(), size=lambda: (80, 24))
    app.term = Recorder()
    app.wait_key(0)
    assert waits == [app_mod.ESC_DELAY]


if __name__ == "__main__":
    sys.exit("run with pytest")


def test_every_key_is_in_the_readme_and_the_man_page():
    import os
    import re

    from openusage.tui.views import help

    root = os.path.join(os.path.dirname(__file__), "..", "..")
    with open(os.path.join(root, "README.md"), encoding="utf-8") as fh:
        readme = fh.read().split("## The dashboard", 1)[1].split("\n## ", 1)[0]
    with open(os.path.join(root, "man", "openusage.1"), encoding="utf-8") as fh:
        man = fh.read().split(".SS Keys", 1)[1].split(".SH ", 1)[0].replace("\\-", "-")
    man_keys = set()
    for tag in re.findall(r"^\.TP\n(.+)$", man, re.M):
        man_keys |= {k.strip('"') for k in re.sub(r"^\.B[RI]? ", "", tag).replace('", "', " ").split()}
    spelled = {"DOWN": "Down", "UP": "Up", "LEFT": "Left", "RIGHT": "Right"}
    for _, keys in help.KEYS:
        for label, _ in keys:
            assert f"`{label}`" in readme, label
            for token in label.split():
                assert spelled.get(token, token) in man_keys, token
    assert "```text\n openusage  Dashboard" in readme and "┌─ ▶ Demo (sample data)" in readme


def test_the_limits_tab_names_every_limit_whole():
    from openusage.core.snapshot import RateLimit

    s = snap()
    s.rate_limits = {"premium_interactions": RateLimit(used_percent=40.0, limit=300, used=120),
                     "5h": RateLimit(used_percent=10.0)}
    snaps = {"main": s}
    for width, height in ((80, 24), (200, 50)):
        rows = screen(make_state(snaps, screen="detail", detail_tab=6), make_data(snaps), width, height)
        text = "\n".join(rows)
        assert "premium_interactions " in text and "premium_inter…" not in text
        bars = [r for r in rows if "premium_interactions" in r or r.startswith("  5h ")]
        start = 2 + len("premium_interactions") + 1
        assert len(bars) == 2 and all(r[start] in "█░▏▎▍▌▋▊▉" and r[start - 1] == " " for r in bars), bars
