import json

import pytest
from fakeserver import Endpoint, fixture, run_fetch

from openusage.providers.base import AccountConfig, ProviderError
from openusage.providers.gemini_api import GeminiAPIProvider

KEY = "AIzaSyD-0123456789abcdefghijklmnopqrstu"


def fetch(srv, environ=None, api_key_env=None, **extra):
    extra.setdefault("timeout_seconds", 2)
    acct = AccountConfig(id="gemini_api", provider="gemini_api", api_key_env=api_key_env, base_url=srv.url,
                         extra=extra)
    return run_fetch(GeminiAPIProvider(), acct, {"GEMINI_API_KEY": KEY} if environ is None else environ)


MODELS = Endpoint("GET", "/v1beta/models", fetch)


def pages(req):
    page = "models_page2" if req.query.get("pageToken") else "models_page1"
    return 200, {}, fixture("gemini_api", page)


def test_model_list_across_pages(server):
    server.route("GET", "/v1beta/models", handler=pages)
    snap = fetch(server)
    assert snap.status == "OK" and "not exposed" in snap.message
    assert snap.extras == {"models_available": 3, "generative_models": 2,
                           "model_ids": ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001"]}
    assert [r.query.get("pageToken") for r in server.requests] == [None, ["Chdtb2RlbHMvZ2VtaW5pLTIuNS1wcm8="]]
    server.assert_secret_only_in(KEY, "x-goog-api-key", KEY)  # never ?key= in the URL
    assert KEY not in json.dumps(snap.to_dict())


def test_google_api_key_variable_also_works(server):
    server.route("GET", "/v1beta/models", handler=pages)
    assert fetch(server, environ={"GOOGLE_API_KEY": KEY}).extras["models_available"] == 3


def test_missing_key(server):
    with pytest.raises(ProviderError) as info:
        fetch(server, environ={})
    assert info.value.status == "AUTH" and "GEMINI_API_KEY" in info.value.message


def test_invalid_key_400_is_auth(server):
    err = MODELS.error(server, 400, fixture("gemini_api", "error_400_invalid_key"))
    assert (err.status, err.message) == ("AUTH", "API key not valid")


def test_quota_429_carries_retry_delay_and_quota(server):
    err = MODELS.error(server, 429, fixture("gemini_api", "error_429"))
    assert err.status == "LIMIT" and err.resets_at
    assert "GenerateRequestsPerDayPerProjectPerModel-FreeTier" in err.message


@pytest.mark.parametrize("status, body, expected", [
    (403, fixture("gemini_api", "error_403"), "AUTH"),
    (429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, "LIMIT"),
    (400, {"error": {"code": 400, "message": "Invalid pageSize", "status": "INVALID_ARGUMENT"}}, "ERR"),
    (500, {"error": {"code": 500, "status": "INTERNAL"}}, "ERR"),
])
def test_other_failures(server, status, body, expected):
    assert MODELS.error(server, status, body).status == expected


def test_timeout_and_malformed_json(server):
    MODELS.check_timeout_and_malformed(server, b"<!DOCTYPE html>", "model list is not valid JSON")


def test_detection():
    p = GeminiAPIProvider()
    assert p.detect({"GOOGLE_API_KEY": KEY}, "/h", lambda n: None)[0].api_key_env == "GOOGLE_API_KEY"
    assert p.detect({"GEMINI_API_KEY": KEY, "GOOGLE_API_KEY": KEY}, "/h", lambda n: None)[0].api_key_env == \
        "GEMINI_API_KEY"
