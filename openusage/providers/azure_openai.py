"""Azure OpenAI: rate limits of one deployment from a probe.

{"id": "azure_openai", "provider": "azure_openai", "api_key_env": "AZURE_OPENAI_API_KEY",
 "base_url": "https://RESOURCE.openai.azure.com", "deployment": "chat-prod", "api_version": "2024-10-21",
 "probe": "deployments" | "chat" | "none", "timeout_seconds": 20}

The resource endpoint (`base_url`, else `AZURE_OPENAI_ENDPOINT`) and the deployment (`deployment`, else
`AZURE_OPENAI_DEPLOYMENT_NAME`) are required. The default probe is free: `GET
{base}/openai/deployments?api-version=...` with the `api-key` header (with `"api_version": "v1"`:
`GET {base}/openai/v1/models`). `"probe": "chat"` sends, instead,
`POST {base}/openai/deployments/{deployment}/chat/completions?api-version=...` with `max_tokens: 1`
(v1: `POST {base}/openai/v1/chat/completions`, the deployment as `model`, `max_completion_tokens: 1`): a
billed request each poll, made only when the account asks. Either way it reads
`x-ratelimit-{limit,remaining}-{requests,tokens}` and `x-ratelimit-reset-*` (`rpm`, `tpm`); Azure sends
only the remaining counts on many API versions, and -1 for "not reported", which is left out. Spend
lives in Azure Cost Management (another API and credential).
Docs: learn.microsoft.com/azure/ai-services/openai/reference (chat completions),
learn.microsoft.com/azure/ai-services/openai/how-to/quota (rate-limit headers).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from openusage.providers import api_support as api
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, ProviderError
from openusage.providers.http_common import api_key, json_body
from openusage.providers.ratelimit_headers import openai_style

PROVIDER_ID = "azure_openai"
KEY_ENV = "AZURE_OPENAI_API_KEY"
ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
DEPLOYMENT_ENV = "AZURE_OPENAI_DEPLOYMENT_NAME"
DEFAULT_API_VERSION = "2024-10-21"
WINDOWS = {"requests": "rpm", "tokens": "tpm"}
PROBES = ("deployments",)  # the free probes; the first is the default


class AzureOpenAIProvider(Provider):
    id = PROVIDER_ID
    name = "Azure OpenAI"
    source_modes = ("api",)
    env_vars = (KEY_ENV, ENDPOINT_ENV, DEPLOYMENT_ENV)
    default_interval = 300.0
    widgets = {"gauges": ["rpm", "tpm"], "sections": ["limits"]}

    def polling(self, account: Optional[AccountConfig] = None) -> str:
        return api.probe_polling(account, PROBES, "GET /openai/deployments (headers)")

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        found = api.detect_env(PROVIDER_ID, env, [KEY_ENV])
        for acct in found:
            acct.base_url = env.get(ENDPOINT_ENV) or None
            if env.get(DEPLOYMENT_ENV):
                acct.extra["deployment"] = env[DEPLOYMENT_ENV]
        return found

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        key = api_key(ctx, account, KEY_ENV)
        endpoint = account.base_url or ctx.env.get(ENDPOINT_ENV)
        deployment = account.extra.get("deployment") or ctx.env.get(DEPLOYMENT_ENV)
        if not endpoint:
            raise ProviderError("ERR", f"azure_openai needs base_url (https://RESOURCE.openai.azure.com) "
                                       f"or {ENDPOINT_ENV}")
        if not deployment:
            raise ProviderError("ERR", f"azure_openai needs \"deployment\" or {DEPLOYMENT_ENV}")
        version = str(account.extra.get("api_version") or DEFAULT_API_VERSION)
        kind = api.probe_kind(account, PROBES)
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "Azure OpenAI", self.polling(account))
        facts: Dict[str, Any] = {"deployment": str(deployment), "api_version": version}
        if kind == "none":
            snap.extras = dict(snap.extras or {}, **facts)
            return FetchResult(snapshot=snap)
        headers = {"api-key": key, "Accept": "application/json"}
        if kind in api.BILLED_PROBES:
            url, body = probe_request(endpoint, str(deployment), version)
            resp = api.call(ctx, account, url, headers, "POST", body, "deployment probe")
        else:
            resp = api.call(ctx, account, listing_request(endpoint, version), headers, what="deployments probe")
        data = json_body(resp, "probe answer")
        if isinstance(data, dict) and data.get("model"):
            facts["model"] = data["model"]
        api.apply_probe_limits(snap, openai_style(resp.headers, WINDOWS, ctx.now), **facts)
        api.apply_limits_status(snap)
        return FetchResult(snapshot=snap)


def listing_request(endpoint: str, version: str) -> str:
    """The URL of the free probe: the resource's deployments (dated API versions) or models (v1)."""
    root = endpoint.rstrip("/")
    if version == "v1":
        root = root[: -len("/openai/v1")] if root.endswith("/openai/v1") else root
        return f"{root}/openai/v1/models"
    root = root[: -len("/openai")] if root.endswith("/openai") else root
    return api.with_query(f"{root}/openai/deployments", {"api-version": version})


def probe_request(endpoint: str, deployment: str, version: str) -> Tuple[str, Dict[str, Any]]:
    """(URL, body) of the billed one-token chat completion for a dated API version or the v1 API."""
    root = endpoint.rstrip("/")
    messages = [{"role": "user", "content": "hi"}]
    if version == "v1":
        root = root[: -len("/openai/v1")] if root.endswith("/openai/v1") else root
        return f"{root}/openai/v1/chat/completions", {"model": deployment, "messages": messages,
                                                      "max_completion_tokens": 1}
    root = root[: -len("/openai")] if root.endswith("/openai") else root
    url = api.with_query(f"{root}/openai/deployments/{deployment}/chat/completions", {"api-version": version})
    return url, {"messages": messages, "max_tokens": 1}
