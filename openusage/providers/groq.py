"""Groq: rate limits from the headers of a minimal probe.

{"id": "groq", "provider": "groq", "api_key_env": "GROQ_API_KEY", "probe_model": "llama-3.1-8b-instant",
 "probe": "models" | "chat" | "none", "timeout_seconds": 20}

Groq's `x-ratelimit-limit-requests` counts requests per DAY and `x-ratelimit-limit-tokens` tokens per
MINUTE (`-remaining-*`, `-reset-*` as durations such as `2m59.56s`), hence the windows `rpd` and `tpm`.
The default probe is the free `GET /models` (no tokens, not counted as usage), where they may be
missing; `"probe": "chat"` sends a one-token chat completion, where they come reliably: a billed
request each poll, made only when the account asks. Spend and usage history are only in the console
(a browser session), not the API.
Docs: console.groq.com/docs/rate-limits.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

from openusage.core.snapshot import UsageSnapshot
from openusage.providers import api_support as api
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, HttpResponse, Provider
from openusage.providers.ratelimit_headers import openai_style

PROVIDER_ID = "groq"
DEFAULT_BASE = "https://api.groq.com/openai/v1"
KEY_ENV = "GROQ_API_KEY"
DEFAULT_PROBE_MODEL = "llama-3.1-8b-instant"
WINDOWS = {"requests": "rpd", "tokens": "tpm"}


class GroqProvider(Provider):
    id = PROVIDER_ID
    name = "Groq"
    source_modes = ("api",)
    env_vars = (KEY_ENV,)
    default_interval = 300.0
    widgets = {"gauges": ["rpd", "tpm"], "sections": ["limits"]}

    def polling(self, account: Optional[AccountConfig] = None) -> str:
        return api.probe_polling(account, ("models",), "GET /models (headers)")

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        return api.detect_env(PROVIDER_ID, env, [KEY_ENV])

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        resp, _, model = api.compatible_probe(ctx, account, KEY_ENV, DEFAULT_BASE, DEFAULT_PROBE_MODEL)
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "Groq", self.polling(account))
        if resp is not None:
            apply_headers(snap, resp, ctx.now, model)
        api.apply_limits_status(snap)
        return FetchResult(snapshot=snap)


def apply_headers(snap: UsageSnapshot, resp: HttpResponse, now: float, model: str) -> None:
    """`rpd` and `tpm` windows from the probe's headers."""
    api.apply_probe_limits(snap, openai_style(resp.headers, WINDOWS, now), probe_model=model)
