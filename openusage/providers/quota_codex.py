"""Codex's plan windows (5-hour, weekly), read live with the ChatGPT sign-in Codex keeps.

Credentials: `$CODEX_HOME/auth.json`, else `~/.codex/auth.json`: `tokens.access_token` and
`tokens.account_id` (an `OPENAI_API_KEY` without tokens is an API-key login: no plan quota).
Endpoint: GET <usage_api_base or https://chatgpt.com>/backend-api/wham/usage with the token and
`ChatGPT-Account-Id`. Windows are named from their length (5h, weekly), as the rollouts' are, so the
live reading and the rollouts' readings are one series: the newest of each window wins. The token is
never refreshed (Codex rotates it); an expired or refused one is AUTH.
"""
from __future__ import annotations

import base64
import json
import os
from typing import Any, Dict, Optional

from openusage.core.snapshot import UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.providers import quota_common
from openusage.providers.base import AccountConfig, FetchContext
from openusage.providers.quota_common import QuotaError, number

DEFAULT_ORIGIN = "https://chatgpt.com"
USAGE_PATH = "/backend-api/wham/usage"
SIGN_IN = "run `codex` to sign in again"
ENV_HOME = "CODEX_HOME"
WINDOW_SECONDS = {"5h": 5 * 3600, "weekly": 7 * 86400, "monthly": 30 * 86400}
_NAMES = {5 * 3600: "5h", 7 * 86400: "weekly", 30 * 86400: "monthly"}


def credentials_path(ctx: FetchContext) -> str:
    configured = ctx.env.get(ENV_HOME)
    if configured and (configured == "~" or configured.startswith("~/")):
        configured = os.path.join(ctx.fs.home, configured[2:])
    return os.path.join(configured or os.path.join(ctx.fs.home, ".codex"), "auth.json")


def apply(snapshot: UsageSnapshot, account: AccountConfig, ctx: FetchContext) -> None:
    """Mark the rollouts' windows as such, then merge the live reading (polled when due)."""
    limits = snapshot.rate_limits or {}
    for limit_id, reading in (ctx.state.get("limits") or {}).items():  # the collector's rollout readings
        for name in reading.get("windows", {}):
            limit = limits.get(name if limit_id == "codex" else f"{limit_id}:{name}")
            if limit is not None and limit.source is None:
                limit.source, limit.observed_at = "rollout", format_rfc3339(reading["at"])
    quota_common.stamp_source(snapshot, "rollout", None, WINDOW_SECONDS)
    quota_common.apply(snapshot, account, ctx, read, credentials_path(ctx))
    if snapshot.extras and snapshot.extras.get("plan") and not snapshot.extras.get("plan_type"):
        snapshot.extras["plan_type"] = snapshot.extras["plan"]


def read(account: AccountConfig, ctx: FetchContext) -> Optional[Dict[str, Any]]:
    """The live reading, or None when Codex has no ChatGPT sign-in here."""
    data = quota_common.read_json_file(ctx, credentials_path(ctx), "Codex credentials", SIGN_IN)
    tokens = (data or {}).get("tokens")
    if not isinstance(tokens, dict) or not isinstance(tokens.get("access_token"), str) or not tokens["access_token"]:
        return None  # signed out, or an API-key login (OPENAI_API_KEY): no plan quota
    expires = jwt_expiry(tokens["access_token"])
    if expires is not None and expires <= ctx.now:
        raise QuotaError("AUTH", f"Codex sign-in expired: {SIGN_IN}", polled=False)
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json",
               "User-Agent": "openusage"}
    if isinstance(tokens.get("account_id"), str) and tokens["account_id"]:
        headers["ChatGPT-Account-Id"] = tokens["account_id"]
    url = quota_common.origin(account, DEFAULT_ORIGIN) + USAGE_PATH
    answer = quota_common.request_json(ctx, account, url, headers, "Codex usage", SIGN_IN)
    windows = parse_usage(answer, ctx.now)
    if not windows and not isinstance(answer.get("rate_limit"), dict):
        raise QuotaError("ERR", "Codex usage answer has no rate_limit")
    plan = answer.get("plan_type")
    return {"windows": windows, "plan": plan if isinstance(plan, str) and plan else None}


def jwt_expiry(token: str) -> Optional[float]:
    """The `exp` claim of a JWT (not verified: only to skip a request bound to fail); None when absent."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    return number(claims.get("exp")) if isinstance(claims, dict) else None


# --- parsing (pure) ------------------------------------------------------------------------------


def window_name(seconds: Optional[float], slot: str) -> str:
    """A window's name from its length (the slots move between plans), else its slot's name."""
    if seconds is None or seconds <= 0:
        return slot
    for length, name in _NAMES.items():
        if abs(seconds - length) <= 120:
            return name
    return f"{int(seconds // 3600)}h" if seconds % 3600 == 0 else f"{int(seconds // 60)}m"


def parse_usage(data: Dict[str, Any], now: float) -> Dict[str, Dict[str, Any]]:
    """{name: {used_percent, resets_at (epoch), window_seconds}} from a wham/usage answer."""
    rate = data.get("rate_limit")
    out: Dict[str, Dict[str, Any]] = {}
    if not isinstance(rate, dict):
        return out
    for slot in ("primary_window", "secondary_window"):
        win = rate.get(slot)
        if not isinstance(win, dict):
            continue
        used = number(win.get("used_percent"))
        if used is None:
            continue
        length = number(win.get("limit_window_seconds"))
        resets = number(win.get("reset_at"))
        if resets is None:
            after = number(win.get("reset_after_seconds"))
            resets = now + after if after is not None else None
        out[window_name(length, slot.split("_")[0])] = {
            "used_percent": used, "resets_at": resets, "window_seconds": int(length) if length else None}
    return out
