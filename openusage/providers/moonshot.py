"""Moonshot (Kimi API): the account balance on api.moonshot.ai (USD) or api.moonshot.cn (CNY).

{"id": "moonshot", "provider": "moonshot", "api_key_env": "MOONSHOT_API_KEY", "region": "global" | "cn",
 "base_url": "https://api.moonshot.cn/v1", "low_balance": 5, "timeout_seconds": 20}

Keys are bound to their region: `base_url` picks the host (default api.moonshot.ai, or api.moonshot.cn when
`region` is `cn`); the currency follows the host (`.cn` -> CNY, else USD) unless `currency` is set.
`GET /v1/users/me/balance` -> `code` (0 = success), `status`, `data` {`available_balance` (cash + voucher;
at or below 0 the inference API refuses), `voucher_balance` (never negative), `cash_balance` (negative =
owed)}. No quota windows or usage history are exposed;
a window's spend is derived from `available_balance` observed over time (providers/observed.py).
Docs: platform.moonshot.ai/docs/api/balance, platform.moonshot.cn/docs/api/balance.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlsplit

from openusage.core import redact
from openusage.core.snapshot import Balance, Spend, UsageSnapshot
from openusage.providers import api_support as api
from openusage.providers import observed
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, ProviderError
from openusage.providers.http_common import api_key, number

PROVIDER_ID = "moonshot"
GLOBAL_BASE = "https://api.moonshot.ai/v1"
CHINA_BASE = "https://api.moonshot.cn/v1"
KEY_ENV = "MOONSHOT_API_KEY"


class MoonshotProvider(Provider):
    id = PROVIDER_ID
    name = "Moonshot (Kimi API)"
    source_modes = ("api",)
    env_vars = (KEY_ENV,)
    default_interval = 300.0
    widgets = {"figures": ["spend.balance.cash", "spend.balance.voucher"], "sections": ["balance"]}

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        return api.detect_env(PROVIDER_ID, env, [KEY_ENV])

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        key = api_key(ctx, account, KEY_ENV)
        base = resolve_base(account)
        data = api.get_object(ctx, account, f"{base}/users/me/balance", api.bearer(key), "balance")
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "Moonshot")
        snap.currency = str(account.extra.get("currency") or currency_for(base)).upper()
        apply_balance(snap, data)
        available = number((snap.extras or {}).get("available_balance"))
        status = api.balance_status(available, ctx.state, low=number(account.extra.get("low_balance")))
        if status != "OK":
            snap.status = status
            snap.message = "balance used up: the API refuses calls" if status == "LIMIT" else "balance low"
        observed.apply(snap, observed.observe_balance(ctx.state, ctx.now, available))
        return FetchResult(snapshot=snap)


# --- parsing (pure) -------------------------------------------------------------------------


def resolve_base(account: AccountConfig) -> str:
    """The account's base_url, else the region's host; with the `/v1` the endpoints hang under."""
    if account.base_url:
        return account.base_url.rstrip("/")
    return CHINA_BASE if str(account.extra.get("region") or "").lower() in ("cn", "china") else GLOBAL_BASE


def currency_for(base: str) -> str:
    host = (urlsplit(base).hostname or "").lower()
    return "CNY" if host.endswith(".cn") else "USD"


def apply_balance(snap: UsageSnapshot, body: Dict[str, Any]) -> None:
    """The balance from a `{code, status, data}` answer; ERR when the answer reports a failure."""
    code = body.get("code")
    data = body.get("data")
    if (code not in (None, 0, "0")) or body.get("status") is False or not isinstance(data, dict):
        detail = body.get("error") if isinstance(body.get("error"), dict) else {}
        message = detail.get("message") or body.get("message") or body.get("scode") or f"code {code}"
        raise ProviderError("ERR", f"balance failed: {redact.clip(str(message), 120)}")
    cash = number(data.get("cash_balance"))
    voucher = number(data.get("voucher_balance"))
    available = number(data.get("available_balance"))
    snap.spend = Spend(balance=Balance(cash=cash, voucher=voucher))
    extras: Dict[str, Any] = {}
    if available is not None:
        extras["available_balance"] = available
    if cash is not None and cash < 0:
        extras["owed"] = -cash
    snap.extras = extras or None
