"""RFC 3339 parsing: the fast path for agents' UTC form agrees with datetime on valid and invalid input."""
import random
from datetime import datetime, timezone

from openusage.core.timeutil import format_rfc3339, parse_rfc3339


def by_datetime(text):
    try:
        dt = datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    frac = text[19:-1]
    return dt.timestamp() + (float(frac) if frac else 0.0)


def test_utc_form_equals_datetime_on_random_and_impossible_dates():
    rnd = random.Random(7)
    for _ in range(20000):
        y, mo, d = rnd.randint(1990, 2100), rnd.randint(0, 13), rnd.randint(0, 32)
        h, mi, s = rnd.randint(0, 25), rnd.randint(0, 61), rnd.randint(0, 61)
        frac = rnd.choice(["", ".5", f".{rnd.randint(0, 999):03d}", f".{rnd.randint(0, 999999):06d}"])
        text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}Z"
        assert parse_rfc3339(text) == by_datetime(text), text


def test_other_forms_still_parse():
    assert parse_rfc3339("2026-11-09T01:47:03.044Z") == 1794188823.044
    assert parse_rfc3339("2026-11-09T07:32:03.044+05:45") == 1794188823.044
    assert parse_rfc3339(" 2026-11-09t01:47:03Z ") == 1794188823.0
    assert parse_rfc3339("2026-02-30T00:00:00Z") is None
    assert parse_rfc3339("yesterday") is None and parse_rfc3339(None) is None
    assert parse_rfc3339(format_rfc3339(1794188823.044)) == 1794188823.044


def test_a_second_seen_before_checks_its_fraction_as_the_full_parse_does():
    from openusage.core import timeutil

    base = "2026-11-09T01:47:03"
    rest = [":47:03" + frac for frac in ("", ".5", ".044", ".123456789", ".", ".x", "x", ".4-4", ". 5", ".\u0662",
                                         "+0", "5", ".5_0")]
    rest += [":59:59", ":60:00", ":00:60", ":4x:03", ":\u0664\u0667:03", "x47:03", ":47x03", ": 4:03", ":47: 3",
             ":-1:03", ":+1:03", ":47:03.5.5", ":07:03"]
    for tail in rest:
        text = "2026-11-09T01" + tail + "Z"
        timeutil._HOURS.clear()
        uncached = parse_rfc3339(text)
        parse_rfc3339(base + ".044Z")  # the hour is remembered now
        assert "2026-11-09T01:" in timeutil._HOURS
        assert parse_rfc3339(text) == uncached, text
    assert parse_rfc3339(base + ".x5Z") is None and parse_rfc3339(base + "xZ") is None
    assert parse_rfc3339(base + ".044+01:00") == 1794188823.044 - 3600
