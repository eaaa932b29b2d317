"""Mistral AI: rate limits from the headers of a minimal probe.

{"id": "mistral", "provider": "mistral", "api_key_env": "MISTRAL_API_KEY", "probe_model": "mistral-small-latest",
 "probe": "models" | "chat" | "none", "timeout_seconds": 20}

Mistral limits a workspace by requests per second and tokens per minute and per month. Its answers have
carried several header spellings over time; each is read when present:
`x-ratelimitbysize-{limit,remaining}-minute` / `-month` (tokens; `tpm`, `monthly_tokens`),
`ratelimitbysize-{limit,remaining,reset}` (tokens per minute), OpenAI-style `x-ratelimit-*-tokens`
(`tpm`) and `x-ratelimit-*-requests` (`rps`), and the IETF draft `ratelimit-{limit,remaining,reset}`
(`requests`). The default probe is the free `GET /models` (not counted as usage); the headers come
more reliably with completions, so `"probe": "chat"` sends a one-token chat completion: a billed
request each poll, made only when the account asks.
Billing and usage are only in the admin console (a browser session); the API key cannot read them.
Docs: docs.mistral.ai/deployment/laplateforme/tier, docs.mistral.ai/api (models, chat).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional

from openusage.core.snapshot import RateLimit
from openusage.providers import api_support as api
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider
from openusage.providers.ratelimit_headers import read_window

PROVIDER_ID = "mistral"
DEFAULT_BASE = "https://api.mistral.ai/v1"
KEY_ENV = "MISTRAL_API_KEY"
DEFAULT_PROBE_MODEL = "mistral-small-latest"
# (window, limit header, remaining header, reset header); the first spelling present wins for a window.
HEADER_SETS = (
    ("tpm", "x-ratelimitbysize-limit-minute", "x-ratelimitbysize-remaining-minute", "ratelimitbysize-reset"),
    ("tpm", "ratelimitbysize-limit", "ratelimitbysize-remaining", "ratelimitbysize-reset"),
    ("tpm", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    ("monthly_tokens", "x-ratelimitbysize-limit-month", "x-ratelimitbysize-remaining-month", ""),
    ("rps", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ("requests", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"),
)


class MistralProvider(Provider):
    id = PROVIDER_ID
    name = "Mistral AI"
    source_modes = ("api",)
    env_vars = (KEY_ENV,)
    default_interval = 300.0
    widgets = {"gauges": ["tpm", "monthly_tokens"], "sections": ["limits"]}

    def polling(self, account: Optional[AccountConfig] = None) -> str:
        return api.probe_polling(account, ("models",), "GET /models (headers)")

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        return api.detect_env(PROVIDER_ID, env, [KEY_ENV])

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        resp, data, model = api.compatible_probe(ctx, account, KEY_ENV, DEFAULT_BASE, DEFAULT_PROBE_MODEL)
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "Mistral AI", self.polling(account))
        facts: Dict[str, Any] = {"probe_model": model}
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            facts["models_available"] = len(data["data"])
        if resp is not None:
            api.apply_probe_limits(snap, parse_headers(resp.headers, ctx.now), **facts)
        api.apply_limits_status(snap)
        return FetchResult(snapshot=snap)


def parse_headers(headers: Mapping[str, str], now: float) -> Dict[str, RateLimit]:
    """Every window one of Mistral's header spellings describes."""
    out: Dict[str, RateLimit] = {}
    for name, limit_h, remaining_h, reset_h in HEADER_SETS:
        if name in out:
            continue
        window = read_window(headers, limit_h, remaining_h, reset_h, now)
        if window is not None:
            out[name] = window
    return out
