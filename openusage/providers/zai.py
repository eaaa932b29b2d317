"""Z.AI (GLM Coding Plan): quota windows from the monitor endpoint the official usage plugin reads.

{"id": "zai", "provider": "zai", "api_key_env": "ZAI_API_KEY", "region": "global" | "cn",
 "base_url": "https://api.z.ai", "timeout_seconds": 20}

`GET {base}/api/monitor/usage/quota/limit` (base https://api.z.ai, or https://open.bigmodel.cn for the
China platform), the key in `Authorization` as the official glm-plan-usage plugin sends it (raw; a
`Bearer` retry follows a 401). Answer: `{code, msg, success, data: {limits[], level | planName}}`; a limit
is {`type` (`TOKENS_LIMIT`, `TIME_LIMIT` = MCP tool calls, `CREDIT_LIMIT`), `unit` (1 day, 3 hour,
5 minute, 6 week) and `number` (the window length), `percentage` (used %), optional `usage` (the quota),
`currentValue` (used), `remaining`, `nextResetTime` (epoch ms), `usageDetails[]` {`modelCode`, `usage`}}.
Token windows are named by their length (`5h`, `weekly`, ...), the MCP window `mcp`.
This endpoint is not in Z.AI's public API reference; its shape follows the official plugin
(github.com/zai-org/zai-coding-plugins) and docs.z.ai/devpack/extension/usage-query-plugin.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from openusage.core import redact
from openusage.core.snapshot import RateLimit, UsageSnapshot
from openusage.core.timeutil import format_rfc3339, to_epoch
from openusage.providers import api_support as api
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, ProviderError
from openusage.providers.http_common import check, json_body, number
from openusage.providers.ratelimit_headers import make_limit

PROVIDER_ID = "zai"
GLOBAL_BASE = "https://api.z.ai"
CHINA_BASE = "https://open.bigmodel.cn"
KEY_ENVS = ("ZAI_API_KEY", "Z_AI_API_KEY")
PATH = "/api/monitor/usage/quota/limit"
UNITS = {1: "d", 3: "h", 5: "m", 6: "w"}


class ZAIProvider(Provider):
    id = PROVIDER_ID
    name = "Z.AI (GLM Coding Plan)"
    source_modes = ("api",)
    env_vars = KEY_ENVS
    default_interval = 120.0  # free, read-only
    widgets = {"gauges": ["5h", "weekly", "mcp"], "sections": ["limits"]}

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        return api.detect_env(PROVIDER_ID, env, KEY_ENVS)

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        key = api.first_key(ctx, account, KEY_ENVS)
        url = resolve_base(account) + PATH
        for auth in (key, f"Bearer {key}"):
            headers = {"Authorization": auth, "Accept": "application/json", "Accept-Language": "en-US,en"}
            resp = ctx.http.request(url, headers=headers, timeout=api.timeout(account))
            if resp.status != 401:
                break
        body = json_body(check(resp, "quota"), "quota")
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "Z.AI")
        apply_quota(snap, body)
        api.apply_limits_status(snap)
        return FetchResult(snapshot=snap)


# --- parsing (pure) -------------------------------------------------------------------------


def resolve_base(account: AccountConfig) -> str:
    if account.base_url:
        return account.base_url.rstrip("/")
    return CHINA_BASE if str(account.extra.get("region") or "").lower() in ("cn", "china") else GLOBAL_BASE


def window_name(limit: Dict[str, Any]) -> str:
    """`5h`, `weekly`, `1d`, ... for a token window; `mcp` for the tool-call window."""
    if limit.get("type") == "TIME_LIMIT":
        return "mcp"
    unit = UNITS.get(api.as_int(limit.get("unit")) or 0)
    count = api.as_int(limit.get("number"))
    if not unit or not count:
        return "credits" if limit.get("type") == "CREDIT_LIMIT" else "tokens"
    if unit == "w" and count == 1:
        return "weekly"
    return f"{count}{unit}"


def quota_window(limit: Dict[str, Any]) -> Optional[RateLimit]:
    total = number(limit.get("usage"))
    used = number(limit.get("currentValue"))
    remaining = number(limit.get("remaining"))
    reset = to_epoch(api.as_int(limit.get("nextResetTime")))
    percent = number(limit.get("percentage"))
    window = make_limit(limit=total, remaining=remaining, used=used,
                        resets_at=format_rfc3339(reset) if reset else None)
    if percent is not None and (window is None or window.used_percent is None):
        # Only the percentage is sent (windows without counts) or the counts are partial.
        window = window or RateLimit(resets_at=format_rfc3339(reset) if reset else None)
        window.used_percent = max(0.0, min(100.0, percent))
    return window


def apply_quota(snap: UsageSnapshot, body: Any) -> None:
    if not isinstance(body, dict):
        raise ProviderError("ERR", "quota is not a JSON object")
    data = body.get("data")
    if body.get("success") is False or body.get("code") not in (None, 0, 200) or not isinstance(data, dict):
        message = redact.clip(str(body.get("msg") or body.get("message") or f"code {body.get('code')}"), 120)
        raise ProviderError("ERR", f"quota failed: {message}")
    limits: Dict[str, RateLimit] = {}
    extras: Dict[str, Any] = {}
    for item in data.get("limits") or []:
        if not isinstance(item, dict):
            continue
        window = quota_window(item)
        if window is None:
            continue
        name = window_name(item)
        while name in limits:
            name += "_"
        limits[name] = window
        details = {str(d.get("modelCode")): api.as_int(d.get("usage")) for d in item.get("usageDetails") or []
                   if isinstance(d, dict) and d.get("modelCode")}
        if details:
            extras[f"{name}_usage"] = details
    plan = next((data[k] for k in ("planName", "plan", "plan_type", "packageName", "level") if data.get(k)), None)
    if plan:
        extras["plan"] = str(plan)
    snap.rate_limits = limits or None
    snap.extras = extras or None
