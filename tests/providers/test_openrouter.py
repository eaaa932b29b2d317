import json

import pytest
from fakeserver import Endpoint, fixture, run_fetch

from openusage.core.timeutil import format_rfc3339
from openusage.providers.base import AccountConfig, ProviderError
from openusage.providers.openrouter import OpenRouterProvider, next_reset, parse_activity

KEY = "sk-or-v1-0123456789abcdef0123456789abcdef"
MANAGER = "sk-or-v1-managementkey00000000000000000"
NOW = 1795348800.0  # Sunday 2026-11-22T12:00:00Z


def fetch(srv, environ=None, state=None, **extra):
    extra.setdefault("timeout_seconds", 2)
    acct = AccountConfig(id="openrouter", provider="openrouter", api_key_env="OPENROUTER_API_KEY",
                         base_url=srv.url + "/api/v1", extra=extra)
    return run_fetch(OpenRouterProvider(), acct, {"OPENROUTER_API_KEY": KEY} if environ is None else environ,
                     state=state)


KEY_INFO = Endpoint("GET", "/api/v1/key", fetch)


def routes(srv, key="key", credits="credits", activity="activity"):
    srv.route("GET", "/api/v1/key", body=fixture("openrouter", key))
    srv.route("GET", "/api/v1/credits", body=fixture("openrouter", credits))
    srv.route("GET", "/api/v1/activity", body=fixture("openrouter", activity))


def test_key_credits_and_activity(server):
    routes(server)
    snap = fetch(server)
    assert snap.status == "OK" and snap.currency == "USD"
    # Nothing here is the window's: the account's lifetime usage and the key's UTC month to date.
    assert (snap.spend.total, snap.spend.lifetime, snap.spend.cycle, snap.spend.limits.hard) == (
        None, 25.75, 20.75, 100)
    assert snap.period_of("spend.lifetime").to_dict() == {"kind": "lifetime"}
    assert snap.period_of("spend.cycle").to_dict() == {"kind": "month_to_date", "start": "2026-11-01T00:00:00.000Z"}
    assert snap.period_of("models").to_dict() == {"kind": "days", "start": "2026-10-23T00:00:00.000Z",
                                                  "end": "2026-11-22T00:00:00.000Z"}
    assert snap.period_of("spend.total") is None and snap.period_of("daily") is None
    # A first poll knows no window's spend but `all`, which is the account's lifetime usage.
    assert snap.extras["window_spend"] == {"all": {"total": 25.75}}
    assert snap.spend.balance.cash == 74.75
    limit = snap.rate_limits["credit_limit"]
    assert (limit.limit, limit.remaining, limit.used, limit.used_percent) == (100, 74.5, 25.5, 25.5)
    assert limit.resets_at == "2026-12-01T00:00:00.000Z"
    assert snap.extras["usage_daily"] == 1.25 and snap.extras["limit_reset"] == "monthly"
    assert snap.extras["total_credits"] == 100.5 and snap.extras["rate_limit"] == "-1 requests / 10s"
    sonnet, gpt = snap.models
    assert (sonnet.model, sonnet.input, sonnet.output, sonnet.requests, sonnet.cost) == (
        "anthropic/claude-sonnet-4.5", 10000, 2000, 2, 0.5)
    assert (gpt.input, gpt.output, gpt.reasoning, gpt.requests, gpt.cost) == (150, 375, 75, 15, 0.045)
    assert [(d.date, d.cost, d.tokens, d.requests) for d in snap.daily] == [
        ("2026-11-20", 0.515, 12175, 7), ("2026-11-21", 0.03, 350, 10)]
    assert server.paths() == ["/api/v1/key", "/api/v1/credits", "/api/v1/activity"]
    server.assert_secret_only_in(KEY, "Authorization", f"Bearer {KEY}")
    assert KEY not in json.dumps(snap.to_dict())


def test_management_key_reads_credits_and_activity(server):
    routes(server)
    fetch(server, environ={"OPENROUTER_API_KEY": KEY, "OPENROUTER_MANAGEMENT_KEY": MANAGER})
    auth = {r.path: r.headers["authorization"] for r in server.requests}
    assert auth == {"/api/v1/key": f"Bearer {KEY}", "/api/v1/credits": f"Bearer {MANAGER}",
                    "/api/v1/activity": f"Bearer {MANAGER}"}


def test_keys_that_cannot_read_credits_or_activity_still_work(server):
    server.route("GET", "/api/v1/key", body=fixture("openrouter", "key_free"))
    server.route("GET", "/api/v1/credits", status=403, body=fixture("openrouter", "error_403_management"))
    server.route("GET", "/api/v1/activity", status=401, body=fixture("openrouter", "error_401"))
    snap = fetch(server)
    assert snap.status == "OK" and snap.rate_limits is None and snap.spend.limits is None
    assert snap.extras["is_free_tier"] is True
    assert snap.extras["credits_unavailable"] == snap.extras["activity_unavailable"] == "needs a management key"


def test_activity_can_be_switched_off(server):
    routes(server)
    fetch(server, activity=False)
    assert "/api/v1/activity" not in server.paths()


def test_low_credits_warn_and_used_up_limit(server):
    routes(server, credits="credits_low")
    snap = fetch(server)
    assert snap.status == "WARN" and snap.message == "credits 10% left"
    server.route("GET", "/api/v1/credits", body={"data": {"total_credits": 10, "total_usage": 10}})
    assert fetch(server).status == "LIMIT"


def test_exhausted_key_limit_is_limit(server):
    key = fixture("openrouter", "key")
    key["data"].update(limit_remaining=0, usage=100)
    routes(server)
    server.route("GET", "/api/v1/key", body=key)
    snap = fetch(server)
    assert snap.status == "LIMIT" and "credit_limit exhausted until 2026-12-01" in snap.message


def test_missing_key(server):
    with pytest.raises(ProviderError) as info:
        fetch(server, environ={})
    assert info.value.status == "AUTH" and info.value.message == "no API key: set OPENROUTER_API_KEY"


@pytest.mark.parametrize("status, body, headers, expected", [
    (401, fixture("openrouter", "error_401"), {}, "AUTH"),
    (429, fixture("openrouter", "error_429"), {"X-RateLimit-Reset": "1795348860000"}, "LIMIT"),
    (502, {"error": {"message": "Bad gateway"}}, {}, "ERR"),
])
def test_key_endpoint_failures(server, status, body, headers, expected):
    err = KEY_INFO.error(server, status, body, headers)
    assert err.status == expected
    if expected == "LIMIT":
        assert err.resets_at == "2026-11-22T12:01:00.000Z"


def test_server_errors_on_credits_keep_the_key_data(server):
    routes(server)
    server.route("GET", "/api/v1/credits", status=500, body={"error": {"message": "boom"}})
    snap = fetch(server)
    assert snap.status == "ERR" and snap.message == "credits failed: server error 500"
    assert snap.spend.lifetime == 25.5 and snap.models  # key usage and activity still there
    # The key's lifetime usage is not the account's: it is no ground for the `all` window.
    assert "all" not in snap.extras.get("window_spend", {})


def test_timeout_and_malformed_json(server):
    KEY_INFO.check_timeout_and_malformed(server, b'{"data": ', "key info is not valid JSON")


def test_next_reset_periods():
    assert next_reset("daily", NOW) == "2026-11-23T00:00:00.000Z"
    assert next_reset("weekly", NOW) == "2026-11-23T00:00:00.000Z"  # Monday
    assert next_reset("weekly", NOW - 5 * 86400) == "2026-11-23T00:00:00.000Z"  # from Tuesday
    assert next_reset("monthly", 1797292800.0) == "2027-01-01T00:00:00.000Z"  # from 2026-12-15
    assert next_reset(None, NOW) is None


def test_parse_activity_skips_junk_rows():
    models, daily = parse_activity([None, {"model_permaslug": "x/y", "usage": "0.5"}])
    assert models[0].model == "x/y" and models[0].cost == 0.5 and daily == []


def test_detection():
    found = OpenRouterProvider().detect({"OPENROUTER_API_KEY": KEY}, "/h", lambda n: None)
    assert [(a.id, a.api_key_env, a.detected_by) for a in found] == [
        ("openrouter", "OPENROUTER_API_KEY", "env:OPENROUTER_API_KEY")]


def test_window_spend_from_lifetime_usage_observed_over_time(server):
    """The 1d window's spend is the lifetime usage now minus the usage at the last poll before local
    midnight; 3d is unknown (no poll before it), never guessed."""
    from openusage.core.windows import local_midnight

    state = {}
    usage = {"value": 0.0}

    def credits(req):
        return 200, {}, {"data": {"total_credits": 500.0, "total_usage": usage["value"]}}

    server.route("GET", "/api/v1/key", body=fixture("openrouter", "key"))
    server.route("GET", "/api/v1/credits", handler=credits)
    acct = AccountConfig(id="openrouter", provider="openrouter", api_key_env="OPENROUTER_API_KEY",
                         base_url=server.url + "/api/v1", extra={"timeout_seconds": 2, "activity": False})
    midnight = local_midnight(NOW)
    for at, value in ((midnight - 1500, 10.0), (midnight - 300, 10.25), (NOW, 12.0)):
        usage["value"] = value
        snap = run_fetch(OpenRouterProvider(), acct, {"OPENROUTER_API_KEY": KEY}, state=state, now=at)
    assert snap.extras["window_spend"] == {"1d": {"total": 1.75, "start": format_rfc3339(midnight - 300)},
                                           "all": {"total": 12.0}}
    assert state["spend_samples"] == {"times": [midnight - 1500, midnight - 300, NOW],
                                      "totals": [10.0, 10.25, 12.0]}
