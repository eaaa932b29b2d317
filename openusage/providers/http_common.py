"""What every HTTP provider shares: the key lookup and the mapping of HTTP answers to statuses.

Status mapping (issue contract): missing key -> AUTH naming the variable to set; 401/403 -> AUTH;
429 -> LIMIT with the reset time; timeouts, 5xx and unparsable bodies -> ERR with a short message.
"""
from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any, Optional

from openusage.core import redact
from openusage.core.timeutil import format_rfc3339, to_epoch
from openusage.providers.base import AccountConfig, FetchContext, HttpResponse, ProviderError


def api_key(ctx: FetchContext, account: AccountConfig, default_env: str) -> str:
    """The account's key from its api_key_env (or the provider's default variable); AUTH when unset."""
    name = account.api_key_env or default_env
    value = ctx.env.get(name)
    if not value:
        raise ProviderError("AUTH", f"no API key: set {name}")
    return value


def base_url(account: AccountConfig, default: str) -> str:
    return (account.base_url or default).rstrip("/")


def reset_from_headers(resp: HttpResponse, now: Optional[float] = None) -> Optional[str]:
    """RFC 3339 reset time from Retry-After or the common x-ratelimit-reset* headers."""
    now = time.time() if now is None else now
    retry = resp.headers.get("retry-after")
    if retry:
        if retry.strip().isdigit():
            return format_rfc3339(now + int(retry.strip()))
        try:
            return format_rfc3339(parsedate_to_datetime(retry).timestamp())
        except (TypeError, ValueError):
            pass
    for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset", "anthropic-ratelimit-requests-reset",
                 "x-ratelimit-reset-tokens"):
        value = resp.headers.get(name)
        if value:
            seconds = parse_duration(value)
            if seconds is not None:
                return format_rfc3339(now + seconds)
            epoch = to_epoch(value if not value.strip().isdigit() else int(value))
            if epoch is not None:
                return format_rfc3339(epoch)
    return None


def parse_duration(text: str) -> Optional[float]:
    """'1m30s', '6ms', '2h', '0.5s' -> seconds; None when it is not a duration."""
    text = text.strip()
    if not text or not text[0].isdigit():
        return None
    total = 0.0
    number = ""
    i = 0
    matched = False
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else ch
        factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}.get(unit)
        if factor is None or not number:
            return None
        total += float(number) * factor
        number = ""
        matched = True
        i += len(unit)
    if number:
        return None
    return total if matched else None


def check(resp: HttpResponse, what: str = "request") -> HttpResponse:
    """Raise the ProviderError an HTTP answer maps to; return it when it is a success."""
    if resp.status in (401, 403):
        raise ProviderError("AUTH", f"{what} refused ({resp.status}): check the API key")
    if resp.status == 429:
        resets = reset_from_headers(resp)
        raise ProviderError("LIMIT", "rate limited" + (f" until {resets}" if resets else ""), resets_at=resets)
    if resp.status >= 500:
        raise ProviderError("ERR", f"{what} failed: server error {resp.status}")
    if resp.status >= 400:
        raise ProviderError("ERR", f"{what} failed: HTTP {resp.status}{_error_detail(resp)}")
    return resp


def _error_detail(resp: HttpResponse) -> str:
    try:
        data = json.loads(resp.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(data, dict):
        err = data.get("error")
        message = err.get("message") if isinstance(err, dict) else err if isinstance(err, str) else None
        if isinstance(message, str):
            return f": {redact.clip(message, 120)}"
    return ""


def json_body(resp: HttpResponse, what: str = "response") -> Any:
    """The body as JSON; ERR when it is not."""
    try:
        return json.loads(resp.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProviderError("ERR", f"{what} is not valid JSON") from exc


def number(value: Any) -> Optional[float]:
    """A float from a JSON number or numeric string; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None
