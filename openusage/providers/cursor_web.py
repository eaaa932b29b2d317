"""Cursor through a browser session: cursor.com's usage summary, with the `WorkosCursorSessionToken`
cookie imported by `openusage auth import-cookies --provider cursor` (for a machine without the
Cursor app, or one signed out of it; the app's own sign-in is used first).

`GET {web_base_url}/api/usage-summary` (Cookie: WorkosCursorSessionToken=<userId>%3A%3A<jwt>) ->
`billingCycleStart`, `billingCycleEnd` (ISO strings or epoch ms), `membershipType`, `individualUsage`
{`plan` {`used`, `limit`, `remaining`, `autoPercentUsed`, `apiPercentUsed`, `totalPercentUsed`},
`onDemand` {`enabled`, `used`, `limit`, `remaining`}} in cents (the shape steipete/CodexBar documents in
docs/cursor.md). It is turned into the shape of the app API's GetCurrentPeriodUsage, so one parser
(cursor.apply_period) reads both. The summary has no per-model tokens.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from openusage.providers import api_support as api
from openusage.providers.base import AccountConfig, FetchContext, ProviderError

SESSION_COOKIE = "WorkosCursorSessionToken"
COOKIE_DOMAINS = ("cursor.com",)
DEFAULT_WEB_BASE = "https://cursor.com"
IMPORT_HINT = "openusage auth import-cookies --provider cursor --format json FILE"


def session_cookie(ctx: FetchContext) -> Optional[str]:
    """The imported session cookie's value, or None."""
    value = (ctx.cookies or {}).get(SESSION_COOKIE)
    return value or None


def fetch_summary(ctx: FetchContext, account: AccountConfig, session: str) -> Dict[str, Any]:
    """The usage summary; a refused session says to import a fresh one."""
    base = str(account.extra.get("web_base_url") or DEFAULT_WEB_BASE).rstrip("/")
    headers = {"Cookie": f"{SESSION_COOKIE}={session}", "Accept": "application/json"}
    try:
        return api.get_object(ctx, account, base + "/api/usage-summary", headers, "usage summary")
    except ProviderError as exc:
        if exc.status != "AUTH":
            raise
        raise ProviderError("AUTH", f"cursor.com refused the imported browser session (expired or signed "
                                    f"out): sign in on cursor.com and import it again ({IMPORT_HINT})") from exc


def as_period(summary: Dict[str, Any]) -> Dict[str, Any]:
    """The summary in GetCurrentPeriodUsage's shape: planUsage and spendLimitUsage in cents."""
    usage = summary.get("individualUsage") if isinstance(summary.get("individualUsage"), dict) else {}
    plan = usage.get("plan") if isinstance(usage.get("plan"), dict) else {}
    out: Dict[str, Any] = {k: summary[k] for k in ("billingCycleStart", "billingCycleEnd") if k in summary}
    period = {"totalSpend": plan.get("used"), "includedSpend": plan.get("used"), "limit": plan.get("limit")}
    for key in ("autoPercentUsed", "apiPercentUsed", "totalPercentUsed"):
        if key in plan:
            period[key] = plan[key]
    out["planUsage"] = {k: v for k, v in period.items() if v is not None}
    demand = usage.get("onDemand") if isinstance(usage.get("onDemand"), dict) else {}
    if demand.get("enabled", True) and demand.get("limit"):
        out["spendLimitUsage"] = {"individualLimit": demand.get("limit"), "individualUsed": demand.get("used"),
                                  "individualRemaining": demand.get("remaining")}
    return out
