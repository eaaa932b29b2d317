"""DeepSeek: the account balance, per currency, kept in its own currency.

{"id": "deepseek", "provider": "deepseek", "api_key_env": "DEEPSEEK_API_KEY", "currency": "USD",
 "low_balance": 5, "timeout_seconds": 20}

`GET /user/balance` -> `is_available` (can the key call the API), `balance_infos[]` {`currency` (CNY or USD),
`total_balance`, `granted_balance`, `topped_up_balance`} (decimal strings). The entry in the account's
`currency` is shown (else USD, else the first); the others go to `extras.balances`. `balance.cash` is the
topped-up part, `balance.granted` the granted part. No rate-limit windows or usage history are exposed;
a window's spend is derived from the balance observed over time (providers/observed.py).
Docs: api-docs.deepseek.com/api/get-user-balance.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from openusage.core.snapshot import Balance, Spend, UsageSnapshot
from openusage.providers import api_support as api
from openusage.providers import observed
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, ProviderError
from openusage.providers.http_common import api_key, base_url, number

PROVIDER_ID = "deepseek"
DEFAULT_BASE = "https://api.deepseek.com"
KEY_ENV = "DEEPSEEK_API_KEY"


class DeepSeekProvider(Provider):
    id = PROVIDER_ID
    name = "DeepSeek"
    source_modes = ("api",)
    env_vars = (KEY_ENV,)
    default_interval = 300.0
    widgets = {"figures": ["spend.balance.cash", "spend.balance.granted"], "sections": ["balance"]}

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        return api.detect_env(PROVIDER_ID, env, [KEY_ENV])

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        key = api_key(ctx, account, KEY_ENV)
        url = f"{base_url(account, DEFAULT_BASE)}/user/balance"
        data = api.get_object(ctx, account, url, api.bearer(key), "balance")
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "DeepSeek")
        apply_balance(snap, data, account.extra.get("currency"))
        status = api.balance_status(total_balance(snap), ctx.state, low=number(account.extra.get("low_balance")))
        if data.get("is_available") is False:
            status = "LIMIT"
            snap.message = "balance not available for API calls"
        elif status != "OK":
            snap.message = "balance used up" if status == "LIMIT" else "balance low"
        snap.status = status
        observed.apply(snap, observed.observe_balance(ctx.state, ctx.now, total_balance(snap)))
        return FetchResult(snapshot=snap)


# --- parsing (pure) -------------------------------------------------------------------------


def pick(infos: List[Dict[str, Any]], wanted: Optional[str]) -> Optional[Dict[str, Any]]:
    """The balance entry to show: the wanted currency, else USD, else the first."""
    by_currency = {str(i.get("currency") or "").upper(): i for i in infos}
    for code in (str(wanted).upper() if wanted else None, "USD"):
        if code and code in by_currency:
            return by_currency[code]
    return infos[0] if infos else None


def apply_balance(snap: UsageSnapshot, data: Dict[str, Any], wanted_currency: Optional[str] = None) -> None:
    infos = [i for i in data.get("balance_infos") or [] if isinstance(i, dict)]
    if not infos and "balance_infos" not in data:
        raise ProviderError("ERR", "balance answer has no balance_infos")
    chosen = pick(infos, wanted_currency)
    extras: Dict[str, Any] = {"is_available": data.get("is_available")}
    if chosen is not None:
        snap.currency = str(chosen.get("currency") or "").upper() or None
        snap.spend = Spend(balance=Balance(cash=number(chosen.get("topped_up_balance")),
                                           granted=number(chosen.get("granted_balance"))))
        extras["total_balance"] = number(chosen.get("total_balance"))
    others = {str(i.get("currency")).upper(): number(i.get("total_balance")) for i in infos if i is not chosen}
    if others:
        extras["balances"] = others
    snap.extras = {k: v for k, v in extras.items() if v is not None} or None


def total_balance(snap: UsageSnapshot) -> Optional[float]:
    total = number((snap.extras or {}).get("total_balance"))
    if total is not None:
        return total
    balance = snap.spend.balance if snap.spend else None
    if balance is None or (balance.cash is None and balance.granted is None):
        return None
    return (balance.cash or 0.0) + (balance.granted or 0.0)
