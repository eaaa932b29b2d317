"""Google Gemini API (AI Studio key): key validity and the models the key can use.

{"id": "gemini_api", "provider": "gemini_api", "api_key_env": "GEMINI_API_KEY", "timeout_seconds": 20}

`GET /v1beta/models?pageSize=1000` with the key in the `x-goog-api-key` header (never in the URL), following
`nextPageToken`: `models[]` {`name`, `displayName`, `inputTokenLimit`, `outputTokenLimit`,
`supportedGenerationMethods`}. Listing models is free. The Gemini API sends no rate-limit headers and has
no endpoint for remaining quota or spend (quota lives in Google Cloud / AI Studio); what it tells is in a
429 body: `RESOURCE_EXHAUSTED` with `google.rpc.QuotaFailure` (`quotaId`, `quotaValue`) and
`google.rpc.RetryInfo` (`retryDelay`, e.g. `37s`) -> LIMIT with that reset. An invalid key is a 400
`INVALID_ARGUMENT` with reason `API_KEY_INVALID` -> AUTH.
Docs: ai.google.dev/api/models#method:-models.list, ai.google.dev/gemini-api/docs/rate-limits,
ai.google.dev/gemini-api/docs/troubleshooting.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from openusage.core.timeutil import format_rfc3339
from openusage.providers import api_support as api
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, HttpResponse, Provider, ProviderError
from openusage.providers.http_common import base_url, check, json_body, parse_duration

PROVIDER_ID = "gemini_api"
DEFAULT_BASE = "https://generativelanguage.googleapis.com"
KEY_ENVS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
MAX_PAGES = 5


class GeminiAPIProvider(Provider):
    id = PROVIDER_ID
    name = "Google Gemini API"
    source_modes = ("api",)
    env_vars = KEY_ENVS
    default_interval = 600.0
    fetch_timeout = 45.0  # several requests of up to timeout_seconds each
    widgets = {"figures": ["extras.models_available"], "sections": ["models_available"]}

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        return api.detect_env(PROVIDER_ID, env, KEY_ENVS)

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        key = api.first_key(ctx, account, KEY_ENVS)
        base = base_url(account, DEFAULT_BASE)
        headers = {"x-goog-api-key": key, "Accept": "application/json"}
        models: List[Dict[str, Any]] = []
        token: Optional[str] = None
        for _ in range(MAX_PAGES):
            url = api.with_query(f"{base}/v1beta/models", {"pageSize": 1000, "pageToken": token})
            resp = ctx.http.request(url, headers=headers, timeout=api.timeout(account))
            data = json_body(check_gemini(resp, ctx.now, headers), "model list")
            if not isinstance(data, dict):
                raise ProviderError("ERR", "model list is not a JSON object")
            models.extend(m for m in data.get("models") or [] if isinstance(m, dict))
            token = data.get("nextPageToken")
            if not token:
                break
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "Gemini API")
        snap.extras = summarize_models(models)
        snap.message = "key valid; quota and spend are not exposed by the API"
        return FetchResult(snapshot=snap)


# --- parsing (pure) -------------------------------------------------------------------------


def error_of(resp: HttpResponse) -> Dict[str, Any]:
    try:
        body = resp.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def _details(err: Dict[str, Any], kind: str) -> List[Dict[str, Any]]:
    return [d for d in err.get("details") or [] if isinstance(d, dict) and str(d.get("@type", "")).endswith(kind)]


def check_gemini(resp: HttpResponse, now: float, headers: Optional[Dict[str, str]] = None) -> HttpResponse:
    """http_common.check, plus Google's error shapes: API_KEY_INVALID (400) is AUTH, a 429 carries its
    retry delay and the quota that ran out in the body."""
    if resp.status == 400:
        err = error_of(resp)
        reasons = {d.get("reason") for d in _details(err, "ErrorInfo")}
        if "API_KEY_INVALID" in reasons or "API key not valid" in str(err.get("message", "")):
            raise ProviderError("AUTH", "API key not valid")
    if resp.status == 429:
        err = error_of(resp)
        delays = [parse_duration(str(d.get("retryDelay") or "")) for d in _details(err, "RetryInfo")]
        delay = next((d for d in delays if d is not None), None)
        resets = format_rfc3339(now + delay) if delay is not None else None
        quotas = [v.get("quotaId") for d in _details(err, "QuotaFailure") for v in d.get("violations") or []
                  if isinstance(v, dict) and v.get("quotaId")]
        if resets or quotas:
            message = "quota exhausted" + (f" ({', '.join(quotas)})" if quotas else "")
            raise ProviderError("LIMIT", message + (f" until {resets}" if resets else ""), resets_at=resets)
    return check(resp, "model list")


def summarize_models(models: List[Dict[str, Any]]) -> Dict[str, Any]:
    """How many models the key can use, and their ids (without the `models/` prefix)."""
    ids = sorted(str(m.get("name", "")).split("/", 1)[-1] for m in models if m.get("name"))
    generative = [m for m in models if "generateContent" in (m.get("supportedGenerationMethods") or [])]
    return {"models_available": len(ids), "generative_models": len(generative), "model_ids": ids}
