import json

import pytest
from fakeserver import Endpoint, fixture, run_fetch

from openusage.providers.azure_openai import AzureOpenAIProvider, probe_request
from openusage.providers.base import AccountConfig, ProviderError

KEY = "0123456789abcdef0123456789abcdef"
PATH = "/openai/deployments/chat-prod/chat/completions"
HEADERS = {
    "x-ratelimit-limit-requests": "60",
    "x-ratelimit-remaining-requests": "59",
    "x-ratelimit-limit-tokens": "60000",
    "x-ratelimit-remaining-tokens": "59990",
    "x-ratelimit-reset-tokens": "1",
}


def fetch(srv, environ=None, base=True, **extra):
    extra.setdefault("timeout_seconds", 2)
    extra.setdefault("deployment", "chat-prod")
    acct = AccountConfig(id="azure_openai", provider="azure_openai", base_url=srv.url if base else None, extra=extra)
    return run_fetch(AzureOpenAIProvider(), acct, {"AZURE_OPENAI_API_KEY": KEY} if environ is None else environ)


PROBE = Endpoint("GET", "/openai/deployments", fetch)  # the default probe: free
CHAT = Endpoint("POST", PATH, lambda srv, **kw: fetch(srv, probe="chat", **kw))


def test_the_default_probe_lists_deployments_for_free(server):
    server.route("GET", "/openai/deployments", body=fixture("azure_openai", "deployments"), headers=HEADERS)
    snap = fetch(server)
    assert [(r.method, r.path, r.query) for r in server.requests] == [
        ("GET", "/openai/deployments", {"api-version": ["2024-10-21"]})]
    assert snap.rate_limits["rpm"].remaining == 59 and snap.status == "OK"
    server.assert_secret_only_in(KEY, "api-key", KEY)
    server.route("GET", "/openai/v1/models", body={"data": [], "object": "list"})
    fetch(server, api_version="v1")
    assert server.requests[-1].path == "/openai/v1/models"
    assert AzureOpenAIProvider().polling().startswith("free")
    assert AzureOpenAIProvider().polling(AccountConfig(id="a", provider="azure_openai",
                                                       extra={"probe": "chat"})).startswith("BILLED")


def test_deployment_probe(server):
    server.route("POST", PATH, body=fixture("azure_openai", "chat_completion"), headers=HEADERS)
    snap = fetch(server, probe="chat")
    assert snap.status == "OK"
    assert snap.rate_limits["rpm"].remaining == 59 and snap.rate_limits["tpm"].used == 10
    assert snap.rate_limits["tpm"].resets_at == "2026-11-22T12:00:01.000Z"
    assert snap.extras == {"deployment": "chat-prod", "api_version": "2024-10-21", "model": "gpt-4o-mini-2024-07-18",
                           "polling": 'BILLED: a one-token completion each poll ("probe": "chat")'}
    req = server.requests[0]
    assert req.query == {"api-version": ["2024-10-21"]} and req.json()["max_tokens"] == 1
    server.assert_secret_only_in(KEY, "api-key", KEY)
    assert "authorization" not in req.headers
    assert KEY not in json.dumps(snap.to_dict())


def test_remaining_only_and_minus_one_headers(server):
    server.route("POST", PATH, body=fixture("azure_openai", "chat_completion"),
                 headers={"x-ratelimit-remaining-requests": "0", "x-ratelimit-limit-tokens": "-1",
                          "x-ratelimit-remaining-tokens": "-1", "x-ratelimit-reset-tokens": "0"})
    snap = fetch(server, probe="chat")
    assert set(snap.rate_limits) == {"rpm"} and snap.rate_limits["rpm"].limit is None
    assert snap.status == "LIMIT" and snap.message == "rpm exhausted"


def test_endpoint_and_deployment_from_the_environment(server):
    server.route("POST", "/openai/deployments/from-env/chat/completions",
                 body=fixture("azure_openai", "chat_completion"), headers=HEADERS)
    snap = fetch(server, base=False, deployment=None, probe="chat", environ={
        "AZURE_OPENAI_API_KEY": KEY, "AZURE_OPENAI_ENDPOINT": server.url + "/",
        "AZURE_OPENAI_DEPLOYMENT_NAME": "from-env"})
    assert snap.extras["deployment"] == "from-env"


def test_v1_api(server):
    server.route("POST", "/openai/v1/chat/completions", body=fixture("azure_openai", "chat_completion"),
                 headers=HEADERS)
    fetch(server, api_version="v1", probe="chat")
    assert server.requests[0].json()["model"] == "chat-prod" and server.requests[0].query == {}


def test_probe_request_shapes():
    url, body = probe_request("https://r.openai.azure.com/openai/", "d", "2025-04-01-preview")
    assert url == "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2025-04-01-preview"
    assert probe_request("https://r.openai.azure.com/openai/v1", "d", "v1")[0] == \
        "https://r.openai.azure.com/openai/v1/chat/completions"


def test_missing_settings_and_key(server):
    with pytest.raises(ProviderError, match="set AZURE_OPENAI_API_KEY"):
        fetch(server, environ={})
    with pytest.raises(ProviderError, match="needs base_url"):
        fetch(server, base=False)
    with pytest.raises(ProviderError, match="needs \"deployment\""):
        fetch(server, deployment=None)


@pytest.mark.parametrize("status, name, headers, expected, words", [
    (401, "error_401", {}, "AUTH", "refused"),
    (404, "error_404", {}, "ERR", "deployment for this resource does not exist"),
    (429, "error_429", {"retry-after": "6"}, "LIMIT", "rate limited until"),
    (500, "error_429", {}, "ERR", "server error 500"),
])
def test_http_failures(server, status, name, headers, expected, words):
    err = CHAT.error(server, status, fixture("azure_openai", name), headers)
    assert err.status == expected and words in err.message
    err = PROBE.error(server, status, fixture("azure_openai", name), headers)
    assert err.status == expected


def test_timeout_and_malformed_json(server):
    PROBE.check_timeout_and_malformed(server, b"<html>", "probe answer is not valid JSON", HEADERS)
    CHAT.check_timeout_and_malformed(server, b"<html>", "probe answer is not valid JSON", HEADERS)


def test_detection_takes_endpoint_and_deployment():
    found = AzureOpenAIProvider().detect({"AZURE_OPENAI_API_KEY": KEY, "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com",
                                          "AZURE_OPENAI_DEPLOYMENT_NAME": "d"}, "/h", lambda n: None)
    assert [(a.base_url, a.extra, a.detected_by) for a in found] == [
        ("https://r.openai.azure.com", {"deployment": "d"}, "env:AZURE_OPENAI_API_KEY")]
