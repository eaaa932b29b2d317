"""Every figure says what it covers; a model without a price is never silently $0 (issue 13, items 4-5)."""
from openusage.core.events import UsageEvent
from openusage.core.snapshot import DailyPoint, Period, Spend, UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.core.windows import window_start
from openusage.store import readmodel

NOW = 1_795_348_800.0  # 2026-11-22T12:00:00Z


def api_snapshot(**window_spend):
    snap = UsageSnapshot(provider_id="openai", account_id="org", status="OK", currency="USD",
                         spend=Spend(cycle=9.0),
                         daily=[DailyPoint(date=d, cost=c) for d, c in
                                (("2026-11-10", 5.0), ("2026-11-20", 1.0), ("2026-11-21", 2.0), ("2026-11-22", 1.0))])
    snap.set_period("spend.cycle", Period(kind="month_to_date", start="2026-11-01T00:00:00.000Z"))
    snap.set_period("daily", Period(kind="days", start="2026-10-23T00:00:00.000Z"))
    if window_spend:
        snap.extras = {"window_spend": window_spend}
    return snap


def test_window_spend_from_observations_then_from_utc_days_never_the_cycle(store, zone):
    zone("UTC")
    writer, reader = store
    start_1d = window_start("1d", NOW)
    writer.submit_snapshot(api_snapshot(**{"1d": {"total": 0.75, "start": format_rfc3339(start_1d - 300)}})).wait(10)
    got = {w: readmodel.build(reader(), w, now=NOW)["snapshots"]["org"] for w in ("1d", "3d", "all")}
    # 1d: observed over time, the window's own (no period); the helper's plumbing does not leak out.
    assert got["1d"]["spend"]["total"] == 0.75 and "spend.total" not in got["1d"]["periods"]
    assert "extras" not in got["1d"]
    # 3d: whole UTC days from the window's first day, labelled so.
    assert got["3d"]["spend"]["total"] == 4.0
    assert got["3d"]["periods"]["spend.total"] == {"kind": "days", "start": "2026-11-19T00:00:00.000Z"}
    # all: the daily series does not reach back that far: unknown, and the cycle keeps its own label.
    assert "total" not in got["all"]["spend"] and got["all"]["spend"]["cycle"] == 9.0
    assert got["all"]["periods"]["spend.cycle"]["kind"] == "month_to_date"


def test_an_observation_too_far_before_the_window_is_not_used(store, zone):
    zone("UTC")
    writer, reader = store
    stale = {"total": 3.0, "start": format_rfc3339(window_start("1d", NOW) - 2 * 86400)}
    writer.submit_snapshot(api_snapshot(**{"1d": stale})).wait(10)
    got = readmodel.build(reader(), "1d", now=NOW)["snapshots"]["org"]
    assert got["spend"]["total"] == 1.0 and got["periods"]["spend.total"]["kind"] == "days"


def test_a_balance_only_account_has_no_window_spend_until_observed(store):
    writer, reader = store
    writer.submit_snapshot(UsageSnapshot(provider_id="deepseek", account_id="ds", status="OK",
                                         spend=Spend(balance=None))).wait(10)
    got = readmodel.build(reader(), "7d", now=NOW)["snapshots"]["ds"]
    assert "total" not in got.get("spend", {})


def event(i, model, cost, at=NOW - 3600, tokens=1000):
    return UsageEvent(source="opencode", provider_id="opencode", account_id="opencode", event_type="message_usage",
                      occurred_at=at, message_id=f"m{i}", model=model, input_tokens=tokens, output_tokens=240,
                      cost_usd=cost, requests=1)


def test_unpriced_models_are_named_and_the_cost_marked_incomplete(store):
    writer, reader = store
    writer.submit_events([event(1, "glm-4.6", None, tokens=12160), event(2, "claude-sonnet-4-5", 0.5),
                          event(3, "<synthetic>", None)]).wait(10)
    got = readmodel.build(reader(), "7d", now=NOW)["snapshots"]["opencode"]
    assert got["unpriced"] == [{"model": "glm-4.6", "tokens": 12400}]
    assert got["spend"] == {"total": 0.5, "incomplete": True}
    models = {m["model"]: m for m in got["models"]}
    assert "cost" not in models["glm-4.6"] and models["claude-sonnet-4-5"]["cost"] == 0.5
    assert models["<synthetic>"]["cost"] == 0.0  # free, not unpriced
    assert got["daily"][-1]["unpriced_tokens"] == 12400


def test_priced_usage_is_complete(store):
    writer, reader = store
    writer.submit_events([event(1, "claude-sonnet-4-5", 0.5)]).wait(10)
    got = readmodel.build(reader(), "7d", now=NOW)["snapshots"]["opencode"]
    assert "unpriced" not in got and "incomplete" not in got["spend"]
