import json

import pytest
from fakeserver import Endpoint, fixture, run_fetch

from openusage.providers.base import AccountConfig, ProviderError
from openusage.providers.xai import XAIProvider

KEY = "xai-0123456789abcdefghijklmnopqrstuvwxyzb14o"
MANAGER = "xai-token-management0123456789abcdef"
TEAM = "5ea6f6bd-7815-4b8a-9135-28b2d7ba6722"


def fetch(srv, environ=None, **extra):
    extra.setdefault("timeout_seconds", 2)
    extra.setdefault("management_base_url", srv.url)
    acct = AccountConfig(id="xai", provider="xai", base_url=srv.url + "/v1", extra=extra)
    return run_fetch(XAIProvider(), acct, {"XAI_API_KEY": KEY} if environ is None else environ)


KEY_INFO = Endpoint("GET", "/v1/api-key", fetch)


def test_key_info(server):
    server.route("GET", "/v1/api-key", body=fixture("xai", "api_key"))
    snap = fetch(server)
    assert snap.status == "OK" and snap.rate_limits is None
    assert snap.extras["redacted_api_key"] == "xai-...b14o" and snap.extras["team_id"] == TEAM
    assert snap.extras["acls"] == ["api-key:model:*", "api-key:endpoint:*"]
    assert server.paths() == ["/v1/api-key"]
    server.assert_secret_only_in(KEY, "Authorization", f"Bearer {KEY}")
    assert KEY not in json.dumps(snap.to_dict())


def test_blocked_key_is_auth(server):
    info = dict(fixture("xai", "api_key"), api_key_blocked=True, team_blocked=True)
    server.route("GET", "/v1/api-key", body=info)
    snap = fetch(server)
    assert snap.status == "AUTH" and snap.message == "API key blocked, team blocked"


def test_chat_probe_reads_rate_limit_headers(server):
    server.route("GET", "/v1/api-key", body=fixture("xai", "api_key"))
    server.route("POST", "/v1/chat/completions", body=fixture("xai", "chat_completion"),
                 headers={"x-ratelimit-limit-requests": "480", "x-ratelimit-remaining-requests": "479",
                          "x-ratelimit-limit-tokens": "2000000", "x-ratelimit-remaining-tokens": "1999990"})
    snap = fetch(server, probe="chat")
    assert snap.rate_limits["rpm"].remaining == 479 and snap.rate_limits["tpm"].limit == 2000000
    assert server.requests[1].json()["model"] == "grok-3-mini"


def test_management_key_reads_the_prepaid_balance(server):
    server.route("GET", "/v1/api-key", body=fixture("xai", "api_key"))
    server.route("GET", f"/v1/billing/teams/{TEAM}/prepaid/balance", body=fixture("xai", "prepaid_balance"))
    snap = fetch(server, environ={"XAI_API_KEY": KEY, "XAI_MANAGEMENT_KEY": MANAGER})
    assert snap.currency == "USD" and snap.spend.balance.cash == 17.5
    assert snap.extras["prepaid_total_cents"] == -1750
    auth = [r.headers["authorization"] for r in server.requests]
    assert auth == [f"Bearer {KEY}", f"Bearer {MANAGER}"]


def test_prepaid_failure_is_partial(server):
    server.route("GET", "/v1/api-key", body=fixture("xai", "api_key"))
    server.route("GET", f"/v1/billing/teams/{TEAM}/prepaid/balance", status=403, body={"error": "forbidden"})
    snap = fetch(server, environ={"XAI_API_KEY": KEY, "XAI_MANAGEMENT_KEY": MANAGER})
    assert snap.status == "AUTH" and snap.message.startswith("prepaid balance refused (403)") and snap.extras["name"]


def test_missing_key(server):
    with pytest.raises(ProviderError, match="set XAI_API_KEY"):
        fetch(server, environ={})


@pytest.mark.parametrize("status, body, headers, expected", [
    (400, fixture("xai", "error_400"), {}, "AUTH"),
    (401, {"error": "unauthorized"}, {}, "AUTH"),
    (429, {"error": "too many requests"}, {"retry-after": "5"}, "LIMIT"),
    (500, {"error": "internal"}, {}, "ERR"),
])
def test_http_failures(server, status, body, headers, expected):
    err = KEY_INFO.error(server, status, body, headers)
    assert err.status == expected and KEY not in err.message


def test_timeout_and_malformed_json(server):
    KEY_INFO.check_timeout_and_malformed(server, b"]", "key info is not valid JSON")


def test_detection():
    assert XAIProvider().detect({"XAI_API_KEY": KEY}, "/h", lambda n: None)[0].detected_by == "env:XAI_API_KEY"
