"""Rate-limit headers shared by the HTTP API providers, and the status a set of rate limits maps to.

Two header families exist:
- OpenAI style (OpenAI, Groq, xAI, Azure OpenAI, Mistral's compatible set):
  `x-ratelimit-limit-<kind>`, `x-ratelimit-remaining-<kind>`, `x-ratelimit-reset-<kind>`, where a reset
  is a duration (`6m0s`, `20ms`, `2m59.56s`) or a number of seconds;
- Anthropic style: `anthropic-ratelimit-<kind>-limit|remaining|reset`, where a reset is RFC 3339.
A provider maps each kind to a window name of the snapshot (`rpm`, `tpm`, `rpd`, ...).
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

from openusage.core.snapshot import RateLimit
from openusage.core.timeutil import format_rfc3339, to_epoch
from openusage.providers.http_common import number, parse_duration

LOW_FRACTION = 0.20  # a window with at most this share left makes the snapshot WARN


def parse_reset(value: Optional[str], now: float) -> Optional[str]:
    """RFC 3339 UTC reset time from a duration, a number of seconds, an RFC 3339 time or epoch seconds."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    seconds = parse_duration(text)
    if seconds is None:
        plain = number(text)
        if plain is not None:
            if plain < 0:
                return None
            # Large numbers are absolute epoch seconds (or ms); small ones are seconds from now.
            epoch = to_epoch(plain) if plain > 1e9 else now + plain
            return format_rfc3339(epoch) if epoch is not None else None
        epoch = to_epoch(text)
        return format_rfc3339(epoch) if epoch is not None else None
    return format_rfc3339(now + seconds)


def make_limit(limit: Optional[float] = None, remaining: Optional[float] = None, used: Optional[float] = None,
               used_percent: Optional[float] = None, resets_at: Optional[str] = None) -> Optional[RateLimit]:
    """A RateLimit with `used` and `used_percent` filled from whatever is known; None when nothing is."""
    if limit is not None and limit <= 0:
        limit = None  # Azure answers -1 (and 0) for "not reported"
    if remaining is not None and remaining < 0:
        remaining = None
    if used is None and limit is not None and remaining is not None:
        used = max(0.0, limit - remaining)
    if remaining is None and limit is not None and used is not None:
        remaining = max(0.0, limit - used)
    if used_percent is None and limit and used is not None:
        used_percent = round(100.0 * used / limit, 1)
    if all(v is None for v in (limit, remaining, used, used_percent)):
        return None
    return RateLimit(limit=limit, remaining=remaining, used=used, used_percent=used_percent, resets_at=resets_at)


def read_window(headers: Mapping[str, str], limit_header: str, remaining_header: str, reset_header: str,
                now: float) -> Optional[RateLimit]:
    """One window from three header names (lower-case); None when neither limit nor remaining is sent."""
    return make_limit(limit=number(headers.get(limit_header)), remaining=number(headers.get(remaining_header)),
                      resets_at=parse_reset(headers.get(reset_header), now))


def openai_style(headers: Mapping[str, str], kinds: Mapping[str, str], now: float,
                 prefix: str = "x-ratelimit") -> Dict[str, RateLimit]:
    """Windows from `<prefix>-limit-<kind>` headers; `kinds` maps a header kind to a window name."""
    out: Dict[str, RateLimit] = {}
    for kind, name in kinds.items():
        window = read_window(headers, f"{prefix}-limit-{kind}", f"{prefix}-remaining-{kind}",
                             f"{prefix}-reset-{kind}", now)
        if window is not None:
            out[name] = window
    return out


ANTHROPIC_KINDS = {"requests": "rpm", "tokens": "tpm", "input-tokens": "input_tpm", "output-tokens": "output_tpm"}


def anthropic_style(headers: Mapping[str, str], now: float,
                    kinds: Mapping[str, str] = ANTHROPIC_KINDS) -> Dict[str, RateLimit]:
    """Windows from `anthropic-ratelimit-<kind>-limit|remaining|reset` headers."""
    out: Dict[str, RateLimit] = {}
    for kind, name in kinds.items():
        base = f"anthropic-ratelimit-{kind}"
        window = read_window(headers, f"{base}-limit", f"{base}-remaining", f"{base}-reset", now)
        if window is not None:
            out[name] = window
    return out


def remaining_fraction(window: RateLimit) -> Optional[float]:
    """Share of the window left, 0..1, or None when it cannot be told."""
    used = window.fraction_used()
    if used is not None:
        return max(0.0, 1.0 - used)
    if window.remaining is not None and window.remaining <= 0:
        return 0.0
    return None


def limits_status(rate_limits: Optional[Mapping[str, RateLimit]]) -> Tuple[str, Optional[str]]:
    """LIMIT when a window is exhausted, WARN when one has at most 20 % left, else OK; with a message."""
    exhausted = []
    low = []
    for name, window in sorted((rate_limits or {}).items()):
        left = remaining_fraction(window)
        if left is None:
            continue
        if left <= 0.0:
            exhausted.append(name)
        elif left <= LOW_FRACTION:
            low.append(f"{name} {round(left * 100)}% left")
    if exhausted:
        resets = [rate_limits[n].resets_at for n in exhausted if rate_limits[n].resets_at]
        return "LIMIT", f"{', '.join(exhausted)} exhausted" + (f" until {min(resets)}" if resets else "")
    if low:
        return "WARN", ", ".join(low)
    return "OK", None
