import json

import pytest
from fakeserver import Endpoint, fixture, run_fetch

from openusage.providers.base import AccountConfig, ProviderError
from openusage.providers.openai import OpenAIProvider, completion_tokens, parse_completions

KEY = "sk-test-abcdefghijklmnop1234567890"
ADMIN = "sk-admin-zyxwvutsrqponm0987654321"
HEADERS = {
    "x-ratelimit-limit-requests": "500",
    "x-ratelimit-remaining-requests": "499",
    "x-ratelimit-reset-requests": "120ms",
    "x-ratelimit-limit-tokens": "200000",
    "x-ratelimit-remaining-tokens": "199990",
    "x-ratelimit-reset-tokens": "6m0s",
    "openai-organization": "org-example",
}


def account(srv, **extra):
    extra.setdefault("timeout_seconds", 2)
    return AccountConfig(id="openai", provider="openai", api_key_env="OPENAI_API_KEY", base_url=srv.url + "/v1",
                         extra=extra)


def fetch(srv, environ=None, **extra):
    env = {"OPENAI_API_KEY": KEY} if environ is None else environ
    return run_fetch(OpenAIProvider(), account(srv, **extra), env)


PROBE = Endpoint("GET", "/v1/models/gpt-4o-mini", fetch)  # the default probe: free
CHAT = Endpoint("POST", "/v1/chat/completions", lambda srv, **kw: fetch(srv, probe="chat", **kw))


def test_the_default_poll_sends_no_billed_request(server):
    server.route("GET", "/v1/models/gpt-4o-mini", body=fixture("openai", "model"), headers=HEADERS)
    org_routes(server)
    snap = fetch(server, environ={"OPENAI_API_KEY": KEY, "OPENAI_ADMIN_KEY": ADMIN})
    assert all(r.method == "GET" for r in server.requests)
    assert "/v1/chat/completions" not in server.paths() and snap.rate_limits["rpm"].remaining == 499
    assert OpenAIProvider().polling().startswith("free")
COSTS = Endpoint("GET", "/v1/organization/costs", fetch)


def test_probe_reads_rate_limit_headers(server):
    server.route("POST", "/v1/chat/completions", body=fixture("openai", "chat_completion"), headers=HEADERS)
    snap = fetch(server, probe="chat")
    assert snap.status == "OK" and snap.message is None
    rpm, tpm = snap.rate_limits["rpm"], snap.rate_limits["tpm"]
    assert (rpm.limit, rpm.remaining, rpm.used, rpm.used_percent) == (500, 499, 1, 0.2)
    assert rpm.resets_at == "2026-11-22T12:00:00.120Z" and tpm.resets_at == "2026-11-22T12:06:00.000Z"
    assert snap.extras["organization"] == "org-example"
    sent = server.requests[0].json()
    assert sent["model"] == "gpt-4o-mini" and sent["max_completion_tokens"] == 1
    server.assert_secret_only_in(KEY, "Authorization", f"Bearer {KEY}")
    assert KEY not in json.dumps(snap.to_dict())


@pytest.mark.parametrize("remaining, status, words", [("90", "WARN", "rpm 18% left"), ("0", "LIMIT", "rpm exhausted")])
def test_low_and_exhausted_windows(server, remaining, status, words):
    server.route("GET", "/v1/models/gpt-4o-mini", body=fixture("openai", "model"),
                 headers=dict(HEADERS, **{"x-ratelimit-remaining-requests": remaining}))
    snap = fetch(server)
    assert snap.status == status and words in snap.message


def test_probe_model_and_models_probe(server):
    server.route("GET", "/v1/models/gpt-4.1-nano", body=fixture("openai", "model"), headers=HEADERS)
    acct = account(server, probe="models")
    acct.probe_model = "gpt-4.1-nano"
    snap = run_fetch(OpenAIProvider(), acct, {"OPENAI_API_KEY": KEY})
    assert server.paths() == ["/v1/models/gpt-4.1-nano"] and snap.rate_limits["tpm"].limit == 200000


def test_probe_without_headers_is_ok_and_says_so(server):
    server.route("GET", "/v1/models/gpt-4o-mini", body=fixture("openai", "model"))
    snap = fetch(server, probe="models")
    assert snap.status == "OK" and snap.rate_limits is None and "not sent" in snap.extras["rate_limits"]


def org_routes(srv):
    def costs(req):
        page = "costs_page2" if req.query.get("page") else "costs_page1"
        return 200, {}, fixture("openai", page)

    srv.route("GET", "/v1/organization/costs", handler=costs)
    srv.route("GET", "/v1/organization/usage/completions", body=fixture("openai", "usage_completions"))


def test_admin_key_gives_month_to_date_spend_models_and_daily(server):
    server.route("GET", "/v1/models/gpt-4o-mini", body=fixture("openai", "model"), headers=HEADERS)
    org_routes(server)
    snap = fetch(server, environ={"OPENAI_API_KEY": KEY, "OPENAI_ADMIN_KEY": ADMIN})
    assert snap.status == "OK"
    assert snap.spend.cycle == 1.75 and snap.currency == "USD"
    mini = next(m for m in snap.models if m.model == "gpt-4o-mini-2024-07-18")
    # input_tokens include cached and cache-write tokens: fresh = 1000-800 + 3000-1000-500
    assert (mini.input, mini.cache_read, mini.cache_write, mini.output, mini.requests) == (1700, 1800, 500, 700, 8)
    assert snap.tokens.total == sum(m.total_tokens() for m in snap.models) == 6800
    assert [(d.date, d.cost, d.tokens, d.requests) for d in snap.daily] == [
        ("2026-11-01", 1.25, 3600, 7), ("2026-11-02", 0.5, 3200, 3)]
    assert snap.extras["cycle_start"] == "2026-11-01T00:00:00.000Z"
    costs = [r for r in server.requests if r.path == "/v1/organization/costs"]
    assert [r.query.get("page") for r in costs] == [None, ["page_AAAAAGdGxdEiJdKOAAAAAGcqsYA="]]
    # From 30 whole UTC days back (2026-10-23), so the daily series covers a 30d window too.
    assert costs[0].query["start_time"] == ["1792713600"] and costs[0].query["bucket_width"] == ["1d"]
    month = {"kind": "month_to_date", "start": "2026-11-01T00:00:00.000Z"}
    assert {f: p.to_dict() for f, p in snap.periods.items()} == {
        "spend.cycle": month, "tokens": month, "models": month,
        "daily": {"kind": "days", "start": "2026-10-23T00:00:00.000Z"}}
    assert snap.spend.total is None
    usage = next(r for r in server.requests if r.path == "/v1/organization/usage/completions")
    assert usage.query["group_by"] == ["model"]
    for req in server.requests:
        expected = KEY if req.path == "/v1/models/gpt-4o-mini" else ADMIN
        assert req.headers["authorization"] == f"Bearer {expected}"
        assert KEY not in req.text() and ADMIN not in req.text()
    text = json.dumps(snap.to_dict())
    assert KEY not in text and ADMIN not in text


def test_admin_key_alone_skips_the_probe(server):
    org_routes(server)
    snap = fetch(server, environ={"OPENAI_API_KEY": ADMIN})
    assert "/v1/models/gpt-4o-mini" not in server.paths() and snap.spend.cycle == 1.75 and snap.rate_limits is None


def test_admin_failure_is_partial_when_the_probe_worked(server):
    server.route("GET", "/v1/models/gpt-4o-mini", body=fixture("openai", "model"), headers=HEADERS)
    server.route("GET", "/v1/organization/costs", status=403, body=fixture("openai", "error_admin_403"))
    snap = fetch(server, environ={"OPENAI_API_KEY": KEY, "OPENAI_ADMIN_KEY": ADMIN})
    assert snap.status == "AUTH" and snap.message.startswith("organization usage: ")
    assert snap.rate_limits["rpm"].remaining == 499


def test_missing_key_names_the_variables(server):
    with pytest.raises(ProviderError) as info:
        fetch(server, environ={})
    assert info.value.status == "AUTH" and "OPENAI_API_KEY" in info.value.message
    assert "OPENAI_ADMIN_KEY" in info.value.message and not server.requests


@pytest.mark.parametrize("status, body, headers, expected", [
    (401, fixture("openai", "error_401"), {}, "AUTH"),
    (403, fixture("openai", "error_401"), {}, "AUTH"),
    (429, fixture("openai", "error_429"), {"x-ratelimit-reset-requests": "20s"}, "LIMIT"),
    (500, {"error": {"message": "The server had an error"}}, {}, "ERR"),
    (503, b"<html>upstream</html>", {}, "ERR"),
    (400, {"error": {"message": "max_completion_tokens is not supported"}}, {}, "ERR"),
])
def test_http_failures_map_to_statuses(server, status, body, headers, expected):
    err = PROBE.error(server, status, body, headers)
    assert err.status == expected
    assert KEY not in err.message
    assert CHAT.error(server, status, body, headers).status == expected
    if expected == "LIMIT":
        assert err.resets_at is not None and "rate limited until" in err.message


def test_timeout_and_malformed_probe_answer_are_err(server):
    PROBE.check_timeout_and_malformed(server, b"<html>captive portal</html>", "probe answer is not valid JSON",
                                      HEADERS)
    CHAT.check_timeout_and_malformed(server, b"<html>captive portal</html>", "probe answer is not valid JSON",
                                     HEADERS)


def test_malformed_admin_json_is_err(server):
    err = COSTS.error(server, body=b'{"object": "page", "data": [', environ={"OPENAI_ADMIN_KEY": ADMIN})
    assert err.status == "ERR" and "not valid JSON" in err.message


def test_detection():
    provider = OpenAIProvider()
    found = provider.detect({"OPENAI_API_KEY": KEY}, "/home/x", lambda name: None)
    assert [(a.id, a.provider, a.api_key_env, a.detected_by) for a in found] == [
        ("openai", "openai", "OPENAI_API_KEY", "env:OPENAI_API_KEY")]
    assert provider.detect({"OPENAI_ADMIN_KEY": ADMIN}, "/home/x", lambda n: None)[0].detected_by == \
        "env:OPENAI_ADMIN_KEY"
    assert provider.detect({}, "/home/x", lambda name: None) == []


def test_completion_tokens_prefers_the_uncached_field():
    assert completion_tokens({"input_tokens": 100, "input_cached_tokens": 30, "input_uncached_tokens": 60,
                              "input_cache_write_tokens": 10, "output_tokens": 5}) == (60, 30, 10, 5)
    assert completion_tokens({"input_tokens": 10, "input_cached_tokens": 20}) == (0, 20, 0, 0)
    models, daily = parse_completions([{"data": [{"start_time": "x", "results": [{"model": None}]}, "junk"]}])
    assert models[0].model == "unknown" and daily == {}


def test_a_key_echoed_in_an_error_is_masked(server):
    err = PROBE.error(server, 400, {"error": {"message": f"Key {KEY} is not allowed to use this model"}})
    assert KEY not in err.message and "Key [masked] is not allowed" in err.message


def test_an_admin_key_under_a_custom_variable_is_read(server):
    server.route("GET", "/v1/models/gpt-4o-mini", body=fixture("openai", "model"), headers=HEADERS)
    org_routes(server)
    snap = fetch(server, environ={"OPENAI_API_KEY": KEY, "MY_OWN_ADMIN_VAR": ADMIN}, admin_key_env="MY_OWN_ADMIN_VAR")
    assert snap.spend.cycle == 1.75
    org = [r for r in server.requests if r.path.startswith("/v1/organization/")]
    assert org and all(r.headers["authorization"] == f"Bearer {ADMIN}" for r in org)


def test_days_before_the_month_are_in_the_daily_series_only():
    """A bucket of October (fetched for the daily series) is neither month-to-date spend nor tokens."""
    from openusage.core.snapshot import UsageSnapshot
    from openusage.providers.openai import apply_organization, parse_costs

    oct_31, nov_1 = 1793404800, 1793491200
    costs = [{"data": [{"start_time": oct_31, "results": [{"amount": {"value": 4.0, "currency": "usd"}}]},
                       {"start_time": nov_1, "results": [{"amount": {"value": 1.5, "currency": "usd"}}]}]}]
    usage = [{"data": [{"start_time": oct_31, "results": [{"model": "gpt-4o", "input_tokens": 100}]},
                       {"start_time": nov_1, "results": [{"model": "gpt-4o", "input_tokens": 7}]}]}]
    snap = UsageSnapshot(provider_id="openai", account_id="openai")
    apply_organization(snap, parse_costs(costs), parse_completions(usage, "2026-11-01"),
                       "2026-11-01T00:00:00.000Z", 1795348800.0, 1792713600)
    assert snap.spend.cycle == 1.5 and snap.tokens.input == 7 and snap.models[0].input == 7
    assert [(d.date, d.cost, d.tokens) for d in snap.daily] == [("2026-10-31", 4.0, 100), ("2026-11-01", 1.5, 7)]
