from datetime import datetime, timezone

import pytest

from openusage.core.windows import (
    WindowError,
    local_date,
    local_midnight,
    next_local_midnight,
    window_start,
)


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    "name, now, expected_midnight_utc",
    [
        # Nepal is UTC+05:45: local midnight of 2026-11-22 is 2026-11-21 18:15 UTC.
        ("Asia/Kathmandu", utc(2026, 11, 22, 3, 0), utc(2026, 11, 21, 18, 15)),
        # Before 18:15 UTC it is still the 21st locally.
        ("Asia/Kathmandu", utc(2026, 11, 21, 18, 0), utc(2026, 11, 20, 18, 15)),
        # India UTC+05:30
        ("Asia/Kolkata", utc(2026, 11, 22, 0, 0), utc(2026, 11, 21, 18, 30)),
        # Newfoundland UTC-03:30 in November
        ("America/St_Johns", utc(2026, 11, 22, 12, 0), utc(2026, 11, 22, 3, 30)),
        # Chatham Islands UTC+13:45 in (southern) summer
        ("Pacific/Chatham", utc(2026, 11, 22, 12, 0), utc(2026, 11, 22, 10, 15)),
    ],
)
def test_one_day_window_starts_at_local_midnight(zone, name, now, expected_midnight_utc):
    zone(name)
    assert local_midnight(now) == expected_midnight_utc
    assert window_start("1d", now) == expected_midnight_utc


def test_dst_day_lengths(zone):
    zone("Europe/Berlin")
    # 2026-03-29 has 23 hours, 2026-10-25 has 25.
    spring = local_midnight(utc(2026, 3, 29, 12, 0))
    assert next_local_midnight(spring) - spring == 23 * 3600
    autumn = local_midnight(utc(2026, 10, 25, 12, 0))
    assert next_local_midnight(autumn) - autumn == 25 * 3600


def test_rolling_windows_and_all():
    now = 1_800_000_000.0
    assert window_start("3d", now) == now - 3 * 86400
    assert window_start("30d", now) == now - 30 * 86400
    assert window_start("all", now) is None
    with pytest.raises(WindowError):
        window_start("2w", now)


def test_local_date_follows_zone(zone):
    zone("Asia/Kathmandu")
    assert local_date(utc(2026, 11, 21, 18, 14)) == "2026-11-21"
    assert local_date(utc(2026, 11, 21, 18, 15)) == "2026-11-22"


def test_local_zone_name_from_tz_and_localtime(tmp_path):
    from openusage.core.windows import local_zone_name

    assert local_zone_name({"TZ": "Europe/Berlin"}) == "Europe/Berlin"
    assert local_zone_name({"TZ": ":Asia/Kathmandu"}) == "Asia/Kathmandu"
    assert local_zone_name({"TZ": "/usr/share/zoneinfo/America/St_Johns"}) == "America/St_Johns"
    assert local_zone_name({"TZ": "Etc/UTC"}) == local_zone_name({"TZ": "Zulu"}) == "UTC"
    assert local_zone_name({"TZ": ""}) == "UTC"
    assert local_zone_name({"TZ": "Etc/GMT+5"}) == "Etc/GMT+5"
    assert local_zone_name({"TZ": "CET-1CEST,M3.5.0,M10.5.0/3"}) is None  # a POSIX rule, no name
    assert local_zone_name({"TZ": "EST5EDT"}) is None
    assert local_zone_name({"TZ": "/opt/zones/mine"}) is None
    zoneinfo = tmp_path / "usr" / "share" / "zoneinfo" / "Asia"
    zoneinfo.mkdir(parents=True)
    (zoneinfo / "Tokyo").write_bytes(b"TZif")
    link = tmp_path / "localtime"
    link.symlink_to(zoneinfo / "Tokyo")
    assert local_zone_name({}, str(link)) == "Asia/Tokyo"
    copy = tmp_path / "copied"
    copy.write_bytes(b"TZif")
    assert local_zone_name({}, str(copy)) is None  # a copied file names no zone


def test_is_local_zone(zone):
    from zoneinfo import ZoneInfo

    from openusage.core.windows import is_local_zone

    zone("Asia/Kathmandu")
    assert is_local_zone(None)
    assert is_local_zone(ZoneInfo("Asia/Kathmandu"))
    assert not is_local_zone(ZoneInfo("Asia/Katmandu"))  # an alias: other name, so not known equal
    assert not is_local_zone(ZoneInfo("UTC"))
    zone("UTC")
    assert is_local_zone(ZoneInfo("Etc/UTC"))
