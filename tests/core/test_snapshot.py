import json

import pytest

from openusage.core.snapshot import (
    Breakdown,
    DailyPoint,
    ModelUsage,
    RateLimit,
    Spend,
    SpendLimits,
    Tokens,
    UsageSnapshot,
)


def full_snapshot():
    return UsageSnapshot(
        provider_id="openai",
        account_id="work",
        display_name="OpenAI (work)",
        timestamp="2026-11-22T10:00:00.000Z",
        status="WARN",
        message="84% of the weekly limit",
        currency="CNY",
        spend=Spend(total=12.5, cycle=3.25, limits=SpendLimits(hard=100.0, plan_included=20.0)),
        tokens=Tokens(input=10, output=20, cache_read=30, cache_write=40, reasoning=5, total=100),
        tool_calls=7,
        rate_limits={"5h": RateLimit(used_percent=84.0, resets_at="2026-11-22T12:00:00.000Z"),
                     "rpm": RateLimit(limit=60, remaining=15)},
        models=[ModelUsage(model="gpt-5", input=10, output=20, requests=3, cost=1.5)],
        daily=[DailyPoint(date="2026-11-21", cost=1.0, tokens=50, requests=2)],
        tools=[Breakdown(name="Bash", calls=4)],
        sessions=[Breakdown(name="s1", tokens=100, project="app", first_at="2026-11-21T10:00:00.000Z")],
        extras={"plan": "pro", "nested": {"a": [1, 2]}},
    )


def test_json_round_trip_is_exact():
    snap = full_snapshot()
    data = json.loads(json.dumps(snap.to_dict()))
    again = UsageSnapshot.from_dict(data)
    assert again == snap
    assert again.to_dict() == data


def test_missing_data_is_absent_not_zero():
    data = UsageSnapshot(provider_id="p", account_id="a", tokens=Tokens(input=5)).to_dict()
    assert data == {"provider_id": "p", "account_id": "a", "tokens": {"input": 5}}


def test_identity_required_and_status_checked():
    with pytest.raises(ValueError, match="provider_id"):
        UsageSnapshot.from_dict({"account_id": "a"})
    with pytest.raises(ValueError, match="status"):
        UsageSnapshot.from_dict({"provider_id": "p", "account_id": "a", "status": "FINE"})
    with pytest.raises(ValueError, match="models"):
        UsageSnapshot.from_dict({"provider_id": "p", "account_id": "a", "models": {"x": 1}})


def test_tokens_total_and_rate_limit_fraction():
    assert Tokens(input=1, output=2, cache_read=3, cache_write=4, reasoning=2).with_total().total == 10
    assert Tokens().with_total().total is None
    assert RateLimit(limit=60, remaining=15).fraction_used() == 0.75
    assert RateLimit(used_percent=50).fraction_used() == 0.5
    assert RateLimit().fraction_used() is None
    assert full_snapshot().worst_rate_limit() == 0.84


def test_periods_round_trip_and_an_unknown_kind_is_refused():
    from openusage.core.snapshot import Period, Unpriced, figure_period, period_label, window_spend

    snap = UsageSnapshot(provider_id="p", account_id="a", spend=Spend(total=4.0, cycle=9.0, lifetime=30.0,
                                                                      incomplete=True),
                         unpriced=[Unpriced(model="glm-4.6", tokens=12400)])
    snap.set_period("spend.cycle", Period(kind="cycle", start="2026-11-05T00:00:00.000Z",
                                          end="2026-12-05T00:00:00.000Z"))
    snap.set_period("spend.lifetime", Period(kind="lifetime"))
    data = json.loads(json.dumps(snap.to_dict()))
    assert UsageSnapshot.from_dict(data) == snap
    assert data["periods"]["spend.cycle"] == {"kind": "cycle", "start": "2026-11-05T00:00:00.000Z",
                                              "end": "2026-12-05T00:00:00.000Z"}
    assert period_label(figure_period(data, "spend.cycle")) == "cycle 2026-11-05 to 2026-12-05"
    assert period_label(figure_period(data, "spend.total")) == "window" and window_spend(data) == 4.0
    snap.set_period("spend.total", Period(kind="days", start="2026-11-19T00:00:00.000Z"))
    assert snap.window_spend() is None and window_spend(snap.to_dict()) is None
    assert snap.period_of("spend.total").label() == "since 2026-11-19 (UTC days)"
    snap.set_period("spend.total", None)
    assert "spend.total" not in snap.periods
    with pytest.raises(ValueError, match="snapshot.periods.tokens.kind: unknown period 'weekly'"):
        UsageSnapshot.from_dict({"provider_id": "p", "account_id": "a", "periods": {"tokens": {"kind": "weekly"}}})
