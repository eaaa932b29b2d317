import json

import pytest
from fakeserver import Endpoint, fixture, run_fetch

from openusage.providers.base import AccountConfig, ProviderError
from openusage.providers.mistral import MistralProvider, parse_headers

KEY = "mistral0123456789abcdefghijklmnopq"
HEADERS = {
    "x-ratelimitbysize-limit-minute": "500000",
    "x-ratelimitbysize-remaining-minute": "499994",
    "x-ratelimitbysize-limit-month": "1000000000",
    "x-ratelimitbysize-remaining-month": "150000000",
    "ratelimitbysize-reset": "42",
    "ratelimitbysize-limit": "500000",
    "ratelimitbysize-remaining": "499994",
}


def fetch(srv, environ=None, **extra):
    extra.setdefault("timeout_seconds", 2)
    acct = AccountConfig(id="mistral", provider="mistral", base_url=srv.url + "/v1", extra=extra)
    return run_fetch(MistralProvider(), acct, {"MISTRAL_API_KEY": KEY} if environ is None else environ)


PROBE = Endpoint("GET", "/v1/models", fetch)  # the default probe: free


def test_token_windows_per_minute_and_month(server):
    server.route("POST", "/v1/chat/completions", body=fixture("mistral", "chat_completion"), headers=HEADERS)
    snap = fetch(server, probe="chat")
    tpm, month = snap.rate_limits["tpm"], snap.rate_limits["monthly_tokens"]
    assert (tpm.limit, tpm.remaining, tpm.resets_at) == (500000, 499994, "2026-11-22T12:00:42.000Z")
    assert (month.limit, month.remaining, month.used_percent) == (1e9, 1.5e8, 85.0)
    assert snap.status == "WARN" and snap.message == "monthly_tokens 15% left"
    assert server.requests[0].json()["model"] == "mistral-small-latest"
    server.assert_secret_only_in(KEY, "Authorization", f"Bearer {KEY}")
    assert KEY not in json.dumps(snap.to_dict())


def test_other_header_spellings():
    limits = parse_headers({"x-ratelimit-limit-requests": "5", "x-ratelimit-remaining-requests": "0",
                            "x-ratelimit-reset-requests": "1", "x-ratelimit-limit-tokens": "100",
                            "x-ratelimit-remaining-tokens": "90", "ratelimit-limit": "60",
                            "ratelimit-remaining": "59", "ratelimit-reset": "30"}, 0.0)
    assert set(limits) == {"rps", "tpm", "requests"}
    assert limits["rps"].remaining == 0 and limits["requests"].resets_at == "1970-01-01T00:00:30.000Z"


def test_the_default_probe_is_the_free_model_list(server):
    server.route("GET", "/v1/models", body=fixture("mistral", "models"), headers=HEADERS)
    snap = fetch(server)
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/v1/models")]
    assert snap.rate_limits["tpm"].remaining == 499994 and snap.extras["models_available"] == 2


def test_no_probe_sends_nothing(server):
    snap = fetch(server, probe="none")
    assert server.requests == [] and snap.status == "OK" and snap.rate_limits is None


def test_an_unknown_probe_is_a_clear_error(server):
    with pytest.raises(ProviderError, match="probe 'completion' is not one of 'models', 'chat', 'none'"):
        fetch(server, probe="completion")
    assert server.requests == []


def test_models_probe_counts_models(server):
    server.route("GET", "/v1/models", body=fixture("mistral", "models"))
    snap = fetch(server, probe="models")
    assert snap.status == "OK" and snap.extras["models_available"] == 2 and snap.rate_limits is None


def test_missing_key(server):
    with pytest.raises(ProviderError, match="set MISTRAL_API_KEY"):
        fetch(server, environ={})


@pytest.mark.parametrize("status, name, headers, expected", [
    (401, "error_401", {}, "AUTH"),
    (429, "error_429", {"ratelimitbysize-reset": "12", "retry-after": "12"}, "LIMIT"),
])
def test_http_failures(server, status, name, headers, expected):
    assert PROBE.error(server, status, fixture("mistral", name), headers).status == expected


def test_server_error_timeout_malformed(server):
    assert "server error 503" in PROBE.error(server, 503, {"message": "unavailable"}).message
    PROBE.check_timeout_and_malformed(server, b"nope", "probe answer is not valid JSON", HEADERS)


def test_detection():
    assert MistralProvider().detect({"MISTRAL_API_KEY": KEY}, "/h", lambda n: None)[0].provider == "mistral"
