"""Anthropic API: rate limits from a minimal probe, and the organization's usage and cost reports with an
Admin key.

{"id": "anthropic", "provider": "anthropic", "api_key_env": "ANTHROPIC_API_KEY",
 "probe_model": "claude-haiku-4-5", "probe": "headers" | "count_tokens" | "chat" | "none",
 "admin_key_env": "ANTHROPIC_ADMIN_KEY", "timeout_seconds": 20}

`base_url` is the API root without `/v1`, as in the Anthropic SDKs (default https://api.anthropic.com).
- Probe: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}` headers
  (reset = RFC 3339). The default ("headers") is a bodiless `GET /v1/messages`: refused, never billed,
  and answered with the headers. Token counting (`"probe": "count_tokens"`) is free too but has its own
  limits, so its headers may be absent or differ. `"probe": "chat"` (or the older "messages") sends
  `POST /v1/messages` with `max_tokens: 1`: a billed request each poll, made only when asked for.
- Admin key (`sk-ant-admin...`, organizations only): `GET /v1/organizations/usage_report/messages` (daily
  buckets per model: `uncached_input_tokens`, `cache_read_input_tokens`, `cache_creation.ephemeral_{5m,1h}
  _input_tokens`, `output_tokens`, `server_tool_use.web_search_requests`) and
  `GET /v1/organizations/cost_report?group_by[]=description` (`amount`: a decimal string in cents of
  `currency`), from the start of the current UTC month (and at least 30 whole UTC days back, for the daily
  series), following `next_page` while `has_more`. `spend.cycle`, `tokens` and `models` are month to date
  (`periods`); the daily series covers its UTC days, from which the read model derives a window's spend.
Docs: docs.anthropic.com/en/api/rate-limits, platform.claude.com/docs/en/manage-claude/usage-cost-api,
platform.claude.com/docs/en/api/admin/cost_report.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from openusage.core.snapshot import DailyPoint, ModelUsage, Spend, UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.providers import api_support as api
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, HttpResponse, Provider
from openusage.providers.http_common import base_url, json_body, number
from openusage.providers.ratelimit_headers import anthropic_style

PROVIDER_ID = "anthropic"
DEFAULT_BASE = "https://api.anthropic.com"
KEY_ENV = "ANTHROPIC_API_KEY"
ADMIN_ENVS = ("ANTHROPIC_ADMIN_KEY", "ANTHROPIC_ADMIN_API_KEY")
API_VERSION = "2023-06-01"
DEFAULT_PROBE_MODEL = "claude-haiku-4-5"
PROBES = ("headers", "count_tokens")  # the free probes; the first is the default


class AnthropicProvider(Provider):
    id = PROVIDER_ID
    name = "Anthropic API"
    source_modes = ("api",)
    env_vars = (KEY_ENV, *ADMIN_ENVS)
    default_interval = 300.0
    fetch_timeout = 60.0  # several requests of up to timeout_seconds each
    widgets = {
        "gauges": ["rpm", "input_tpm", "output_tpm"],
        "figures": ["spend.cycle", "tokens.total"],
        "sections": ["models", "daily", "limits"],
    }

    # --- detection --------------------------------------------------------------------------

    def polling(self, account: Optional[AccountConfig] = None) -> str:
        return api.probe_polling(account, PROBES, "a bodiless GET /v1/messages (headers), organization reports")

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        found = api.detect_env(PROVIDER_ID, env, [KEY_ENV])
        if not found:
            for name in ADMIN_ENVS:
                if env.get(name):
                    return [AccountConfig(id=PROVIDER_ID, provider=PROVIDER_ID, detected_by=f"env:{name}",
                                          extra={"admin_key_env": name})]
        return found

    # --- fetch ------------------------------------------------------------------------------

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        base = base_url(account, DEFAULT_BASE)
        key, admin = api.key_and_admin(ctx, account, KEY_ENV, ADMIN_ENVS, "sk-ant-admin")
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "Anthropic", self.polling(account))
        api.probe_and_reports(snap, key, admin, lambda k: self._probe(account, ctx, base, k, snap),
                              lambda a: self._reports(account, ctx, base, a, snap))
        return FetchResult(snapshot=snap)

    def _probe(self, account: AccountConfig, ctx: FetchContext, base: str, key: str, snap: UsageSnapshot) -> None:
        kind = api.probe_kind(account, PROBES)
        if kind == "none":
            return
        model = account.probe_model or DEFAULT_PROBE_MODEL
        messages = [{"role": "user", "content": "hi"}]
        if kind == "headers":
            resp = api.header_probe(ctx, account, f"{base}/v1/messages", headers(key), "header probe")
            apply_probe(snap, resp, ctx.now, None)
            return
        if kind == "count_tokens":
            resp = api.call(ctx, account, f"{base}/v1/messages/count_tokens", headers(key), "POST",
                            {"model": model, "messages": messages}, "token-count probe")
        else:
            resp = api.call(ctx, account, f"{base}/v1/messages", headers(key), "POST",
                            {"model": model, "max_tokens": 1, "messages": messages}, "message probe")
        json_body(resp, "probe answer")  # a 200 that is not JSON is a broken proxy, not a success
        apply_probe(snap, resp, ctx.now, model)

    def _reports(self, account: AccountConfig, ctx: FetchContext, base: str, admin: str,
                 snap: UsageSnapshot) -> None:
        first = api.report_start(ctx.now)
        start = format_rfc3339(api.month_start(ctx.now)).replace(".000Z", "Z")
        common = {"starting_at": format_rfc3339(first).replace(".000Z", "Z"), "bucket_width": "1d", "limit": 31}
        usage = api.paged_objects(ctx, account, f"{base}/v1/organizations/usage_report/messages",
                                  dict(common, **{"group_by[]": "model"}), headers(admin), "usage report")
        costs = api.paged_objects(ctx, account, f"{base}/v1/organizations/cost_report",
                                  dict(common, **{"group_by[]": "description"}), headers(admin), "cost report")
        apply_reports(snap, parse_usage_report(usage, start[:10]), parse_cost_report(costs, start[:10]), start,
                      ctx.now, first)


def headers(key: str) -> Dict[str, str]:
    return {"x-api-key": key, "anthropic-version": API_VERSION, "Accept": "application/json"}


# --- parsing (pure) -------------------------------------------------------------------------


def apply_probe(snap: UsageSnapshot, resp: HttpResponse, now: float, model: Optional[str]) -> None:
    facts = {"probe_model": model} if model else {}
    if resp.headers.get("anthropic-organization-id"):
        facts["organization"] = resp.headers["anthropic-organization-id"]
    api.apply_probe_limits(snap, anthropic_style(resp.headers, now), **facts)


def _bucket_date(bucket: Dict[str, Any]) -> str:
    """A bucket's UTC date from its `starting_at` (RFC 3339)."""
    start = bucket.get("starting_at")
    return start[:10] if isinstance(start, str) and len(start) >= 10 else ""


def usage_tokens(result: Dict[str, Any]) -> Tuple[int, int, int, int]:
    """(fresh input, cache read, cache write 5m+1h, output) of one usage-report result."""
    creation = result.get("cache_creation") if isinstance(result.get("cache_creation"), dict) else {}
    writes = (api.as_int(creation.get("ephemeral_5m_input_tokens")) or 0) + (
        api.as_int(creation.get("ephemeral_1h_input_tokens")) or 0)
    return (api.as_int(result.get("uncached_input_tokens")) or 0,
            api.as_int(result.get("cache_read_input_tokens")) or 0,
            writes,
            api.as_int(result.get("output_tokens")) or 0)


def parse_usage_report(pages: Iterable[Dict[str, Any]],
                       since: str = "") -> Tuple[Dict[str, ModelUsage], Dict[str, int], int]:
    """(usage per model and web search requests, of the buckets from UTC date `since` on; tokens per UTC
    date) of usage-report pages."""
    models: Dict[str, ModelUsage] = {}
    daily: Dict[str, int] = {}
    searches = 0
    for date, result in api.bucket_results(pages, _bucket_date):
        fresh, read, write, output = usage_tokens(result)
        if date:
            daily[date] = daily.get(date, 0) + fresh + read + write + output
        if date < since:
            continue
        name = str(result.get("model") or "unknown")
        m = models.setdefault(name, ModelUsage(model=name, input=0, output=0, cache_read=0, cache_write=0))
        m.input += fresh
        m.cache_read += read
        m.cache_write += write
        m.output += output
        tools = result.get("server_tool_use") if isinstance(result.get("server_tool_use"), dict) else {}
        searches += api.as_int(tools.get("web_search_requests")) or 0
    return models, daily, searches


def parse_cost_report(pages: Iterable[Dict[str, Any]], since: str = "") -> Tuple[Optional[float], str,
                                                                                Dict[str, float], Dict[str, float]]:
    """(total and cost per model of the buckets from UTC date `since` on, currency, cost per UTC date);
    amounts are decimal strings in cents."""
    total: Optional[float] = None
    currency = "USD"
    per_model: Dict[str, float] = {}
    daily: Dict[str, float] = {}
    for date, result in api.bucket_results(pages, _bucket_date):
        cents = number(result.get("amount"))
        if cents is None:
            continue
        value = cents / 100.0
        currency = str(result.get("currency") or currency).upper()
        if date:
            daily[date] = daily.get(date, 0.0) + value
        if date < since:
            continue
        total = (total or 0.0) + value
        if result.get("model"):
            per_model[str(result["model"])] = per_model.get(str(result["model"]), 0.0) + value
    return total, currency, per_model, daily


def apply_reports(snap: UsageSnapshot, usage: Tuple[Dict[str, ModelUsage], Dict[str, int], int],
                  costs: Tuple[Optional[float], str, Dict[str, float], Dict[str, float]],
                  cycle_start: Optional[str] = None, now: Optional[float] = None,
                  series_start: Optional[float] = None) -> None:
    """Month-to-date spend, tokens and models, and the daily points, into the snapshot, each with its
    period (the series covers the UTC days from `series_start` on)."""
    models, daily_tokens, searches = usage
    total, currency, per_model, daily_cost = costs
    if total is not None:
        snap.spend = Spend(cycle=round(total, 6))
        snap.currency = currency
    for name, cost in per_model.items():
        models.setdefault(name, ModelUsage(model=name)).cost = round(cost, 6)
    if models:
        ordered = sorted(models.values(), key=lambda m: (-m.total_tokens(), -(m.cost or 0), m.model))
        snap.models = ordered
        snap.tokens = api.sum_tokens(ordered)
    dates = sorted(set(daily_tokens) | set(daily_cost))
    if dates:
        snap.daily = [DailyPoint(date=d, tokens=daily_tokens.get(d),
                                 cost=round(daily_cost[d], 6) if d in daily_cost else None) for d in dates]
    extras = dict(snap.extras or {})
    if searches:
        extras["web_search_requests"] = searches
    if cycle_start:
        extras["cycle_start"] = cycle_start
    snap.extras = extras or None
    if now is not None:
        for figure in ("spend.cycle", "tokens", "models"):
            snap.set_period(figure, api.month_to_date(now))
    if series_start is not None and total is not None:
        snap.set_period("daily", api.daily_coverage(series_start))
