"""Gemini CLI's plan quotas (one gauge per model family), read live with Gemini CLI's Google sign-in.

Credentials: `<gemini dir>/oauth_creds.json` (~/.gemini, or $GEMINI_CLI_HOME/.gemini): `access_token`,
`expiry_date` (ms), `refresh_token`. Endpoints (origin `usage_api_base`, else
https://cloudcode-pa.googleapis.com): POST /v1internal:loadCodeAssist (the tier and the Cloud project),
then POST /v1internal:retrieveUserQuota {"project"} -> {"buckets": [{modelId, remainingFraction,
resetTime, ...}]}; used = 1 - remainingFraction, the most used bucket of a family wins.

An expired token is refreshed in memory only, with the OAuth client Gemini CLI itself uses (an
installed application's client, public in Gemini CLI's source; Google refresh tokens do not rotate),
at <oauth_api_base or https://oauth2.googleapis.com>/token. The file is never written; the fresh
token lives in this process until it expires or the file changes. A failed refresh is AUTH.
"""
from __future__ import annotations

import os
import re
import threading
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlencode

from openusage.core.snapshot import UsageSnapshot
from openusage.core.timeutil import to_epoch
from openusage.providers import quota_common
from openusage.providers.base import AccountConfig, FetchContext
from openusage.providers.quota_common import QuotaError, number

DEFAULT_ORIGIN = "https://cloudcode-pa.googleapis.com"
DEFAULT_OAUTH_ORIGIN = "https://oauth2.googleapis.com"
SIGN_IN = "run `gemini` to sign in again"
ENV_HOME = "GEMINI_CLI_HOME"
# Gemini CLI's OAuth client (packages/core/src/code_assist/oauth2.ts in google-gemini/gemini-cli).
OAUTH_CLIENT_ID = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
OAUTH_CLIENT_SECRET = "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"
EXPIRY_MARGIN = 60.0  # a token this close to its expiry is refreshed first
_FAMILY = re.compile(r"^gemini-[0-9][0-9.]*-(.+?)(?:-preview.*|-exp.*)?$")

# In-memory tokens from refreshes: credentials path -> (file mtime, access token, expiry epoch).
_REFRESHED: Dict[str, Tuple[float, str, float]] = {}
_LOCK = threading.Lock()


def credentials_path(ctx: FetchContext) -> str:
    base = ctx.env.get(ENV_HOME)
    if base and (base == "~" or base.startswith("~/")):
        base = os.path.join(ctx.fs.home, base[2:])
    return os.path.join(base or ctx.fs.home, ".gemini", "oauth_creds.json")


def apply(snapshot: UsageSnapshot, account: AccountConfig, ctx: FetchContext) -> None:
    quota_common.apply(snapshot, account, ctx, read, credentials_path(ctx))


def read(account: AccountConfig, ctx: FetchContext) -> Optional[Dict[str, Any]]:
    """The live reading, or None when Gemini CLI has no Google sign-in here."""
    token = _token(account, ctx)
    if token is None:
        return None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Accept": "application/json", "User-Agent": "openusage"}
    base = quota_common.origin(account, DEFAULT_ORIGIN)
    meta = {"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}
    assist = quota_common.request_json(ctx, account, base + "/v1internal:loadCodeAssist", headers,
                                       "Gemini loadCodeAssist", SIGN_IN, method="POST", body={"metadata": meta})
    project, tier = code_assist(assist)
    body = {"project": project} if project else {}
    answer = quota_common.request_json(ctx, account, base + "/v1internal:retrieveUserQuota", headers,
                                       "Gemini quota", SIGN_IN, method="POST", body=body)
    if not isinstance(answer.get("buckets"), list):
        raise QuotaError("ERR", "Gemini quota answer has no buckets")
    return {"windows": parse_buckets(answer["buckets"]), "plan": tier}


def _token(account: AccountConfig, ctx: FetchContext) -> Optional[str]:
    path = credentials_path(ctx)
    creds = quota_common.read_json_file(ctx, path, "Gemini credentials", SIGN_IN)
    if creds is None:
        return None
    access = creds.get("access_token") if isinstance(creds.get("access_token"), str) else None
    refresh = creds.get("refresh_token") if isinstance(creds.get("refresh_token"), str) else None
    if not access and not refresh:
        return None
    expiry = to_epoch(creds["expiry_date"]) if number(creds.get("expiry_date")) is not None else None
    if access and (expiry is None or expiry - EXPIRY_MARGIN > ctx.now):
        return access
    mtime = os.stat(path).st_mtime
    with _LOCK:
        kept = _REFRESHED.get(path)
    if kept is not None and kept[0] == mtime and kept[2] - EXPIRY_MARGIN > ctx.now:
        return kept[1]
    if not refresh:
        raise QuotaError("AUTH", f"Gemini sign-in expired: {SIGN_IN}", polled=False)
    fresh, lifetime = _refresh(account, ctx, refresh)
    with _LOCK:
        _REFRESHED[path] = (mtime, fresh, ctx.now + lifetime)
    return fresh


def _refresh(account: AccountConfig, ctx: FetchContext, refresh_token: str) -> Tuple[str, float]:
    """A new access token and its lifetime in seconds, from Google's token endpoint (memory only)."""
    url = quota_common.origin(account, DEFAULT_OAUTH_ORIGIN, key="oauth_api_base") + "/token"
    form = urlencode({"client_id": OAUTH_CLIENT_ID, "client_secret": OAUTH_CLIENT_SECRET,
                      "refresh_token": refresh_token, "grant_type": "refresh_token"})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    try:
        answer = quota_common.request_json(ctx, account, url, headers, "Gemini token refresh", SIGN_IN,
                                           method="POST", body=form)
    except QuotaError as exc:
        if exc.status == "ERR" and exc.retry_after is None and "HTTP 400" in exc.message:
            raise QuotaError("AUTH", f"Gemini sign-in refused: {SIGN_IN}") from exc  # invalid_grant
        raise
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise QuotaError("AUTH", f"Gemini token refresh gave no token: {SIGN_IN}")
    return token, number(answer.get("expires_in")) or 3600.0


# --- parsing (pure) ------------------------------------------------------------------------------


def code_assist(data: Dict[str, Any]) -> Tuple[Optional[str], Optional[str]]:
    """(Cloud project id, tier name) from a loadCodeAssist answer."""
    project = data.get("cloudaicompanionProject")
    if isinstance(project, dict):
        project = project.get("id")
    tier = data.get("currentTier") if isinstance(data.get("currentTier"), dict) else {}
    name = tier.get("name") or tier.get("id")
    return (project if isinstance(project, str) and project else None,
            name if isinstance(name, str) and name else None)


def family(model_id: str) -> str:
    """A model's family: gemini-2.5-pro -> pro, gemini-2.5-flash-lite -> flash-lite; others as they are."""
    model_id = model_id[: -len("_vertex")] if model_id.endswith("_vertex") else model_id
    found = _FAMILY.match(model_id)
    return found.group(1) if found else model_id


def parse_buckets(buckets: Any) -> Dict[str, Dict[str, Any]]:
    """{family: {used_percent, resets_at, window_seconds}}: the most used bucket of each family."""
    out: Dict[str, Dict[str, Any]] = {}
    for bucket in buckets:
        if not isinstance(bucket, dict) or not isinstance(bucket.get("modelId"), str):
            continue
        left = number(bucket.get("remainingFraction"))
        if left is None:
            continue
        used = round(max(0.0, min(1.0, 1.0 - left)) * 100.0, 3)
        name = family(bucket["modelId"])
        reset = bucket.get("resetTime")
        entry = {"used_percent": used, "resets_at": to_epoch(reset) if isinstance(reset, str) else None,
                 "window_seconds": None}
        remaining = number(bucket.get("remainingAmount"))
        if remaining is not None and left > 0:
            entry["limit"] = round(remaining / left)
            entry["used"] = entry["limit"] - remaining
        if name not in out or used > out[name]["used_percent"]:
            out[name] = entry
    return out
