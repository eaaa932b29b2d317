import random
from collections import defaultdict

import pytest

from openusage.core.events import UsageEvent
from openusage.core.snapshot import Balance, RateLimit, Spend, UsageSnapshot
from openusage.core.windows import local_date, window_start
from openusage.store import readmodel, retention

NOW = 1_795_300_000.0  # 2026-11-21T23:06:40Z


def make_events(seed=7, days=40, count=3000):
    rnd = random.Random(seed)
    events = []
    for i in range(count):
        at = NOW - rnd.uniform(0, days * 86400)
        model = rnd.choice(["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"])
        events.append(UsageEvent(
            source="claude_code", provider_id="claude_code", account_id="claude_code",
            event_type="message_usage", occurred_at=at, message_id=f"m{i}", model=model,
            input_tokens=rnd.randint(1, 5000), output_tokens=rnd.randint(1, 3000),
            cache_read_tokens=rnd.randint(0, 90000), cache_write_tokens=rnd.randint(0, 4000),
            cost_usd=round(rnd.uniform(0, 0.5), 6), requests=1,
            session_id=f"s{i % 40}", project=rnd.choice(["web", "api", "cli"]),
        ))
        if i % 3 == 0:
            events.append(UsageEvent(
                source="claude_code", provider_id="claude_code", account_id="claude_code",
                event_type="tool_usage", occurred_at=at + 1, tool_call_id=f"t{i}",
                tool_name=rnd.choice(["Bash", "Edit", "mcp__github__search"]), session_id=f"s{i % 40}",
                project="web"))
    return events


def brute_force(events, window, now):
    start = window_start(window, now)
    inside = [e for e in events if start is None or e.occurred_at >= start]
    models = defaultdict(lambda: [0, 0, 0, 0, 0.0, 0])
    days = defaultdict(lambda: [0.0, 0])
    tools = defaultdict(int)
    for e in inside:
        if e.event_type == "tool_usage":
            tools[e.tool_name] += 1
            continue
        m = models[e.model]
        m[0] += e.input_tokens
        m[1] += e.output_tokens
        m[2] += e.cache_read_tokens
        m[3] += e.cache_write_tokens
        m[4] += e.cost_usd
        m[5] += 1
        d = days[local_date(e.occurred_at)]
        d[0] += e.cost_usd
        d[1] += e.total_tokens()
    return models, days, tools


@pytest.mark.parametrize("tz", ["Asia/Kathmandu", "America/St_Johns", "Europe/Berlin", "UTC"])
@pytest.mark.parametrize("window", ["1d", "3d", "7d", "30d", "all"])
def test_window_aggregates_equal_a_brute_force_sum(store, zone, tz, window):
    zone(tz)
    writer, reader = store
    events = make_events()
    writer.submit_events(events).wait(30)
    model = readmodel.build(reader(), window, now=NOW)
    snap = model["snapshots"]["claude_code"]
    want_models, want_days, want_tools = brute_force(events, window, NOW)
    got_models = {m["model"]: m for m in snap.get("models", [])}
    assert set(got_models) == set(want_models)
    for name, (i, o, cr, cw, cost, req) in want_models.items():
        g = got_models[name]
        assert (g["input"], g["output"], g["cache_read"], g["cache_write"], g["requests"]) == (i, o, cr, cw, req)
        assert g["cost"] == pytest.approx(cost, abs=1e-5)
    got_days = {d["date"]: d for d in snap.get("daily", [])}
    assert set(got_days) == set(want_days)
    for day, (cost, tokens) in want_days.items():
        assert got_days[day]["tokens"] == tokens
        assert got_days[day]["cost"] == pytest.approx(cost, abs=1e-5)
    assert {t["name"]: t["calls"] for t in snap.get("tools", [])} == dict(want_tools)
    assert snap["tool_calls"] == sum(want_tools.values())
    total = sum(v[0] + v[1] + v[2] + v[3] for v in want_models.values())
    assert snap["tokens"]["total"] == total
    assert snap["spend"]["total"] == pytest.approx(sum(v[4] for v in want_models.values()), abs=1e-5)


def test_live_values_come_from_the_latest_snapshot_whatever_the_window(store):
    writer, reader = store
    snap = UsageSnapshot(provider_id="openrouter", account_id="or", status="WARN", message="low balance",
                         currency="USD", spend=Spend(balance=Balance(cash=3.5)),
                         rate_limits={"rpm": RateLimit(limit=60, remaining=2)})
    writer.submit_snapshot(snap).wait(10)
    for window in ("1d", "all"):
        got = readmodel.build(reader(), window, now=NOW)["snapshots"]["or"]
        assert got["status"] == "WARN"
        assert got["spend"]["balance"] == {"cash": 3.5}
        assert got["rate_limits"]["rpm"] == {"limit": 60, "remaining": 2}
        assert "tokens" not in got  # no events: absent, not zero


def test_configured_account_without_data_is_shown(store):
    writer, reader = store
    refs = [readmodel.AccountRef("openai", "work", "OpenAI (work)")]
    got = readmodel.build(reader(), "7d", now=NOW, accounts=refs)["snapshots"]["work"]
    assert got == {"provider_id": "openai", "account_id": "work", "display_name": "OpenAI (work)",
                   "status": "UNKNOWN", "message": "no data yet"}


def test_sessions_carry_project_and_times(store):
    writer, reader = store
    writer.submit_events(make_events(count=200)).wait(30)
    snap = readmodel.build(reader(), "all", now=NOW)["snapshots"]["claude_code"]
    session = snap["sessions"][0]
    assert session["project"] in ("web", "api", "cli")
    assert session["first_at"] <= session["last_at"]


def test_retention_prunes_events_but_keeps_totals(store):
    writer, reader = store
    writer.submit_events(make_events(days=90, count=2000)).wait(30)
    before = readmodel.build(reader(), "all", now=NOW)["snapshots"]["claude_code"]
    pruned = writer.submit_call(lambda conn: retention.prune(conn, 30, now=NOW)).wait(30)
    assert pruned > 0
    conn = reader()
    oldest = conn.execute("SELECT MIN(occurred_at) FROM event_detail").fetchone()[0]
    assert oldest >= NOW - 31 * 86400
    after = readmodel.build(conn, "all", now=NOW)["snapshots"]["claude_code"]
    assert after["tokens"] == before["tokens"]
    assert after["daily"] == before["daily"]
    # The 30d window still has its raw edge events, so it stays exact after pruning.
    assert readmodel.build(conn, "30d", now=NOW)["snapshots"]["claude_code"]["tokens"]["total"] > 0
