from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from openusage.core.events import UsageEvent
from openusage.reports import build, data
from openusage.reports.export import to_csv


def utc(*a):
    return datetime(*a, tzinfo=timezone.utc).timestamp()


def msg(at, i, model="claude-sonnet-4-5", tokens=(100, 50, 1000, 10), cost=0.01, session="s1", project="web",
        provider="claude_code"):
    return UsageEvent(source=provider, provider_id=provider, account_id=provider, event_type="message_usage",
                      occurred_at=at, message_id=f"m{i}", model=model, input_tokens=tokens[0],
                      output_tokens=tokens[1], cache_read_tokens=tokens[2], cache_write_tokens=tokens[3],
                      cost_usd=cost, cost_computed_usd=None if cost is None else cost * 2, requests=1,
                      session_id=session, project=project)


@pytest.fixture
def filled(store):
    writer, reader = store
    kathmandu_midnight = utc(2026, 11, 20, 18, 15)  # 2026-11-21 00:00 in Asia/Kathmandu (+05:45)
    events = [
        msg(kathmandu_midnight - 60, 1),                       # 2026-11-20 local
        msg(kathmandu_midnight + 60, 2, model="claude-opus-4-1"),  # 2026-11-21 local
        msg(kathmandu_midnight + 3600, 3, session="s2", project="api"),
        msg(kathmandu_midnight + 3 * 86400, 4, provider="codex", model="gpt-5"),
    ]
    writer.submit_events(events).wait(10)
    return reader()


def test_daily_follows_a_quarter_hour_zone(filled):
    rows = list(data.load_rows(filled))
    report = build.periods(rows, "daily", ZoneInfo("Asia/Kathmandu"))
    assert [d["date"] for d in report["daily"]] == ["2026-11-20", "2026-11-21", "2026-11-24"]
    day = report["daily"][1]
    assert {m["model"] for m in day["models"]} == {"claude-opus-4-1", "claude-sonnet-4-5"}
    assert day["input_tokens"] == 200 and day["cache_read_tokens"] == 2000 and day["total_tokens"] == 2320
    assert report["totals"]["total_tokens"] == 4 * 1160
    assert report["totals"]["cost_usd"] == pytest.approx(0.04)
    utc_report = build.periods(rows, "daily", ZoneInfo("UTC"))
    assert [d["date"] for d in utc_report["daily"]] == ["2026-11-20", "2026-11-23"]


def test_filters_and_modes(filled):
    only_claude = list(data.load_rows(filled, providers=["claude_code"], projects=["web"], mode="calculate"))
    assert len(only_claude) == 2 and all(r.cost_usd == pytest.approx(0.02) for r in only_claude)
    display = list(data.load_rows(filled, mode="display"))
    assert all(r.cost_usd == 0 for r in display)
    since = utc(2026, 11, 20, 18, 15)
    assert len(list(data.load_rows(filled, since=since, until=since + 86400))) == 2
    with pytest.raises(ValueError):
        list(data.load_rows(filled, mode="guess"))


def test_weekly_monthly_and_last(filled):
    rows = list(data.load_rows(filled))
    weekly = build.periods(rows, "weekly", ZoneInfo("UTC"), week_start="monday")
    assert [w["date"] for w in weekly["weekly"]] == ["2026-11-16", "2026-11-23"]
    sunday = build.periods(rows, "weekly", ZoneInfo("UTC"), week_start="sunday")
    assert [w["date"] for w in sunday["weekly"]] == ["2026-11-15", "2026-11-22"]
    monthly = build.periods(rows, "monthly", ZoneInfo("UTC"))
    assert [m["date"] for m in monthly["monthly"]] == ["2026-11-01"]
    last = build.periods(rows, "daily", ZoneInfo("UTC"), last=1)
    assert len(last["daily"]) == 1 and last["totals"]["total_tokens"] == 1160


def test_dst_change_day(store):
    writer, reader = store
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-10-25 has 25 hours in Berlin: 22:30 UTC on the 24th is 00:30 local on the 25th (CEST, +2),
    # 22:30 UTC on the 25th is 23:30 local on the 25th (CET, +1).
    writer.submit_events([msg(utc(2026, 10, 24, 22, 30), 1), msg(utc(2026, 10, 25, 22, 30), 2),
                          msg(utc(2026, 10, 25, 23, 30), 3)]).wait(10)
    report = build.periods(data.load_rows(reader()), "daily", berlin)
    assert [(d["date"], d["input_tokens"]) for d in report["daily"]] == [("2026-10-25", 200), ("2026-10-26", 100)]


def test_sessions(filled):
    report = build.sessions(data.load_rows(filled), ZoneInfo("UTC"), data.session_info(filled))
    by_id = {(s["provider"], s["session_id"]): s for s in report["sessions"]}
    s1 = by_id[("claude_code", "s1")]
    assert s1["project"] == "web" and s1["duration_seconds"] == 120
    assert s1["input_tokens"] == 200
    assert by_id[("claude_code", "s2")]["project"] == "api"


def test_blocks_and_burn_rate(store):
    writer, reader = store
    t0 = utc(2026, 11, 22, 9, 20)
    writer.submit_events([
        msg(t0, 1, cost=1.0), msg(t0 + 3600, 2, cost=1.0),          # block 09:00-14:00
        msg(t0 + 6 * 3600, 3, cost=0.5),                              # 15:20 -> block 15:00-20:00
        msg(t0 + 6 * 3600 + 1800, 4, cost=0.5),
    ]).wait(10)
    now = t0 + 6 * 3600 + 2400  # 16:00
    report = build.blocks(data.load_rows(reader()), now)
    blocks = report["blocks"]
    assert [b["start"] for b in blocks] == ["2026-11-22T09:00:00.000Z", "2026-11-22T15:00:00.000Z"]
    assert [b["is_active"] for b in blocks] == [False, True]
    active = blocks[-1]
    assert active["cost_usd"] == pytest.approx(1.0)
    assert active["burn_rate"]["cost_per_hour"] == pytest.approx(1.0)  # $1 in the hour since 15:00
    assert active["projection"]["remaining_minutes"] == 240
    assert active["projection"]["cost_usd"] == pytest.approx(5.0)
    assert build.active_block(data.load_rows(reader()), now)["start"] == active["start"]


def test_csv_export_is_spreadsheet_friendly():
    model = {"snapshots": {"c": {"provider_id": "claude_code", "account_id": "c", "currency": "USD",
                                 "daily": [{"date": "2026-11-21", "cost": 1234.5, "tokens": 1234567, "requests": 3}],
                                 "tokens": {"total": 1234567}, "spend": {"total": 1e-7}}}}
    daily = to_csv(model).splitlines()
    assert daily == ["date,provider,account,currency,cost,tokens,requests,unpriced_tokens",
                     "2026-11-21,claude_code,c,USD,1234.5,1234567,3,"]
    snap = to_csv(model, "snapshots").splitlines()
    assert snap[0].startswith("provider,account,display_name,status")
    assert ",0," in snap[1]  # tiny spend is written as 0, never as 1e-07


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_sql_folded_periods_equal_row_by_row(filled, kind):
    tz = ZoneInfo("Asia/Kathmandu")

    def period_of(epoch):
        return build.period_start(datetime.fromtimestamp(epoch, tz), kind, "sunday")

    folded = build.periods(data.load_rows_by_period(filled, period_of, mode="calculate"), kind, tz, "sunday")
    plain = build.periods(data.load_rows(filled, mode="calculate"), kind, tz, "sunday")
    assert folded == plain


@pytest.mark.parametrize("name", ["Asia/Kathmandu", "America/St_Johns", "UTC"])
@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_day_rollups_equal_quarter_buckets_in_the_local_zone(tmp_path, zone, name, kind):
    from openusage.store import db
    from openusage.store.writer import Writer

    zone(name)
    path = str(tmp_path / "local.db")
    writer = Writer(path)
    writer.start()
    start = utc(2026, 3, 1)  # over the northern spring DST change of St. John's
    events = [msg(start + i * 3671.0, i, model=("claude-sonnet-4-5", "claude-opus-4-1")[i % 2],
                  session=f"s{i % 5}", cost=0.001 * (i % 7)) for i in range(40 * 24)]
    writer.submit_events(events).wait(30)
    writer.stop()
    conn = db.connect(path, readonly=True)
    tz = ZoneInfo(name)

    def period_of(epoch):
        return build.period_start(datetime.fromtimestamp(epoch, tz), kind, "monday")

    since, until = utc(2026, 3, 5), utc(2026, 3, 30)
    if name != "UTC":
        since, until = (datetime.fromtimestamp(t, timezone.utc).replace(tzinfo=tz).timestamp() for t in (since, until))
    for window in ((None, None), (since, until)):
        fast = data.load_rows_by_local_day(conn, *window, providers=["claude_code"])
        slow = data.load_rows_by_period(conn, period_of, *window, providers=["claude_code"])
        a = build.periods(fast, kind, tz)
        b = build.periods(slow, kind, tz)
        assert [(d["date"], d["total_tokens"], [m["model"] for m in d["models"]]) for d in a[kind]] == \
            [(d["date"], d["total_tokens"], [m["model"] for m in d["models"]]) for d in b[kind]]
        assert [d["cost_usd"] for d in a[kind]] == pytest.approx([d["cost_usd"] for d in b[kind]])
        assert a["totals"]["total_tokens"] == b["totals"]["total_tokens"] > 0
    conn.close()


def test_day_rollups_of_another_zone_are_not_used(tmp_path, zone):
    from openusage.store import db
    from openusage.store.writer import Writer

    zone("Asia/Kathmandu")
    path = str(tmp_path / "other.db")
    writer = Writer(path)
    writer.start()
    writer.submit_events([msg(utc(2026, 11, 20, 18, 20), 1)]).wait(10)
    writer.stop()
    zone("Europe/Berlin")  # the machine's zone changed; nothing has rebuilt the day rollups yet
    conn = db.connect(path, readonly=True)
    assert data.load_rows_by_local_day(conn) is None
    conn.close()


def test_a_model_without_a_price_is_named_and_its_costs_marked_incomplete(store):
    """Never silently $0: the rows and totals that leave out glm-4.6 say so, in JSON and as text."""
    from openusage.reports import render

    writer, reader = store
    day = utc(2026, 11, 21, 12, 0)
    writer.submit_events([msg(day, 1), msg(day + 60, 2, model="glm-4.6", tokens=(12000, 400, 0, 0), cost=None),
                          msg(day + 86400, 3)]).wait(10)
    conn = reader()
    for rows in (list(data.load_rows(conn)), data.load_rows_by_local_day(conn)):
        report = build.periods(rows, "daily", ZoneInfo("UTC"))
        first, second = report["daily"]
        assert first["unpriced"] == [{"model": "glm-4.6", "tokens": 12400}] and first["cost_incomplete"] is True
        assert "unpriced" not in second and "cost_incomplete" not in second
        assert report["totals"]["unpriced"] == [{"model": "glm-4.6", "tokens": 12400}]
        glm = next(m for m in first["models"] if m["model"] == "glm-4.6")
        assert glm["cost_incomplete"] is True and glm["cost_usd"] == 0
    text, _ = render.table(report, "daily", None)
    assert "$0.01*" in text and render.unpriced_note(report) == (
        "* unpriced: glm-4.6 (12,400 tokens): costs marked * leave them out (openusage pricing MODEL)")
    # display mode shows the logged costs only, by choice: nothing is marked there
    shown = build.periods(list(data.load_rows(conn, mode="display")), "daily", ZoneInfo("UTC"))
    assert "unpriced" not in shown["totals"]
