"""The pace projection: rate over the current window and when it reaches 100 %."""
from openusage.core import pace
from openusage.core.timeutil import format_rfc3339

T = 1795348800.0
H = 3600.0


def test_rate_from_the_window_start_when_the_length_is_known():
    resets = T + 3 * H  # a 5h window that began 2h ago
    got = pace.project([(T, 40.0)], resets, 5 * H)
    assert got == {"rate_percent_per_hour": 20.0, "exhausts_at": format_rfc3339(T + 3 * H), "before_reset": False}
    got = pace.project([(T, 50.0)], resets, 5 * H)
    assert got["rate_percent_per_hour"] == 25.0 and got["before_reset"] is True
    assert got["exhausts_at"] == format_rfc3339(T + 2 * H)


def test_rate_from_the_readings_when_the_length_is_unknown():
    points = [(T, 10.0), (T + H, 20.0), (T + 2 * H, 30.0)]
    got = pace.project(points, T + 10 * H)
    assert got["rate_percent_per_hour"] == 10.0 and got["exhausts_at"] == format_rfc3339(T + 9 * H)
    assert got["before_reset"] is True
    assert pace.project([(T, 10.0), (T + 30, 11.0)], None) is None  # too short to tell
    assert pace.project([], T) is None


def test_no_use_never_exhausts_and_a_full_window_is_exhausted_now():
    got = pace.project([(T, 5.0), (T + H, 5.0)], T + 2 * H)
    assert got == {"rate_percent_per_hour": 0.0, "exhausts_at": None, "before_reset": False}
    got = pace.project([(T, 90.0), (T + H, 100.0)], T + 2 * H)
    assert got["exhausts_at"] == format_rfc3339(T + H) and got["before_reset"] is True


def test_the_current_window_leaves_earlier_windows_out():
    readings = [(T - 6 * H, 80.0, T - 5 * H), (T - H, 10.0, T + 4 * H), (T, 20.0, T + 4 * H + 30)]
    assert pace.current_window(readings, T + 4 * H) == [(T - H, 10.0), (T, 20.0)]
    no_resets = [(T, 70.0, None), (T + H, 5.0, None), (T + 2 * H, 15.0, None)]
    assert pace.current_window(no_resets, None) == [(T + H, 5.0), (T + 2 * H, 15.0)]
