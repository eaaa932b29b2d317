"""Pure views from fixed snapshots: what a person would read on the screen, no terminal involved."""
import copy
import time

import pytest

from openusage.core.snapshot import (
    STATUSES,
    Balance,
    Breakdown,
    DailyPoint,
    ModelUsage,
    RateLimit,
    Spend,
    SpendLimits,
    Tokens,
    UsageSnapshot,
)
from openusage.core.timeutil import to_epoch
from openusage.tui import state as st
from openusage.tui import views, widgets
from openusage.tui.keys import COMMANDS, MOVES
from openusage.tui.views import analytics, dashboard, detail, help, listview
from openusage.tui.widgets import text_width

NOW = to_epoch("2026-11-23T12:00:00Z")
SPECS = {"demo": {"gauges": ["5h", "weekly"]}}


def snap(account="main", provider="demo", status="OK", name=None, currency="USD", used_5h=40.0, message=None,
         days=7, cost_per_day=8.5):
    daily = [DailyPoint(date=f"2026-11-{17 + i:02d}", cost=cost_per_day + i, tokens=1_000_000 * (i + 1), requests=10)
             for i in range(days)]
    return UsageSnapshot(
        provider_id=provider, account_id=account, display_name=name or f"Acct {account}", status=status,
        message=message, currency=currency, timestamp="2026-11-23T11:59:00Z",
        spend=Spend(total=60.5, limits=SpendLimits(hard=200.0), balance=Balance(cash=42.5)),
        tokens=Tokens(input=11_000_000, output=5_000_000, cache_read=60_000_000, cache_write=0).with_total(),
        tool_calls=6720,
        rate_limits={"5h": RateLimit(used_percent=used_5h, resets_at="2026-11-23T16:30:00Z"),
                     "weekly": RateLimit(used_percent=52.0, resets_at="2026-11-26T00:00:00Z"),
                     "rpm": RateLimit(limit=50, remaining=33)},
        models=[ModelUsage(model="big-model", input=4_000_000, output=2_000_000, requests=2000, cost=46.0),
                ModelUsage(model="small-model", input=1_000_000, output=500_000, requests=900, cost=14.5)],
        daily=daily,
        tools=[Breakdown(name="Edit", calls=120), Breakdown(name="Bash", calls=80)],
        projects=[Breakdown(name="web-app", requests=50, tokens=9_000_000, cost=20.0)],
        sessions=[Breakdown(name=f"session-{i}", requests=10, tokens=100_000, cost=0.5, project="web-app",
                            first_at="2026-11-22T10:00:00Z", last_at="2026-11-22T11:00:00Z") for i in range(40)],
        mcp_servers=[Breakdown(name="docs", calls=17)],
    )


def every_status():
    return {f"s{i}": snap(account=f"s{i}", status=status, name=f"Status {status}",
                          message=None if status == "OK" else f"{status.lower()} happened")
            for i, status in enumerate(STATUSES)}


def make_data(snapshots, **kw):
    base = dict(snapshots=snapshots, window="7d", fetched_at=NOW - 5, loading=False, source="daemon ok",
                now=NOW, widgets=SPECS)
    base.update(kw)
    return st.Data(**base)


def make_state(snapshots=None, **kw):
    kw.setdefault("window", "7d")
    state = st.UIState(**kw)
    if snapshots and state.selected is None:
        state.selected = st.visible_keys(state, snapshots)[0]
    return state


def screen(state, data, width=80, height=24):
    lines = views.render_frame(state, data, width, height)
    return ["".join(text for text, _ in line) for line in lines]


def roles_of(state, data, width=80, height=24):
    return {role for line in views.render_frame(state, data, width, height) for _, role in line}


def check_geometry(rows, width, height):
    assert len(rows) == height
    for i, row in enumerate(rows):
        assert text_width(row) == (width - 1 if i == height - 1 else width), (i, row)


# --- the dashboard --------------------------------------------------------------------------------


@pytest.mark.parametrize("color", [True, False])
def test_every_status_is_a_word_on_its_tile(color):
    snaps = every_status()
    rows = screen(make_state(snaps, color=color), make_data(snaps), 200, 50)
    text = "\n".join(rows)
    for status in STATUSES:
        word = f" {status} " if color else f"[{status}]"
        assert word in text, status
        assert f"Status {status}" in text
    assert "err happened" in text and "auth happened" in text
    check_geometry(rows, 200, 50)


def test_tile_shows_spend_tokens_gauges_countdowns_models_sparkline():
    snaps = {"main": snap()}
    rows = screen(make_state(snaps), make_data(snaps))
    text = "\n".join(rows)
    assert "Acct main" in text
    assert "$60.50" in text and "76.0M tok" in text and "6.7k calls" in text
    assert "5h" in text and "weekly" in text and " 40%" in text and " 52%" in text
    assert "↻4h30m" in text and "↻2d12h" in text  # reset countdowns from NOW
    assert "top big-model 76%" in text
    assert "▅▆▆▇▇██ daily spend" in text
    check_geometry(rows, 80, 24)


def test_gauge_colour_follows_thresholds_of_remaining_share():
    g = widgets.UNICODE
    role = lambda used: [r for _, r in widgets.gauge("x", used, 30, g, 0.20, 0.05) if r.startswith("gauge_")][0]  # noqa: E731
    assert role(0.50) == "gauge_ok"
    assert role(0.80) == "gauge_warn"  # 20 % left: warn
    assert role(0.949) == "gauge_warn"
    assert role(0.95) == "gauge_crit"  # 5 % left: critical
    assert role(1.0) == "gauge_crit"
    snaps = {"hot": snap(account="hot", used_5h=97.0)}
    assert "gauge_crit" in roles_of(make_state(snaps), make_data(snaps))


def test_long_names_are_cut_with_an_ellipsis_and_never_overflow():
    long = "An extremely long account display name that goes on and on " * 3
    snaps = {"x": snap(account="x", name=long, message="m" * 300, status="ERR")}
    snaps["x"].models[0].model = "model-" + "z" * 120
    for width, height in ((80, 24), (200, 50)):
        for screen_name in ("dashboard", "list", "detail"):
            state = make_state(snaps, screen=screen_name)
            rows = screen(state, make_data(snaps), width, height)
            check_geometry(rows, width, height)
            assert "…" in "".join(rows)


def test_long_limit_names_keep_what_the_tile_can_spare():
    items = [("5h", 0.52, None), ("premium_interactions", 0.3, "2026-11-26T15:00:00Z"), ("chat", None, None)]
    state = st.UIState()

    def text(width):
        return ["".join(t for t, _ in line) for line in dashboard.gauge_lines(items, width, state, NOW)]

    wide = text(48)
    assert wide[1].startswith("premium_interactions ") and "30%" in wide[1] and "3d03h" in wide[1]
    assert {len(line) for line in wide} == {48}
    assert wide[0].index("█") == wide[1].index("█")  # bars line up after the longest name
    narrow = text(30)
    assert narrow[1].startswith("premiu… ") and {len(line) for line in narrow} == {30}
    assert text(48 + 20) != wide and text(68)[1].startswith("premium_interactions ")


def test_no_data_and_loading_messages():
    rows = screen(make_state(), st.Data(now=NOW))
    assert any("connecting to the daemon" in r for r in rows)
    assert any("not updated yet" in r for r in rows)
    rows = screen(make_state(), make_data({}))
    assert any("no accounts yet" in r and "openusage demo" in r for r in rows)
    bare = {"bare": UsageSnapshot(provider_id="demo", account_id="bare", status="UNKNOWN")}
    rows = screen(make_state(bare), make_data(bare))
    assert any("no usage in this window" in r for r in rows)
    check_geometry(rows, 80, 24)


def test_many_tiles_scroll_to_the_selection_and_say_what_is_hidden():
    snaps = {f"a{i:02d}": snap(account=f"a{i:02d}", name=f"Tile {i:02d}") for i in range(30)}
    state = make_state(snaps)
    rows = screen(state, make_data(snaps))
    assert "Tile 00" in rows[1] and "Tile 01" in rows[1]
    assert any("rows below" in r for r in rows)
    state.selected = "a29"
    rows = screen(state, make_data(snaps))
    text = "\n".join(rows)
    assert "Tile 29" in text and "Tile 00" not in text and "rows above" in text
    rows = screen(state, make_data(snaps), 200, 50)
    check_geometry(rows, 200, 50)
    assert "30 accounts" in rows[0]


def test_status_line_shows_daemon_window_age_stale_and_error():
    snaps = {"main": snap()}
    data = make_data(snaps, stale=True, error="no daemon answers on /tmp/x.sock (ConnectionError)",
                     source="daemon unreachable, retrying")
    state = make_state(snaps, window="30d")
    last = screen(state, data)[-1]
    assert "daemon unreachable" in last and "window 30d (loading)" in last and "updated 5s ago" in last
    assert last.startswith(" ▲ STALE │ daemon unreachable")
    assert "no daemon answers on /tmp/x.sock (ConnectionError)" in screen(state, data, 160, 30)[-1]
    assert "Acct main" in "\n".join(screen(state, data))  # the last data stays visible


def test_hidden_costs_hide_every_amount_of_that_tile():
    snaps = {"main": snap(), "other": snap(account="other")}
    state = make_state(snaps, hidden_costs={"main"})
    state.selected = "main"
    text = "\n".join(screen(state, make_data(snaps), 200, 50))
    assert "cost hidden" in text and text.count("$60.50") == 1
    state.screen = "detail"
    state.detail_tab = st.DETAIL_TABS.index("models")
    text = "\n".join(screen(state, make_data(snaps)))
    assert "***" in text and "$46.00" not in text


def test_native_currency_is_never_converted():
    snaps = {"eu": snap(account="eu", currency="EUR")}
    text = "\n".join(screen(make_state(snaps), make_data(snaps)))
    assert "60.50 EUR" in text and "$" not in text.split("\n", 1)[1].rsplit("\n", 1)[0]


def test_filter_keeps_matching_tiles():
    snaps = {"alpha": snap(account="alpha", name="Alpha"), "beta": snap(account="beta", name="Beta")}
    state = make_state(snaps, filter="bet")
    text = "\n".join(screen(state, make_data(snaps)))
    assert "Beta" in text and "Alpha" not in text and "/bet" in text
    state.filter = "zzz"
    assert any("no account matches /zzz" in r for r in screen(state, make_data(snaps)))


def test_ascii_mode_draws_only_ascii():
    snaps = every_status()
    for screen_name in ("dashboard", "list", "detail", "analytics", "help"):
        state = make_state(snaps, screen=screen_name, ascii=True, color=False)
        for width, height in ((80, 24), (200, 50)):
            rows = screen(state, make_data(snaps), width, height)
            assert all(r.isascii() for r in rows), (screen_name, [r for r in rows if not r.isascii()])
            check_geometry(rows, width, height)
    rows = screen(make_state(snaps, ascii=True), make_data(snaps))
    assert rows[1].startswith("+-") and "#" in "".join(rows)


def test_no_color_uses_no_colour_roles_that_carry_meaning_alone():
    snaps = every_status()
    state = make_state(snaps, color=False)
    text = "\n".join(screen(state, make_data(snaps), 200, 50))
    for status in STATUSES:
        assert f"[{status}]" in text
    assert "[Dashboard]" in text
    state.screen = "list"
    text = "\n".join(screen(state, make_data(snaps), 200, 50))
    assert all(f"[{s}]" in text for s in STATUSES) and "[List]" in text
    state.screen, state.detail_tab = "detail", 1
    assert "[Models]" in "\n".join(screen(state, make_data(snaps)))


def test_tiny_terminal_says_so():
    rows = screen(make_state(), make_data({}), 30, 8)
    assert "needs 40x10" in rows[0]


# --- list, detail, analytics, help ------------------------------------------------------------------


def test_list_rows_are_compact_and_complete():
    snaps = every_status()
    state = make_state(snaps, screen="list")
    rows = screen(state, make_data(snaps))
    assert rows[1].split()[:4] == ["NAME", "STATUS", "SPEND", "TOKENS"]
    body = rows[2:2 + len(snaps)]
    assert len(body) == 6 and all("$60.50" in r for r in body)
    assert body[0].startswith("▶")
    assert "weekly" in body[0] and "52%" in body[0]
    check_geometry(rows, 80, 24)
    wide = screen(state, make_data(snaps), 200, 50)
    assert "TOP MODEL" in wide[1] and "big-model" in wide[2]


@pytest.mark.parametrize("tab, expect", [
    ("overview", ["spend (window)", "$60.50", "tokens total", "76,000,000", "tool calls", "daily spend"]),
    ("models", ["MODEL", "big-model", "$46.00", "2,000"]),
    ("tools", ["TOOL", "Edit", "120"]),
    ("projects", ["PROJECT", "web-app", "$20.00"]),
    ("sessions", ["SESSION", "session-0", "1d01h ago", "rows 1-"]),
    ("mcp", ["MCP SERVER", "docs", "17"]),
    ("limits", ["5h", "resets in 4h30m", "60% left", "limit 50", "remaining 33", "budget"]),
])
def test_detail_tabs(tab, expect):
    snaps = {"main": snap()}
    state = make_state(snaps, screen="detail", detail_tab=st.DETAIL_TABS.index(tab))
    text = "\n".join(screen(state, make_data(snaps)))
    for piece in expect:
        assert piece in text, (tab, piece)
    assert "Overview" in text and "MCP servers" in text  # the tab bar


def test_detail_scrolls_its_table():
    snaps = {"main": snap()}
    state = make_state(snaps, screen="detail", detail_tab=st.DETAIL_TABS.index("sessions"))
    state.scroll["detail"] = 30
    text = "\n".join(screen(state, make_data(snaps)))
    assert "session-30" in text and "session-0 " not in text and "SESSION" in text


def test_detail_empty_tab():
    snaps = {"bare": UsageSnapshot(provider_id="demo", account_id="bare")}
    state = make_state(snaps, screen="detail", detail_tab=st.DETAIL_TABS.index("tools"))
    assert any("no tools data in this window" in r for r in screen(state, make_data(snaps)))


def test_analytics_across_accounts_and_per_account():
    snaps = {"a": snap(account="a", name="Alpha"), "b": snap(account="b", name="Beta", cost_per_day=1.0)}
    state = make_state(snaps, screen="analytics")
    rows = screen(state, make_data(snaps))
    text = "\n".join(rows)
    assert "Daily spend" in text and "all accounts" in text and "Alpha" in text and "Beta" in text
    day_rows = [r for r in rows if r.startswith("  11-")]
    assert day_rows[0].startswith("  11-23 Mon")  # newest first, gap days filled up to today
    assert day_rows[1].startswith("  11-22 Sun") and day_rows[1].rstrip().endswith("$19.50")  # 13.5 + 6
    state.analytics_scope = "b"
    text = "\n".join(screen(state, make_data(snaps)))
    assert "Daily spend · Beta" in text and "Alpha" not in text
    state.analytics_metric = "tokens"
    text = "\n".join(screen(state, make_data(snaps)))
    assert "Daily tokens" in text and "6.0M" in text


def test_analytics_never_adds_currencies():
    snaps = {"u": snap(account="u", name="Dollars"), "u2": snap(account="u2", name="Dollars2"),
             "e": snap(account="e", name="Euros", currency="EUR")}
    text = "\n".join(screen(make_state(snaps, screen="analytics"), make_data(snaps), 120, 30))
    assert "USD accounts only" in text and "Euros" not in text


def test_analytics_no_color_uses_distinct_fills():
    snaps = {"a": snap(account="a"), "b": snap(account="b")}
    rows = screen(make_state(snaps, screen="analytics", color=False), make_data(snaps))
    bar_row = [r for r in rows if r.startswith("  11-22")][0]
    assert "#" in bar_row and "=" in bar_row


def test_help_lists_every_key_and_every_listed_key_is_handled():
    rows = screen(make_state(screen="help"), make_data({}))
    text = "\n".join(rows)
    handled = set(COMMANDS) | set(MOVES)
    names = {"Tab": "KEY_TAB", "Enter": "KEY_ENTER", "Esc": "KEY_ESCAPE", "PgUp": "KEY_PGUP", "PgDn": "KEY_PGDOWN",
             "Home": "KEY_HOME", "End": "KEY_END", "DOWN": "KEY_DOWN", "UP": "KEY_UP", "LEFT": "KEY_LEFT",
             "RIGHT": "KEY_RIGHT", "Ctrl-C": "\x03"}
    for _, keys in help.KEYS:
        for label, what in keys:
            assert what in text
            for token in label.split():
                assert names.get(token, token) in handled, token
    for token in "w r / t c J K j k h l [ ] ? q a m".split():
        assert token in handled
    check_geometry(rows, 80, 24)


# --- pieces -----------------------------------------------------------------------------------------


def test_countdowns_and_numbers():
    assert widgets.countdown("2026-11-23T12:00:45Z", NOW) == "45s"
    assert widgets.countdown("2026-11-23T16:43:00Z", NOW) == "4h43m"
    assert widgets.countdown("2026-11-26T11:00:00Z", NOW) == "2d23h"
    assert widgets.countdown("2026-11-23T11:00:00Z", NOW) == "now"
    assert widgets.countdown(None, NOW) == ""
    assert widgets.money(1234.5, "USD") == "$1,234" and widgets.money(-2.5, "USD") == "-$2.50"
    assert widgets.money(9.5, "EUR") == "9.50 EUR" and widgets.money(3, "USD", hidden=True) == "***"
    assert widgets.compact(84_211_969) == "84.2M" and widgets.compact(None) == "-"


def test_text_width_counts_wide_characters():
    assert widgets.text_width("日本") == 4
    cut = widgets.truncate("日本語のモデル名", 7)
    assert widgets.text_width(cut) == 7 and cut.endswith("…")
    line = widgets.fit_line([("日本語のモデル名です", "text")], 9)
    assert widgets.line_width(line) == 9


def test_sparkline_and_bars():
    g = widgets.UNICODE
    assert widgets.sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8, g) == "▁▂▃▄▅▆▇█"
    assert widgets.sparkline([1, None, 1], 3, g) == "█ █"
    assert widgets.sparkline([3, 4, 5], 2, widgets.ASCII) == "*#"
    assert widgets.hbar(5, 10, 10, widgets.ASCII) == "#####"
    assert widgets.hbar(0.01, 10, 10, g) == "█"


def test_box_keeps_its_width_with_or_without_title_and_badge():
    for title, badge in (([("T", "title")], [(" OK ", "badge_OK")]), ((), ()), ([("x" * 80, "title")], [])):
        for line in widgets.box([[("body", "text")]], 30, 5, widgets.UNICODE, title=title, badge=badge):
            assert widgets.line_width(line) == 30


# --- state ------------------------------------------------------------------------------------------


class FakeSettings:
    def __init__(self, raw):
        self.raw = raw

    def get(self, dotted, default=None):
        node = self.raw
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


def test_settings_order_visibility_and_hidden_costs():
    snaps = {k: snap(account=k, provider="demo" if k != "c" else "other") for k in ("a", "b", "c", "d")}
    settings = FakeSettings({"theme": "light", "ui": {"warn_threshold": 0.3}, "dashboard": {"providers": [
        {"id": "c", "hide_costs": True}, {"id": "b", "enabled": False}, {"id": "gone", "note": "keep me"}]}})
    state = st.from_settings(settings)
    st.resolve(state, snaps)
    assert state.theme == "light" and state.warn == 0.3 and state.crit == 0.05
    assert st.visible_keys(state, snaps) == ["c", "a", "d"]
    state.selected = "d"
    assert st.move_selected(state, snaps, -1)
    assert st.visible_keys(state, snaps) == ["c", "d", "a"]
    assert not st.move_selected(state, snaps, -5)
    entries = st.dashboard_entries(state, snaps, settings.raw["dashboard"]["providers"])
    assert [e["id"] for e in entries] == ["c", "d", "a", "b", "gone"]
    assert entries[0]["hide_costs"] is True and entries[3]["enabled"] is False
    assert entries[4] == {"id": "gone", "note": "keep me"}


def test_settings_ids_may_name_a_provider():
    snaps = {"x": snap(account="x", provider="p1"), "y": snap(account="y", provider="p2")}
    state = st.from_settings(FakeSettings({"dashboard": {"providers": [{"id": "p2", "hide_costs": True}]}}))
    st.resolve(state, snaps)
    assert st.visible_keys(state, snaps) == ["y", "x"] and state.hidden_costs == {"y"}


def test_views_do_not_change_state():
    snaps = every_status()
    state = make_state(snaps)
    before = copy.deepcopy(state)
    for name in st.SCREENS:
        state.screen = name
        views.render_frame(state, make_data(snaps), 80, 24)
    state.screen = before.screen
    assert state == before


def test_frame_is_fast_enough_for_thirty_tiles():
    snaps = {f"a{i:02d}": snap(account=f"a{i:02d}") for i in range(30)}
    state = make_state(snaps)
    data = make_data(snaps)
    start = time.perf_counter()
    for _ in range(5):
        views.render_frame(state, data, 200, 50)
    assert (time.perf_counter() - start) / 5 < 0.2  # the benchmark's goal is 20 ms; this only catches blow-ups


def test_dashboard_geometry():
    assert dashboard.geometry(80, 22) == (2, 40, 2, 10)
    assert dashboard.geometry(200, 48) == (5, 40, 4, 10)
    assert dashboard.geometry(80, 22, 30) == (2, 40, 2, 10)
    assert dashboard.geometry(100, 28, 1) == (1, 100, 2, 14)  # room to spare: wider and taller tiles
    assert dashboard.geometry(200, 48, 2) == (2, 100, 3, 14)  # two tiles share 200 columns
    assert dashboard.geometry(200, 48, 30)[:2] == (5, 40)
    assert dashboard.tile_widths(200, 3) == [67, 67, 66]
    assert listview.page(22) == 21 and detail.page(22) == 18 and analytics.page(22) == 17


def test_a_source_with_its_own_window_shows_it():
    snaps = {"main": snap()}
    last = screen(make_state(snaps, window="30d"), make_data(snaps, window="hub", source="hub http://h:9190"))[-1]
    assert "window hub" in last and "loading" not in last and "hub http://h:9190" in last


def test_month_to_date_tokens_and_models_are_labelled_on_the_tile():
    """OpenAI's Admin reports are month to date: the tile says so for spend, tokens and top models, and
    shows nothing as the window's."""
    from openusage.core.snapshot import ModelUsage, Period, Spend, Tokens

    s = UsageSnapshot(provider_id="openai", account_id="org", display_name="OpenAI", status="OK", currency="USD",
                      spend=Spend(cycle=1.75), tokens=Tokens(input=1700, output=700, total=2400),
                      models=[ModelUsage(model="gpt-4o-mini", input=1700, output=700)])
    for figure in ("spend.cycle", "tokens", "models"):
        s.set_period(figure, Period(kind="month_to_date", start="2026-11-01T00:00:00.000Z"))
    snaps = {"org": s}
    data = make_data(snaps)
    data.widgets = {"openai": {"figures": ["spend.cycle", "tokens.total"]}}
    lines = dashboard.tile_body("org", s, make_state(snaps), data, 60, 8)
    text = ["".join(t for t, _ in line) for line in lines]
    assert text[0] == "$1.75 month to date · 2.4k tok month to date"
    assert "top (month to date) gpt-4o-mini 100%" in text
    assert "(month to date) in 1.7k  out 700  cache 0" in text
    assert not any("no usage in this window" in t for t in text)


def test_the_budget_gauge_never_compares_the_cycle_with_a_cap_a_window_already_shows():
    # An OpenRouter key with a lifetime cap of $50: $40 used for good, $2 this month.
    snap = UsageSnapshot(provider_id="openrouter", account_id="or", status="OK",
                         spend=Spend(cycle=2.0, lifetime=40.0, limits=SpendLimits(hard=50.0)),
                         rate_limits={"credit_limit": RateLimit(limit=50.0, remaining=10.0)})
    items = dashboard.limit_items(snap, {"gauges": ["credit_limit"]})
    assert [(name, round(used, 2)) for name, used, _ in items] == [("credit_limit", 0.8)]  # not "budget" 0.04
    # A cap no window carries (the demo account's) still shows as the cycle's share of it.
    snap.rate_limits = None
    assert [(name, round(used, 2)) for name, used, _ in dashboard.limit_items(snap, {})] == [("budget", 0.04)]
