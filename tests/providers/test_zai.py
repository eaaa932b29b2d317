import json

import pytest
from fakeserver import Endpoint, fixture, run_fetch

from openusage.providers.base import AccountConfig, ProviderError
from openusage.providers.zai import CHINA_BASE, GLOBAL_BASE, ZAIProvider, resolve_base, window_name

KEY = "0123456789abcdef0123456789abcdef.AbCdEfGhIjKlMnOp"
PATH = "/api/monitor/usage/quota/limit"


def fetch(srv, environ=None, **extra):
    extra.setdefault("timeout_seconds", 2)
    acct = AccountConfig(id="zai", provider="zai", base_url=srv.url, extra=extra)
    return run_fetch(ZAIProvider(), acct, {"ZAI_API_KEY": KEY} if environ is None else environ)


QUOTA = Endpoint("GET", PATH, fetch)


def test_quota_windows(server):
    server.route("GET", PATH, body=fixture("zai", "quota_limit"))
    snap = fetch(server)
    assert set(snap.rate_limits) == {"5h", "weekly", "mcp"}
    five = snap.rate_limits["5h"]
    assert (five.used_percent, five.limit, five.resets_at) == (42, None, "2026-11-22T14:00:00.000Z")
    mcp = snap.rate_limits["mcp"]
    assert (mcp.limit, mcp.used, mcp.remaining, mcp.used_percent) == (1000, 120, 880, 12.0)
    assert snap.status == "WARN" and snap.message == "weekly 15% left"
    assert snap.extras == {"mcp_usage": {"search-prime": 100, "web-reader": 20, "zread": 0}, "plan": "pro"}
    server.assert_secret_only_in(KEY, "Authorization", KEY)  # raw, as the official plugin sends it
    assert KEY not in json.dumps(snap.to_dict())


def test_exhausted_window_is_limit(server):
    server.route("GET", PATH, body=fixture("zai", "quota_exhausted"))
    snap = fetch(server, environ={"Z_AI_API_KEY": KEY})
    assert snap.status == "LIMIT" and snap.message == "5h exhausted until 2026-11-22T14:00:00.000Z"
    assert snap.extras["plan"] == "GLM Coding Lite"


def test_bearer_is_tried_after_a_401(server):
    def answer(req):
        if req.headers["authorization"].startswith("Bearer "):
            return 200, {}, fixture("zai", "quota_limit")
        return 401, {}, fixture("zai", "error_401")

    server.route("GET", PATH, handler=answer)
    assert fetch(server).rate_limits["5h"].used_percent == 42
    assert [r.headers["authorization"] for r in server.requests] == [KEY, f"Bearer {KEY}"]


def test_refused_both_ways_is_auth(server):
    assert QUOTA.error(server, 401, fixture("zai", "error_401")).status == "AUTH" and len(server.requests) == 2


def test_failure_inside_a_200_is_err(server):
    err = QUOTA.error(server, body=fixture("zai", "quota_failed"))
    assert err.status == "ERR" and "Authorization Token missing" in err.message


def test_missing_key(server):
    with pytest.raises(ProviderError, match="set ZAI_API_KEY"):
        fetch(server, environ={})


@pytest.mark.parametrize("status, headers, expected", [(429, {"retry-after": "60"}, "LIMIT"), (500, {}, "ERR"),
                                                       (403, {}, "AUTH")])
def test_http_failures(server, status, headers, expected):
    assert QUOTA.error(server, status, {"code": status, "msg": "x", "success": False}, headers).status == expected


def test_timeout_and_malformed_json(server):
    QUOTA.check_timeout_and_malformed(server, b"{{", "quota is not valid JSON")


def test_names_and_regions():
    assert window_name({"type": "TOKENS_LIMIT", "unit": 1, "number": 1}) == "1d"
    assert window_name({"type": "TOKENS_LIMIT", "unit": 6, "number": 2}) == "2w"
    assert window_name({"type": "CREDIT_LIMIT"}) == "credits"
    assert resolve_base(AccountConfig(id="z", provider="zai")) == GLOBAL_BASE
    assert resolve_base(AccountConfig(id="z", provider="zai", extra={"region": "cn"})) == CHINA_BASE


def test_detection():
    assert ZAIProvider().detect({"Z_AI_API_KEY": KEY}, "/h", lambda n: None)[0].api_key_env == "Z_AI_API_KEY"


def test_a_key_echoed_in_an_error_is_masked(server):
    err = QUOTA.error(server, 400, {"error": {"message": f"bad token {KEY}"}})
    assert err.status == "ERR" and KEY not in err.message
