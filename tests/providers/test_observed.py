"""A window's spend from a counter or a balance observed over time (providers/observed.py)."""
import pytest

from openusage.core.timeutil import format_rfc3339
from openusage.core.windows import local_midnight
from openusage.providers import observed

NOW = 1795348800.0  # 2026-11-22T12:00:00Z


def poll_every(state, start, end, step, value_at, balance=False):
    found = {}
    at = start
    while at <= end:
        if balance:
            found = observed.observe_balance(state, at, value_at(at))
        else:
            found = observed.observe_total(state, at, value_at(at))
        at += step
    return found


def test_rolling_windows_need_a_sample_close_before_their_start():
    state = {}
    found = poll_every(state, NOW - 4 * 86400, NOW, 300, lambda at: (at - (NOW - 4 * 86400)) / 86400)
    # $1 a day: 3d spent $3 (to within one sample interval), 7d and 30d go back before the first poll.
    assert found["3d"]["total"] == pytest.approx(3.0, abs=observed.SAMPLE_EVERY / 86400)
    assert found["1d"]["total"] == pytest.approx((NOW - local_midnight(NOW)) / 86400, abs=observed.SAMPLE_EVERY / 86400)
    assert set(found) == {"1d", "3d"}
    # one sample per SAMPLE_EVERY, not per poll
    assert len(state["spend_samples"]["times"]) == 4 * 86400 // observed.SAMPLE_EVERY + 1


def test_a_gap_in_polling_makes_the_window_unknown():
    state = {}
    observed.observe_total(state, NOW - 3 * 86400 - 7200, 1.0)  # two hours before the 3d window
    found = observed.observe_total(state, NOW, 5.0)
    assert "3d" not in found and "1d" not in found


def test_a_balance_counts_its_falls_and_not_its_top_ups():
    state = {}
    midnight = local_midnight(NOW)
    for at, balance in ((midnight - 600, 20.0), (midnight + 600, 18.0), (midnight + 1200, 50.0),
                        (NOW, 47.5)):
        found = observed.observe_balance(state, at, balance)
    assert found["1d"] == {"total": 4.5, "start": format_rfc3339(midnight - 600)}
    assert state["balance_spent"] == 4.5


def test_a_counter_that_goes_back_forgets_its_past():
    state = {}
    observed.observe_total(state, NOW - 86400 * 2, 9.0)
    found = observed.observe_total(state, NOW, 3.0)
    assert found == {} and state["spend_samples"] == {"times": [NOW], "totals": [3.0]}


def test_samples_older_than_a_month_are_dropped():
    state = {"spend_samples": {"times": [NOW - 40 * 86400, NOW - 86400], "totals": [1.0, 2.0]}}
    observed.observe_total(state, NOW, 3.0)
    assert state["spend_samples"]["times"] == [NOW - 86400, NOW]
