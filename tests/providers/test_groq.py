import json

import pytest
from fakeserver import Endpoint, fixture, run_fetch

from openusage.providers.base import AccountConfig, ProviderError
from openusage.providers.groq import GroqProvider

KEY = "gsk_0123456789abcdefghijklmnopqrstuvwxyz"
HEADERS = {
    "x-ratelimit-limit-requests": "14400",
    "x-ratelimit-limit-tokens": "6000",
    "x-ratelimit-remaining-requests": "14370",
    "x-ratelimit-remaining-tokens": "5997",
    "x-ratelimit-reset-requests": "2m59.56s",
    "x-ratelimit-reset-tokens": "7.66s",
}


def fetch(srv, environ=None, probe_model=None, **extra):
    extra.setdefault("timeout_seconds", 2)
    acct = AccountConfig(id="groq", provider="groq", base_url=srv.url + "/openai/v1", probe_model=probe_model,
                         extra=extra)
    return run_fetch(GroqProvider(), acct, {"GROQ_API_KEY": KEY} if environ is None else environ)


PROBE = Endpoint("GET", "/openai/v1/models", fetch)  # the default probe: free


def test_the_default_probe_is_the_free_model_list(server):
    server.route("GET", "/openai/v1/models", body=fixture("groq", "models"), headers=HEADERS)
    snap = fetch(server)
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/openai/v1/models")]
    assert snap.rate_limits["rpd"].remaining == 14370 and snap.status == "OK"
    assert GroqProvider().polling().startswith("free")


def test_requests_per_day_and_tokens_per_minute(server):
    server.route("POST", "/openai/v1/chat/completions", body=fixture("groq", "chat_completion"), headers=HEADERS)
    snap = fetch(server, probe="chat")
    assert snap.status == "OK"
    rpd, tpm = snap.rate_limits["rpd"], snap.rate_limits["tpm"]
    assert (rpd.limit, rpd.remaining, rpd.used) == (14400, 14370, 30)
    assert rpd.resets_at == "2026-11-22T12:02:59.560Z" and tpm.resets_at == "2026-11-22T12:00:07.660Z"
    sent = server.requests[0].json()
    assert sent["model"] == "llama-3.1-8b-instant" and sent["max_tokens"] == 1
    server.assert_secret_only_in(KEY, "Authorization", f"Bearer {KEY}")
    assert KEY not in json.dumps(snap.to_dict())


def test_low_token_window_warns(server):
    server.route("POST", "/openai/v1/chat/completions", body=fixture("groq", "chat_completion"),
                 headers=dict(HEADERS, **{"x-ratelimit-remaining-tokens": "600"}))
    snap = fetch(server, probe_model="llama-3.3-70b-versatile", probe="chat")
    assert snap.status == "WARN" and snap.message == "tpm 10% left"
    assert server.requests[0].json()["model"] == "llama-3.3-70b-versatile"


def test_models_probe(server):
    server.route("GET", "/openai/v1/models", body=fixture("groq", "models"))
    snap = fetch(server, probe="models")
    assert snap.status == "OK" and snap.rate_limits is None and snap.extras["rate_limits"] == "not sent on this probe"


def test_missing_key(server):
    with pytest.raises(ProviderError, match="set GROQ_API_KEY"):
        fetch(server, environ={})


@pytest.mark.parametrize("status, name, headers, expected", [
    (401, "error_401", {}, "AUTH"),
    (429, "error_429", {"retry-after": "1", "x-ratelimit-reset-tokens": "260ms"}, "LIMIT"),
])
def test_http_failures(server, status, name, headers, expected):
    assert PROBE.error(server, status, fixture("groq", name), headers).status == expected
    chat = Endpoint("POST", "/openai/v1/chat/completions", lambda srv, **kw: fetch(srv, probe="chat", **kw))
    assert chat.error(server, status, fixture("groq", name), headers).status == expected


def test_server_error_timeout_malformed(server):
    assert "server error 500" in PROBE.error(server, 500, {"error": {"message": "x"}}).message
    PROBE.check_timeout_and_malformed(server, b"<html>captive portal</html>", "probe answer is not valid JSON",
                                      HEADERS)


def test_detection():
    assert GroqProvider().detect({"GROQ_API_KEY": KEY}, "/h", lambda n: None)[0].api_key_env == "GROQ_API_KEY"
