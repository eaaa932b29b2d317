"""Gemini CLI's live plan quotas against local fakes of Code Assist and Google's token endpoint."""
from urllib.parse import parse_qs

import pytest
from fakeserver import NOW
from quota_helpers import account, digest, fetch, write_json

from openusage.agents.gemini_cli import GeminiCLIProvider
from openusage.providers import quota_gemini

PROVIDER = GeminiCLIProvider()
TOKEN = "ya29.test-access-token-0123456789"
FRESH = "ya29.refreshed-in-memory-9876543210"
REFRESH = "1//refresh-token-never-rotates"
LOAD = {"currentTier": {"id": "standard-tier", "name": "Gemini Code Assist Standard"},
        "cloudaicompanionProject": "proj-123", "allowedTiers": []}
QUOTA = {"buckets": [
    {"modelId": "gemini-2.5-pro", "tokenType": "REQUESTS", "remainingFraction": 0.5, "remainingAmount": "500",
     "resetTime": "2026-11-23T00:00:00Z"},
    {"modelId": "gemini-2.5-pro_vertex", "tokenType": "REQUESTS", "remainingFraction": 0.25,
     "resetTime": "2026-11-23T00:00:00Z"},
    {"modelId": "gemini-2.5-flash", "tokenType": "REQUESTS", "remainingFraction": 0.9,
     "resetTime": "2026-11-23T00:00:00Z"},
    {"modelId": "gemini-2.5-flash-lite", "tokenType": "REQUESTS", "remainingFraction": 1.0},
]}


@pytest.fixture(autouse=True)
def forget_refreshed():
    quota_gemini._REFRESHED.clear()
    yield
    quota_gemini._REFRESHED.clear()


def creds(home, expiry=NOW + 3600, access=TOKEN):
    (home / ".gemini" / "tmp").mkdir(parents=True, exist_ok=True)
    return write_json(str(home / ".gemini" / "oauth_creds.json"), {
        "access_token": access, "refresh_token": REFRESH, "scope": "https://www.googleapis.com/auth/cloud-platform",
        "token_type": "Bearer", "id_token": "eyJ.x.y", "expiry_date": int(expiry * 1000)})


def routes(srv, quota=None):
    srv.route("POST", "/v1internal:loadCodeAssist", body=LOAD)
    srv.route("POST", "/v1internal:retrieveUserQuota", **(quota or {"body": QUOTA}))


def test_one_gauge_per_family(server, isolated_home):
    creds(isolated_home)
    routes(server)
    snap = fetch(PROVIDER, account("gemini_cli", server), isolated_home, {})
    limits = snap.rate_limits
    assert {n: lim.used_percent for n, lim in limits.items()} == {"pro": 75.0, "flash": 10.0, "flash-lite": 0.0}
    assert limits["pro"].resets_at == "2026-11-23T00:00:00.000Z" and limits["pro"].source == "oauth"
    assert snap.extras["plan"] == "Gemini Code Assist Standard"
    assert server.requests[1].json() == {"project": "proj-123"}
    assert server.requests[0].json()["metadata"]["pluginType"] == "GEMINI"
    server.assert_secret_only_in(TOKEN, "authorization", f"Bearer {TOKEN}")


def test_an_expired_token_is_refreshed_in_memory_only(server, isolated_home):
    path = creds(isolated_home, expiry=NOW - 100)
    before = digest(path)
    routes(server)
    server.route("POST", "/token", body={"access_token": FRESH, "expires_in": 3599, "token_type": "Bearer"})
    acct = account("gemini_cli", server, oauth_api_base=server.url)
    state = {}
    snap = fetch(PROVIDER, acct, isolated_home, state)
    form = parse_qs(server.requests[0].body.decode())
    assert server.requests[0].path == "/token"
    assert form == {"client_id": [quota_gemini.OAUTH_CLIENT_ID], "client_secret": [quota_gemini.OAUTH_CLIENT_SECRET],
                    "refresh_token": [REFRESH], "grant_type": ["refresh_token"]}
    assert server.requests[1].headers["authorization"] == f"Bearer {FRESH}"
    assert snap.rate_limits["pro"].used_percent == 75.0
    fetch(PROVIDER, acct, isolated_home, state, now=NOW + 120)
    assert [r.path for r in server.requests].count("/token") == 1  # the fresh token is kept in memory
    assert digest(path) == before
    assert FRESH not in repr(state) and TOKEN not in repr(state)


@pytest.mark.parametrize("answer", [{"status": 400, "body": {"error": "invalid_grant"}}, {"status": 401}])
def test_a_failed_refresh_is_auth(server, isolated_home, answer):
    creds(isolated_home, expiry=NOW - 100)
    routes(server)
    server.route("POST", "/token", **answer)
    snap = fetch(PROVIDER, account("gemini_cli", server, oauth_api_base=server.url), isolated_home, {})
    assert snap.status == "AUTH" and "run `gemini` to sign in again" in snap.message


@pytest.mark.parametrize("code", [401, 403])
def test_a_refused_token_is_auth(server, isolated_home, code):
    creds(isolated_home)
    routes(server, {"status": code})
    snap = fetch(PROVIDER, account("gemini_cli", server), isolated_home, {})
    assert snap.status == "AUTH" and snap.message == f"Gemini quota refused ({code}): run `gemini` to sign in again"


def test_missing_credentials_make_no_request(server, isolated_home):
    (isolated_home / ".gemini" / "tmp").mkdir(parents=True)
    routes(server)
    snap = fetch(PROVIDER, account("gemini_cli", server), isolated_home, {})
    assert server.requests == [] and not snap.rate_limits and snap.status == "OK"


@pytest.mark.parametrize("route, message", [
    ({"status": 429, "headers": {"Retry-After": "90"}}, "Gemini quota: rate limited, retrying after 90s"),
    ({"status": 500}, "Gemini quota failed: server error 500"),
    ({"raw": b"{"}, "Gemini quota is not valid JSON"),
    ({"body": {"nothing": []}}, "Gemini quota answer has no buckets"),
    ({"delay": 3}, "Gemini quota: request timed out"),
])
def test_failures_keep_the_last_reading(server, isolated_home, route, message):
    creds(isolated_home, expiry=NOW + 86400)
    acct = account("gemini_cli", server, timeout_seconds=0.3)
    state = {}
    routes(server)
    fetch(PROVIDER, acct, isolated_home, state, now=NOW)
    routes(server, route)
    snap = fetch(PROVIDER, acct, isolated_home, state, now=NOW + 60)
    assert snap.status == "OK" and snap.extras["quota_error"] == message
    assert snap.rate_limits["pro"].used_percent == 75.0


def test_credentials_stay_byte_identical(server, isolated_home):
    path = creds(isolated_home, expiry=NOW + 30 * 3600)
    before = digest(path)
    server.route("POST", "/token", body={"access_token": FRESH, "expires_in": 3599})
    acct = account("gemini_cli", server, oauth_api_base=server.url)
    state = {}
    answers = [{"body": QUOTA}, {"status": 401}, {"status": 429, "headers": {"Retry-After": "1"}}, {"status": 500}]
    for i in range(20):  # the token expires half-way: refreshes happen, the file stays as it was
        routes(server, answers[i % len(answers)])
        fetch(PROVIDER, acct, isolated_home, state, now=NOW + i * 7200)
    assert "/token" in [r.path for r in server.requests]
    assert digest(path) == before


def test_family_names():
    assert [quota_gemini.family(m) for m in ("gemini-2.5-pro", "gemini-2.0-flash-lite", "gemini-3-pro-preview-11",
                                              "gemini-2.5-flash_vertex", "text-bison")] == [
        "pro", "flash-lite", "pro", "flash", "text-bison"]


def test_gemini_cli_home_moves_the_credentials(server, isolated_home, tmp_path):
    other = tmp_path / "elsewhere"
    creds(other)
    (isolated_home / ".gemini" / "tmp").mkdir(parents=True)
    routes(server)
    snap = fetch(PROVIDER, account("gemini_cli", server), isolated_home, {}, environ={"GEMINI_CLI_HOME": str(other)})
    assert snap.rate_limits["pro"].source == "oauth"
