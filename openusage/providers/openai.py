"""OpenAI API: rate limits from a minimal probe, and the organization's usage and costs with an Admin key.

{"id": "openai", "provider": "openai", "api_key_env": "OPENAI_API_KEY", "probe_model": "gpt-4o-mini",
 "probe": "models" | "chat" | "none", "admin_key_env": "OPENAI_ADMIN_KEY", "timeout_seconds": 20}

- Probe: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` headers of the free
  `GET /models/<probe_model>` (the default, "models"; no tokens, not counted as usage). Completion calls
  carry them more reliably, so `"probe": "chat"` sends a one-token chat completion instead: a billed
  request each poll, that also shows in the organization's usage, made only when the account asks.
- Admin key (`sk-admin-...`): `GET /organization/costs` (daily cost buckets, `amount.value` in
  `amount.currency`) and `GET /organization/usage/completions?group_by=model` (daily token buckets per
  model) from the start of the current UTC month (and at least 30 whole UTC days back, for the daily series),
  following `next_page` while `has_more`. `spend.cycle`, `tokens` and `models` are month to date
  (`periods`); the daily series covers its UTC days, from which the read model derives a window's spend.
Docs: platform.openai.com/docs/guides/rate-limits, /docs/api-reference/usage, /docs/api-reference/usage/costs.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from openusage.core.snapshot import DailyPoint, ModelUsage, Spend, UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.providers import api_support as api
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, HttpResponse, Provider
from openusage.providers.http_common import base_url, json_body, number
from openusage.providers.ratelimit_headers import openai_style

PROVIDER_ID = "openai"
DEFAULT_BASE = "https://api.openai.com/v1"
KEY_ENV = "OPENAI_API_KEY"
ADMIN_ENV = "OPENAI_ADMIN_KEY"
DEFAULT_PROBE_MODEL = "gpt-4o-mini"
WINDOWS = {"requests": "rpm", "tokens": "tpm"}
PROBES = ("models",)  # the free probes; the first is the default


class OpenAIProvider(Provider):
    id = PROVIDER_ID
    name = "OpenAI API"
    source_modes = ("api",)
    env_vars = (KEY_ENV, ADMIN_ENV)
    default_interval = 300.0
    fetch_timeout = 60.0  # several requests of up to timeout_seconds each
    widgets = {
        "gauges": ["rpm", "tpm"],
        "figures": ["spend.cycle", "tokens.total"],
        "sections": ["models", "daily", "limits"],
    }

    # --- detection --------------------------------------------------------------------------

    def polling(self, account: Optional[AccountConfig] = None) -> str:
        return api.probe_polling(account, PROBES, "GET /models/<model> (headers), organization reports")

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        found = api.detect_env(PROVIDER_ID, env, [KEY_ENV])
        if not found and env.get(ADMIN_ENV):
            found = [AccountConfig(id=PROVIDER_ID, provider=PROVIDER_ID, detected_by=f"env:{ADMIN_ENV}")]
        return found

    # --- fetch ------------------------------------------------------------------------------

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        base = base_url(account, DEFAULT_BASE)
        key, admin = api.key_and_admin(ctx, account, KEY_ENV, [ADMIN_ENV], "sk-admin-")
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "OpenAI", self.polling(account))
        api.probe_and_reports(snap, key, admin, lambda k: self._probe(account, ctx, base, k, snap),
                              lambda a: self._organization(account, ctx, base, a, snap))
        return FetchResult(snapshot=snap)

    def _probe(self, account: AccountConfig, ctx: FetchContext, base: str, key: str, snap: UsageSnapshot) -> None:
        kind = api.probe_kind(account, PROBES)
        model = account.probe_model or DEFAULT_PROBE_MODEL
        if kind == "none":
            return
        if kind in api.BILLED_PROBES:
            resp = api.chat_probe(ctx, account, base, key, model, "max_completion_tokens")
        else:
            resp = api.call(ctx, account, f"{base}/models/{model}", api.bearer(key), what="model probe")
        json_body(resp, "probe answer")  # a 200 that is not JSON is a broken proxy, not a success
        apply_probe(snap, resp, ctx.now, model)

    def _organization(self, account: AccountConfig, ctx: FetchContext, base: str, admin: str,
                      snap: UsageSnapshot) -> None:
        start = api.report_start(ctx.now)
        headers = api.bearer(admin)
        costs = api.paged_objects(ctx, account, f"{base}/organization/costs",
                                  {"start_time": start, "bucket_width": "1d", "limit": 31}, headers,
                                  "organization costs")
        usage = api.paged_objects(ctx, account, f"{base}/organization/usage/completions",
                                  {"start_time": start, "bucket_width": "1d", "group_by": "model", "limit": 31},
                                  headers, "organization usage")
        month = api.month_start(ctx.now)
        apply_organization(snap, parse_costs(costs), parse_completions(usage, api.utc_date(month)),
                           format_rfc3339(month), ctx.now, start)


# --- parsing (pure) -------------------------------------------------------------------------


def apply_probe(snap: UsageSnapshot, resp: HttpResponse, now: float, model: str) -> None:
    """Rate limits from the probe's headers, plus what the probe tells about the account."""
    facts = {"probe_model": model}
    for header, name in (("openai-organization", "organization"), ("openai-project", "project")):
        if resp.headers.get(header):
            facts[name] = resp.headers[header]
    api.apply_probe_limits(snap, openai_style(resp.headers, WINDOWS, now), **facts)


def _bucket_date(bucket: Dict[str, Any]) -> str:
    """A bucket's UTC date from its `start_time` (epoch seconds)."""
    start = number(bucket.get("start_time"))
    return api.utc_date(start) if start is not None else ""


def parse_costs(pages: Iterable[Dict[str, Any]]) -> Tuple[Optional[float], Optional[str], Dict[str, float]]:
    """(total, currency, cost per UTC date) of /organization/costs pages."""
    total: Optional[float] = None
    currency: Optional[str] = None
    daily: Dict[str, float] = {}
    for date, result in api.bucket_results(pages, _bucket_date):
        amount = result.get("amount") if isinstance(result.get("amount"), dict) else {}
        value = number(amount.get("value"))
        if value is None:
            continue
        total = (total or 0.0) + value
        currency = currency or (str(amount["currency"]).upper() if amount.get("currency") else None)
        if date:
            daily[date] = daily.get(date, 0.0) + value
    return total, currency, daily


def completion_tokens(result: Dict[str, Any]) -> Tuple[int, int, int, int]:
    """(fresh input, cache read, cache write, output) of one usage result.

    `input_tokens` includes cached and cache-write tokens; `input_uncached_tokens` (newer) is the fresh part.
    """
    total_in = api.as_int(result.get("input_tokens")) or 0
    cached = api.as_int(result.get("input_cached_tokens")) or 0
    writes = (api.as_int(result.get("input_cache_write_tokens")) or 0) + (
        api.as_int(result.get("input_cache_write_12h_tokens")) or 0)
    fresh = api.as_int(result.get("input_uncached_tokens"))
    if fresh is None:
        fresh = max(0, total_in - cached - writes)
    return fresh, cached, writes, api.as_int(result.get("output_tokens")) or 0


def parse_completions(pages: Iterable[Dict[str, Any]],
                      since: str = "") -> Tuple[List[ModelUsage], Dict[str, DailyPoint]]:
    """Per-model totals (of the buckets from UTC date `since` on) and per-day tokens/requests of
    /organization/usage/completions pages."""
    models: Dict[str, ModelUsage] = {}
    daily: Dict[str, DailyPoint] = {}
    for date, result in api.bucket_results(pages, _bucket_date):
        fresh, cached, writes, output = completion_tokens(result)
        requests = api.as_int(result.get("num_model_requests")) or 0
        name = str(result.get("model") or "unknown")
        if date >= since:
            m = models.setdefault(name, ModelUsage(model=name, input=0, output=0, cache_read=0, cache_write=0,
                                                   requests=0))
            m.input += fresh
            m.cache_read += cached
            m.cache_write += writes
            m.output += output
            m.requests += requests
        if date:
            day = daily.setdefault(date, DailyPoint(date=date, tokens=0, requests=0))
            day.tokens += fresh + cached + writes + output
            day.requests += requests
    ordered = sorted(models.values(), key=lambda m: (-m.total_tokens(), m.model))
    return ordered, daily


def apply_organization(snap: UsageSnapshot,
                       costs: Tuple[Optional[float], Optional[str], Dict[str, float]],
                       usage: Tuple[List[ModelUsage], Dict[str, DailyPoint]],
                       cycle_start: Optional[str] = None, now: Optional[float] = None,
                       series_start: Optional[float] = None) -> None:
    """Month-to-date spend, tokens and models, and the daily points, into the snapshot, each with its
    period: the cycle sums the days from `cycle_start` on, the series covers the UTC days from
    `series_start` on."""
    total, currency, daily_cost = costs
    models, daily = usage
    since = (cycle_start or "")[:10]
    if total is not None:
        cycle = sum(cost for date, cost in daily_cost.items() if date >= since) if since else total
        snap.spend = Spend(cycle=round(cycle, 6))
        snap.currency = currency or "USD"
    if models:
        snap.models = models
        snap.tokens = api.sum_tokens(models)
    for date, cost in daily_cost.items():
        daily.setdefault(date, DailyPoint(date=date)).cost = round(cost, 6)
    if daily:
        snap.daily = [daily[d] for d in sorted(daily)]
    if cycle_start:
        snap.extras = dict(snap.extras or {}, cycle_start=cycle_start)
    if now is not None:
        for figure in ("spend.cycle", "tokens", "models"):
            snap.set_period(figure, api.month_to_date(now))
    if series_start is not None and total is not None:
        snap.set_period("daily", api.daily_coverage(series_start))
