"""Claude Code's plan windows (5-hour, weekly, per-model weekly), read live with Claude Code's sign-in.

Credentials: `.credentials.json` in a CLAUDE_CONFIG_DIR entry, else `~/.claude/.credentials.json`,
field `claudeAiOauth` {accessToken, expiresAt (ms), subscriptionType, rateLimitTier}; on macOS,
when there is no file, the Keychain item `Claude Code-credentials` (read with /usr/bin/security).
Endpoint: GET <usage_api_base or https://api.anthropic.com>/api/oauth/usage with the token and
`anthropic-beta: oauth-2025-04-20`. The token is never refreshed: Claude's refresh tokens rotate,
and a refresh here would sign the user out of Claude Code. An expired or refused token is AUTH; the
statusline capture (claude_limits) stays on the tile as the fallback source.

Two answer shapes are in use: named windows {"five_hour": {"utilization", "resets_at"}, "seven_day",
"seven_day_opus", ..., "extra_usage"} and {"limits": [{"kind", "percent", "resets_at", "scope"}]}.
A window of a name or kind not known here is kept under its own name.
"""
from __future__ import annotations

import json
import os
import re
import sys
from typing import Any, Dict, Optional

from openusage.core.snapshot import UsageSnapshot
from openusage.core.timeutil import to_epoch
from openusage.providers import quota_common
from openusage.providers.base import AccountConfig, FetchContext
from openusage.providers.quota_common import QuotaError, number

DEFAULT_ORIGIN = "https://api.anthropic.com"
USAGE_PATH = "/api/oauth/usage"
BETA = "oauth-2025-04-20"
SIGN_IN = "run `claude` to sign in again"
SECURITY = "/usr/bin/security"  # macOS Keychain reader; run with an argv list, never a shell
KEYCHAIN_ITEM = "Claude Code-credentials"
ENV_CONFIG_DIR = "CLAUDE_CONFIG_DIR"

NAMES = {"five_hour": "5h", "seven_day": "weekly", "seven_day_opus": "weekly_opus",
         "seven_day_sonnet": "weekly_sonnet"}
KINDS = {"session": "5h", "weekly_all": "weekly"}
WINDOW_SECONDS = {"5h": 5 * 3600, "weekly": 7 * 86400}
_SLUG = re.compile(r"[^a-z0-9]+")


def credentials_path(ctx: FetchContext) -> str:
    """The credentials file Claude Code keeps: the first CLAUDE_CONFIG_DIR entry holding one, else ~/.claude's."""
    configured = ctx.env.get(ENV_CONFIG_DIR)
    for entry in (configured or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        if entry == "~" or entry.startswith("~/"):
            entry = os.path.join(ctx.fs.home, entry[2:])
        path = os.path.join(entry, ".credentials.json")
        if os.path.isfile(path):
            return path
    return os.path.join(ctx.fs.home, ".claude", ".credentials.json")


def apply(snapshot: UsageSnapshot, account: AccountConfig, ctx: FetchContext) -> None:
    """Mark the statusline windows as such, then merge the live reading (polled when due)."""
    observed = (snapshot.extras or {}).get("limits_observed_at")
    quota_common.stamp_source(snapshot, "statusline", observed, WINDOW_SECONDS)
    quota_common.apply(snapshot, account, ctx, read, credentials_path(ctx))


def read(account: AccountConfig, ctx: FetchContext) -> Optional[Dict[str, Any]]:
    """The live reading, or None when Claude Code has no subscription sign-in here."""
    oauth = _oauth(ctx)
    if oauth is None or not isinstance(oauth.get("accessToken"), str) or not oauth["accessToken"]:
        return None
    expires = to_epoch(oauth.get("expiresAt")) if number(oauth.get("expiresAt")) is not None else None
    if expires is not None and expires <= ctx.now:
        raise QuotaError("AUTH", f"Claude sign-in expired: {SIGN_IN}", polled=False)
    url = quota_common.origin(account, DEFAULT_ORIGIN) + USAGE_PATH
    headers = {"Authorization": f"Bearer {oauth['accessToken']}", "anthropic-beta": BETA,
               "Accept": "application/json", "User-Agent": "openusage"}
    data = quota_common.request_json(ctx, account, url, headers, "Claude usage", SIGN_IN)
    windows = parse_usage(data)
    if not windows and not _known_empty(data):
        raise QuotaError("ERR", "Claude usage answer has no windows")
    plan = oauth.get("subscriptionType")
    return {"windows": windows, "plan": plan if isinstance(plan, str) and plan else None}


def _oauth(ctx: FetchContext) -> Optional[Dict[str, Any]]:
    data = quota_common.read_json_file(ctx, credentials_path(ctx), "Claude credentials", SIGN_IN)
    if data is None and sys.platform == "darwin":
        data = _keychain(ctx)
    oauth = (data or {}).get("claudeAiOauth")
    return oauth if isinstance(oauth, dict) else None


def _keychain(ctx: FetchContext) -> Optional[Dict[str, Any]]:
    try:
        done = ctx.command.run(SECURITY, ["find-generic-password", "-s", KEYCHAIN_ITEM, "-w"], timeout=10)
    except (OSError, PermissionError, ValueError):
        return None
    except Exception:  # subprocess.TimeoutExpired: no Keychain answer is no sign-in
        return None
    if done.returncode != 0:
        return None
    try:
        data = json.loads(done.stdout)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _known_empty(data: Dict[str, Any]) -> bool:
    """An answer of a known shape whose windows are all null (a plan without them)."""
    return "limits" in data or any(k in data for k in NAMES)


# --- parsing (pure) ------------------------------------------------------------------------------


def parse_usage(data: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """{name: {used_percent, resets_at (epoch), window_seconds, limit, used}} from either answer shape."""
    if isinstance(data.get("limits"), list):
        return _parse_limits(data["limits"])
    out: Dict[str, Dict[str, Any]] = {}
    for key, win in data.items():
        if key == "extra_usage":
            extra = _extra(win)
            if extra:
                out["extra_usage"] = extra
            continue
        if not isinstance(win, dict) or "utilization" not in win:
            continue
        used = number(win.get("utilization"))
        if used is None:
            continue
        name = NAMES.get(key, key)
        out[name] = _window(used, win.get("resets_at"), _length(key))
    return out


def _parse_limits(items: Any) -> Dict[str, Dict[str, Any]]:
    out: Dict[str, Dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        used = number(item.get("percent"))
        kind = item.get("kind")
        if used is None or not isinstance(kind, str) or not kind:
            continue
        name = KINDS.get(kind)
        if name is None and kind == "weekly_scoped":
            model = _dig(item, "scope", "model", "display_name")
            name = "weekly_" + _SLUG.sub("_", model.lower()).strip("_") if isinstance(model, str) and model else kind
        name = name or kind
        out[name] = _window(used, item.get("resets_at"), _length(kind))
    return out


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _extra(win: Any) -> Optional[Dict[str, Any]]:
    """Extra usage (pay-as-you-go beyond the plan, monthly), when enabled."""
    if not isinstance(win, dict) or not win.get("is_enabled"):
        return None
    limit, used = number(win.get("monthly_limit")), number(win.get("used_credits"))
    pct = number(win.get("utilization"))
    if pct is None and limit and used is not None:
        pct = used / limit * 100.0
    if pct is None:
        return None
    return {"used_percent": pct, "resets_at": None, "window_seconds": None, "limit": limit, "used": used}


def _window(used: float, resets: Any, length: Optional[int]) -> Dict[str, Any]:
    return {"used_percent": used, "resets_at": to_epoch(resets) if isinstance(resets, (str, int, float)) else None,
            "window_seconds": length}


def _length(key: str) -> Optional[int]:
    if key in ("five_hour", "session"):
        return WINDOW_SECONDS["5h"]
    if key.startswith("seven_day") or key.startswith("weekly"):
        return WINDOW_SECONDS["weekly"]
    return None
