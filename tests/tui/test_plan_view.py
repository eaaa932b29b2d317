"""The words of plan windows: pace projections, sources and ages, and the lines a tile adds."""
from openusage.core.snapshot import RateLimit, UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.tui.views import plan

T = 1795348800.0
H = 3600.0


def window(used, pace=None, resets=T + 3 * H, source="oauth", observed=T - 120):
    return RateLimit(used_percent=used, resets_at=format_rfc3339(resets) if resets else None, source=source,
                     observed_at=format_rfc3339(observed), window_seconds=18000, pace=pace)


def pace(rate, exhausts, before):
    return {"rate_percent_per_hour": rate, "exhausts_at": format_rfc3339(exhausts) if exhausts else None,
            "before_reset": before}


def test_pace_texts():
    soon = window(50.0, pace(30.0, T + 100 * 60, True))
    assert plan.pace_text(soon, T) == "at this pace: 100% in 1h40m, before the reset in 3h00m"
    assert plan.pace_text(soon, T, short=True) == "full in 1h40m, before reset"
    late = window(10.0, pace(2.0, T + 45 * H, False))
    assert plan.pace_text(late, T) == "at this pace: 100% in 1d21h, after the reset in 3h00m"
    idle = window(10.0, pace(0.0, None, False))
    assert plan.pace_text(idle, T) == "at this pace (0.0%/h): not full before the reset in 3h00m"
    assert plan.pace_text(idle, T, short=True) == "not full before reset"
    assert plan.pace_text(window(10.0, pace(5.0, T + 18 * H, False), resets=None), T) == "at this pace: 100% in 18h00m"
    assert plan.pace_text(window(100.0, pace(5.0, T, True)), T) is None  # full: the gauge says it
    assert plan.pace_text(window(10.0), T) is None  # no projection yet


def test_reading_age_and_tile_lines():
    assert plan.reading_age(window(5.0), T) == "oauth, 2m ago"
    assert plan.reading_age(RateLimit(used_percent=5.0), T) is None
    snap = UsageSnapshot(provider_id="claude_code", account_id="c", extras={"plan": "max"}, rate_limits={
        "5h": window(50.0, pace(30.0, T + 100 * 60, True)),
        "weekly": window(20.0, pace(1.0, T + 80 * H, False), source="statusline", observed=T - 3 * H),
        "rpm": RateLimit(limit=50, remaining=10)})
    assert plan.tile_lines(snap, ["5h", "weekly", "rpm"], T) == [
        ("5h full in 1h40m, before reset", "stale"), ("plan max, oauth, 2m ago; statusline, 3h00m ago", "dim")]
    calm = UsageSnapshot(provider_id="codex", account_id="c", rate_limits={"5h": window(5.0, pace(1.0, None, False))})
    assert plan.tile_lines(calm, ["5h"], T) == [("5h not full before reset", "dim"), ("oauth, 2m ago", "dim")]
    assert plan.tile_lines(UsageSnapshot(provider_id="x", account_id="y"), [], T) == []
