"""xAI (Grok API): the key's status, optional rate limits from a probe, optional prepaid balance.

{"id": "xai", "provider": "xai", "api_key_env": "XAI_API_KEY", "probe": "none" | "chat",
 "probe_model": "grok-3-mini", "management_key_env": "XAI_MANAGEMENT_KEY", "team_id": "...",
 "management_base_url": "https://management-api.x.ai", "timeout_seconds": 20}

- `GET /v1/api-key` (free): `name`, `redacted_api_key`, `team_id`, `acls[]`, `api_key_blocked`,
  `api_key_disabled`, `team_blocked`, `create_time`, `modify_time`. A blocked or disabled key is AUTH; an
  invalid key is answered with 400 (or 401), also AUTH.
- `"probe": "chat"`: a one-token chat completion; OpenAI-style `x-ratelimit-*-{requests,tokens}` headers
  are read when xAI sends them (`rpm`, `tpm`).
- Management key: `GET {management_base_url}/v1/billing/teams/{team_id}/prepaid/balance` ->
  `total.val` (USD cents, a string). The ledger counts top-ups as negative amounts, so the remaining
  prepaid credit is `-val / 100`; the raw value is kept in `extras.prepaid_total_cents`; a window's spend
  is derived from it observed over time (providers/observed.py).
Docs: docs.x.ai/docs/api-reference#api-key, docs.x.ai/developers/management-api (billing).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from openusage.core.snapshot import Balance, Spend, UsageSnapshot
from openusage.providers import api_support as api
from openusage.providers import observed
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, ProviderError
from openusage.providers.http_common import api_key, base_url, check, json_body, number
from openusage.providers.ratelimit_headers import openai_style

PROVIDER_ID = "xai"
DEFAULT_BASE = "https://api.x.ai/v1"
MANAGEMENT_BASE = "https://management-api.x.ai"
KEY_ENV = "XAI_API_KEY"
MANAGEMENT_ENV = "XAI_MANAGEMENT_KEY"
DEFAULT_PROBE_MODEL = "grok-3-mini"
WINDOWS = {"requests": "rpm", "tokens": "tpm"}


class XAIProvider(Provider):
    id = PROVIDER_ID
    name = "xAI (Grok API)"
    source_modes = ("api",)
    env_vars = (KEY_ENV, MANAGEMENT_ENV)
    default_interval = 300.0
    fetch_timeout = 45.0  # several requests of up to timeout_seconds each
    widgets = {"gauges": ["rpm", "tpm"], "figures": ["spend.balance.cash"], "sections": ["limits", "key"]}

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        return api.detect_env(PROVIDER_ID, env, [KEY_ENV])

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        key = api_key(ctx, account, KEY_ENV)
        base = base_url(account, DEFAULT_BASE)
        headers = api.bearer(key)
        resp = ctx.http.request(f"{base}/api-key", headers=headers, timeout=api.timeout(account))
        if resp.status == 400:  # xAI answers an unknown key with 400
            raise ProviderError("AUTH", "key info refused (400): check the API key")
        info = json_body(check(resp, "key info"), "key info")
        if not isinstance(info, dict):
            raise ProviderError("ERR", "key info is not a JSON object")
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "xAI")
        apply_key_info(snap, info)
        if account.extra.get("probe") == "chat":
            self._probe(account, ctx, base, key, snap)
        manager = api.extra_key(ctx, account, "management_key_env", MANAGEMENT_ENV)
        team = account.extra.get("team_id") or info.get("team_id")
        if manager and team:
            try:
                self._prepaid(account, ctx, manager, str(team), snap)
                cash = snap.spend.balance.cash if snap.spend and snap.spend.balance else None
                observed.apply(snap, observed.observe_balance(ctx.state, ctx.now, cash))
            except ProviderError as exc:
                api.partial_failure(snap, exc, "prepaid balance")
        api.apply_limits_status(snap)
        return FetchResult(snapshot=snap)

    def _probe(self, account: AccountConfig, ctx: FetchContext, base: str, key: str, snap: UsageSnapshot) -> None:
        model = account.probe_model or DEFAULT_PROBE_MODEL
        resp = api.chat_probe(ctx, account, base, key, model)
        json_body(resp, "probe answer")
        api.apply_probe_limits(snap, openai_style(resp.headers, WINDOWS, ctx.now), probe_model=model)

    def _prepaid(self, account: AccountConfig, ctx: FetchContext, manager: str, team: str,
                 snap: UsageSnapshot) -> None:
        root = str(account.extra.get("management_base_url") or MANAGEMENT_BASE).rstrip("/")
        url = f"{root}/v1/billing/teams/{team}/prepaid/balance"
        apply_prepaid(snap, api.get_object(ctx, account, url, api.bearer(manager), "prepaid balance"))


# --- parsing (pure) -------------------------------------------------------------------------


KEY_FIELDS = ("name", "redacted_api_key", "team_id", "acls", "create_time", "modify_time",
              "api_key_blocked", "api_key_disabled", "team_blocked")


def apply_key_info(snap: UsageSnapshot, info: Dict[str, Any]) -> None:
    """The key's facts into extras; a blocked or disabled key or team makes the snapshot AUTH."""
    snap.extras = {k: info[k] for k in KEY_FIELDS if info.get(k) is not None}
    problems = [label for field, label in (("api_key_blocked", "API key blocked"),
                                           ("api_key_disabled", "API key disabled"),
                                           ("team_blocked", "team blocked")) if info.get(field) is True]
    if problems:
        snap.status = "AUTH"
        snap.message = ", ".join(problems)


def apply_prepaid(snap: UsageSnapshot, data: Dict[str, Any]) -> None:
    total = data.get("total") if isinstance(data.get("total"), dict) else {}
    cents = number(total.get("val"))
    if cents is None:
        raise ProviderError("ERR", "prepaid balance has no total")
    snap.currency = "USD"
    snap.spend = Spend(balance=Balance(cash=round(-cents / 100.0, 2)))
    snap.extras = dict(snap.extras or {}, prepaid_total_cents=cents)
