"""RFC 3339 parsing and formatting, stdlib only (used on the hook path too)."""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Dict, Optional, Union

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$"
)


# The form agents write ("2026-11-09T01:47:03.044Z"), parsed without datetime: log scans see it
# on every line. Midnights are cached per date; the sum is the same float the general path gives.
_UTC_FORM = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z\Z")
_MIDNIGHTS: Dict[str, Optional[int]] = {}
_HOURS: Dict[str, int] = {}  # "YYYY-MM-DDTHH:" of valid UTC timestamps -> epoch of that hour


def _utc_midnight(date: str) -> Optional[int]:
    found = _MIDNIGHTS.get(date, -1)
    if found != -1:
        return found
    try:
        epoch: Optional[int] = int(datetime(int(date[:4]), int(date[5:7]), int(date[8:10]),
                                            tzinfo=timezone.utc).timestamp())
    except ValueError:
        epoch = None
    if len(_MIDNIGHTS) > 20_000:
        _MIDNIGHTS.clear()
    _MIDNIGHTS[date] = epoch
    return epoch


def parse_rfc3339(text: str) -> Optional[float]:
    """Epoch seconds for an RFC 3339 timestamp, or None when it does not parse."""
    if not isinstance(text, str):
        return None
    if len(text) >= 20 and text[-1] == "Z":
        # Log lines come many an hour: an hour seen before ("2026-11-22T06:") is looked up, and only
        # the minutes, seconds and fraction (":09:52.565", ASCII digits) are checked and read here.
        hour_at = _HOURS.get(text[:14])
        if hour_at is not None:
            mi, sec, frac = text[14:16], text[17:19], text[19:-1]
            if (text[16] == ":" and mi < "60" and sec < "60" and mi.isdigit() and sec.isdigit() and mi.isascii()
                    and sec.isascii() and (not frac or (frac[0] == "." and frac[1:].isdigit() and frac.isascii()))):
                whole = float(hour_at + int(mi) * 60 + int(sec))
                return whole + float(frac) if frac else whole
    fast = _UTC_FORM.match(text)
    if fast is not None:
        date, hour, minute, second, frac = fast.groups()
        midnight = _utc_midnight(date)
        h, mi, sec = int(hour), int(minute), int(second)
        if midnight is None or h > 23 or mi > 59 or sec > 59:
            return None
        if text.isascii():
            if len(_HOURS) >= 50_000:
                _HOURS.clear()
            _HOURS[text[:14]] = midnight + h * 3600
        whole = float(midnight + h * 3600 + mi * 60 + sec)
        return whole + float(frac) if frac else whole
    m = _RFC3339.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    if zone in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        from datetime import timedelta

        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz)
    except ValueError:
        return None
    return dt.timestamp() + (float(frac) if frac else 0.0)


def to_epoch(value: Union[str, int, float, None]) -> Optional[float]:
    """Epoch seconds from an RFC 3339 string, epoch seconds or epoch milliseconds."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) / 1000.0 if value > 1e11 else float(value)
    return parse_rfc3339(value)


def format_rfc3339(epoch: float) -> str:
    """UTC RFC 3339 with milliseconds, e.g. 2026-11-22T10:00:00.000Z."""
    dt = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def now_rfc3339() -> str:
    return format_rfc3339(time.time())
