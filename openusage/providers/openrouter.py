"""OpenRouter: the key's limit and usage, the account's credits, and per-model activity.

{"id": "openrouter", "provider": "openrouter", "api_key_env": "OPENROUTER_API_KEY",
 "management_key_env": "OPENROUTER_MANAGEMENT_KEY", "activity": true, "timeout_seconds": 20}

- `GET /key` (any key): `data` {`label`, `limit` (null = unlimited), `limit_remaining`, `limit_reset`
  (`daily`/`weekly`/`monthly`/null), `usage`, `usage_daily`, `usage_weekly`, `usage_monthly`, `byok_usage*`,
  `is_free_tier`, `expires_at`, `rate_limit` {`requests`, `interval`} (deprecated)}. Amounts are USD.
- `GET /credits`: `data` {`total_credits`, `total_usage`} (account-wide, USD).
- `GET /activity` (management key): `data[]` {`date`, `model`, `usage`, `requests`, `prompt_tokens`,
  `completion_tokens`, `reasoning_tokens`, ...} for the last 30 completed UTC days.
Credits and activity use the management key when one is set, else the API key; a 401/403 there is noted
in `extras`, not an error, because ordinary keys may not read them.
Periods: `spend.lifetime` is the account's `total_usage` (else the key's `usage`), `spend.cycle` the key's
`usage_monthly` (UTC month to date), `models` the activity's completed UTC days. The window's spend is
derived from `total_usage` observed over time (providers/observed.py); for `all` it is `total_usage`.
Docs: openrouter.ai/docs/api/api-reference/api-keys/get-current-api-key, .../credits/get-credits,
.../analytics/get-user-activity.
"""
from __future__ import annotations

import calendar
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from openusage.core.snapshot import Balance, DailyPoint, ModelUsage, Period, Spend, SpendLimits, UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.providers import api_support as api
from openusage.providers import observed
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, ProviderError
from openusage.providers.http_common import api_key, base_url, number
from openusage.providers.ratelimit_headers import LOW_FRACTION, make_limit

PROVIDER_ID = "openrouter"
DEFAULT_BASE = "https://openrouter.ai/api/v1"
KEY_ENV = "OPENROUTER_API_KEY"
MANAGEMENT_ENV = "OPENROUTER_MANAGEMENT_KEY"


class OpenRouterProvider(Provider):
    id = PROVIDER_ID
    name = "OpenRouter"
    source_modes = ("api",)
    env_vars = (KEY_ENV, MANAGEMENT_ENV)
    default_interval = 120.0  # free, read-only endpoints
    fetch_timeout = 45.0  # several requests of up to timeout_seconds each
    widgets = {
        "gauges": ["credit_limit"],
        "figures": ["spend.total", "spend.cycle", "spend.lifetime", "spend.balance.cash"],
        "sections": ["models", "daily", "limits"],
    }

    # --- detection --------------------------------------------------------------------------

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        return api.detect_env(PROVIDER_ID, env, [KEY_ENV])

    # --- fetch ------------------------------------------------------------------------------

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        base = base_url(account, DEFAULT_BASE)
        key = api_key(ctx, account, KEY_ENV)
        manager = api.extra_key(ctx, account, "management_key_env", MANAGEMENT_ENV) or key
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "OpenRouter")
        snap.currency = "USD"
        info = api.get_object(ctx, account, f"{base}/key", api.bearer(key), "key info").get("data")
        apply_key(snap, info if isinstance(info, dict) else {}, ctx.now)
        credits = self._optional(account, ctx, f"{base}/credits", manager, "credits", snap)
        if credits is not None:
            apply_credits(snap, credits.get("data") if isinstance(credits.get("data"), dict) else {})
        if account.extra.get("activity", True):
            activity = self._optional(account, ctx, f"{base}/activity", manager, "activity", snap)
            if activity is not None:
                apply_activity(snap, activity.get("data") if isinstance(activity.get("data"), list) else [],
                               ctx.now)
        if snap.spend is not None and snap.spend.lifetime is not None:
            data = credits.get("data") if credits is not None and isinstance(credits.get("data"), dict) else {}
            account_wide = number(data.get("total_usage")) is not None
            observed.apply(snap, observed.observe_total(ctx.state, ctx.now, snap.spend.lifetime),
                           lifetime_is_all=account_wide)
        api.apply_limits_status(snap)
        status, message = credits_status(snap)
        api.raise_status(snap, status, message)
        return FetchResult(snapshot=snap)

    def _optional(self, account: AccountConfig, ctx: FetchContext, url: str, key: str, what: str,
                  snap: UsageSnapshot) -> Optional[Dict[str, Any]]:
        """A secondary endpoint: None when it fails. A refusal (ordinary keys may not read it) is only
        noted in extras; other failures keep the key's data and carry their status."""
        try:
            return api.get_object(ctx, account, url, api.bearer(key), what)
        except ProviderError as exc:
            if exc.status == "AUTH":
                snap.extras = dict(snap.extras or {}, **{f"{what}_unavailable": "needs a management key"})
            else:
                api.partial_failure(snap, exc, what)
            return None


# --- parsing (pure) -------------------------------------------------------------------------


def next_reset(period: Optional[str], now: float) -> Optional[str]:
    """When a `limit_reset` period (UTC day, ISO week from Monday, month) starts again."""
    t = time.gmtime(now)
    midnight = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0))
    if period == "daily":
        return format_rfc3339(midnight + 86400)
    if period == "weekly":
        return format_rfc3339(midnight + (7 - t.tm_wday) * 86400)
    if period == "monthly":
        year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
        return format_rfc3339(calendar.timegm((year, month, 1, 0, 0, 0)))
    return None


def apply_key(snap: UsageSnapshot, data: Dict[str, Any], now: float) -> None:
    """The key's limit (as the `credit_limit` window), its usage and flags."""
    limit = number(data.get("limit"))
    usage = number(data.get("usage"))
    spend = snap.spend or Spend()
    spend.lifetime = usage
    spend.cycle = number(data.get("usage_monthly"))
    if usage is not None:
        snap.set_period("spend.lifetime", Period(kind="lifetime"))
    if spend.cycle is not None:
        snap.set_period("spend.cycle", api.month_to_date(now))
    if limit is not None:
        spend.limits = SpendLimits(hard=limit)
        remaining = number(data.get("limit_remaining"))
        window = make_limit(limit=limit, remaining=remaining,
                            used=None if remaining is not None else usage,
                            resets_at=next_reset(data.get("limit_reset"), now))
        if window is not None:
            snap.rate_limits = dict(snap.rate_limits or {}, credit_limit=window)
    snap.spend = spend
    extras = dict(snap.extras or {})
    for name in ("label", "is_free_tier", "usage_daily", "usage_weekly", "usage_monthly", "byok_usage",
                 "limit_remaining", "limit_reset", "expires_at", "is_management_key", "is_provisioning_key"):
        if data.get(name) is not None:
            extras[name] = data[name]
    rate = data.get("rate_limit")
    if isinstance(rate, dict) and rate.get("requests") is not None:
        extras["rate_limit"] = f"{rate.get('requests')} requests / {rate.get('interval')}"
    snap.extras = extras or None


def apply_credits(snap: UsageSnapshot, data: Dict[str, Any]) -> None:
    """Account credits: the balance is what was bought minus what was used."""
    bought = number(data.get("total_credits"))
    used = number(data.get("total_usage"))
    spend = snap.spend or Spend()
    if used is not None:
        spend.lifetime = used  # account-wide beats the one key's usage
        snap.set_period("spend.lifetime", Period(kind="lifetime"))
    if bought is not None and used is not None:
        spend.balance = Balance(cash=round(bought - used, 6))
    snap.spend = spend
    if bought is not None:
        snap.extras = dict(snap.extras or {}, total_credits=bought)


def credits_status(snap: UsageSnapshot) -> Tuple[str, Optional[str]]:
    """LIMIT when bought credits are used up, WARN when at most 20 % of them are left."""
    bought = number((snap.extras or {}).get("total_credits"))
    left = snap.spend.balance.cash if snap.spend and snap.spend.balance else None
    if not bought or left is None:
        return "OK", None
    if left <= 0:
        return "LIMIT", "credits used up"
    if left <= LOW_FRACTION * bought:
        return "WARN", f"credits {round(100 * left / bought)}% left"
    return "OK", None


def parse_activity(items: Iterable[Any]) -> Tuple[List[ModelUsage], List[DailyPoint]]:
    """Per-model totals and per-day points of /activity rows (one row per day, model and endpoint)."""
    models: Dict[str, ModelUsage] = {}
    daily: Dict[str, DailyPoint] = {}
    for row in items:
        if not isinstance(row, dict):
            continue
        name = str(row.get("model") or row.get("model_permaslug") or "unknown")
        prompt = api.as_int(row.get("prompt_tokens")) or 0
        completion = api.as_int(row.get("completion_tokens")) or 0
        requests = api.as_int(row.get("requests")) or 0
        cost = number(row.get("usage")) or 0.0
        m = models.setdefault(name, ModelUsage(model=name, input=0, output=0, reasoning=0, requests=0, cost=0.0))
        m.input += prompt
        m.output += completion
        m.reasoning += api.as_int(row.get("reasoning_tokens")) or 0
        m.requests += requests
        m.cost = round(m.cost + cost, 6)
        date = str(row.get("date") or "")[:10]
        if date:
            day = daily.setdefault(date, DailyPoint(date=date, cost=0.0, tokens=0, requests=0))
            day.cost = round(day.cost + cost, 6)
            day.tokens += prompt + completion
            day.requests += requests
    ordered = sorted(models.values(), key=lambda m: (-(m.cost or 0), -m.total_tokens(), m.model))
    return ordered, [daily[d] for d in sorted(daily)]


def apply_activity(snap: UsageSnapshot, items: Iterable[Any], now: Optional[float] = None) -> None:
    """Per-model totals and daily points of the last 30 completed UTC days (today is not in them, so the
    series is no ground for a window's spend)."""
    models, daily = parse_activity(items)
    if models:
        snap.models = models
        if now is not None:
            t = time.gmtime(now)
            today = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0))
            snap.set_period("models", Period(kind="days", start=format_rfc3339(today - 30 * 86400),
                                             end=format_rfc3339(today)))
    if daily:
        snap.daily = daily
