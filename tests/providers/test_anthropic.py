import json

import pytest
from fakeserver import Endpoint, fixture, run_fetch

from openusage.providers.anthropic import AnthropicProvider, usage_tokens
from openusage.providers.base import AccountConfig, ProviderError

KEY = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz"
ADMIN = "sk-ant-admin01-zyxwvutsrqponmlkjihgfedc"
HEADERS = {
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "49",
    "anthropic-ratelimit-requests-reset": "2026-11-22T12:00:01Z",
    "anthropic-ratelimit-input-tokens-limit": "40000",
    "anthropic-ratelimit-input-tokens-remaining": "6000",
    "anthropic-ratelimit-input-tokens-reset": "2026-11-22T12:00:30Z",
    "anthropic-ratelimit-output-tokens-limit": "8000",
    "anthropic-ratelimit-output-tokens-remaining": "8000",
    "anthropic-ratelimit-output-tokens-reset": "2026-11-22T12:00:00Z",
    "anthropic-ratelimit-tokens-limit": "48000",
    "anthropic-ratelimit-tokens-remaining": "14000",
    "anthropic-ratelimit-tokens-reset": "2026-11-22T12:00:30Z",
    "anthropic-organization-id": "0b6c8f2e-1111-2222-3333-444455556666",
}


def fetch(srv, environ=None, probe_model=None, **extra):
    extra.setdefault("timeout_seconds", 2)
    acct = AccountConfig(id="anthropic", provider="anthropic", base_url=srv.url, probe_model=probe_model,
                         extra=extra)
    return run_fetch(AnthropicProvider(), acct, {"ANTHROPIC_API_KEY": KEY} if environ is None else environ)


PROBE = Endpoint("GET", "/v1/messages", fetch)  # the default probe: bodiless, refused, free
CHAT = Endpoint("POST", "/v1/messages", lambda srv, **kw: fetch(srv, probe="chat", **kw))
REFUSED = {"type": "error", "error": {"type": "not_found_error", "message": "Not Found"}}


def test_the_default_probe_is_a_bodiless_get_that_costs_nothing(server):
    server.route("GET", "/v1/messages", status=405, body=REFUSED, headers=HEADERS)
    snap = fetch(server)
    assert [(r.method, r.path, r.body) for r in server.requests] == [("GET", "/v1/messages", b"")]
    assert snap.rate_limits["input_tpm"].remaining == 6000 and snap.status == "WARN"
    assert "probe_model" not in snap.extras and snap.extras["organization"].startswith("0b6c8f2e")
    server.assert_secret_only_in(KEY, "x-api-key", KEY)
    assert AnthropicProvider().polling().startswith("free")
    billed = AccountConfig(id="a", provider="anthropic", extra={"probe": "messages"})
    assert AnthropicProvider().polling(billed).startswith("BILLED")


def test_a_header_probe_answered_without_headers_says_so(server):
    server.route("GET", "/v1/messages", status=404, body=REFUSED)
    snap = fetch(server)
    assert snap.status == "OK" and snap.extras["rate_limits"] == "not sent on this probe"
USAGE_REPORT = Endpoint("GET", "/v1/organizations/usage_report/messages", fetch)


def test_message_probe_reads_rate_limits_and_warns_on_a_low_window(server):
    server.route("POST", "/v1/messages", body=fixture("anthropic", "message"), headers=HEADERS)
    snap = fetch(server, probe="chat")
    assert snap.status == "WARN" and snap.message == "input_tpm 15% left"
    itpm = snap.rate_limits["input_tpm"]
    assert (itpm.limit, itpm.remaining, itpm.used, itpm.used_percent) == (40000, 6000, 34000, 85.0)
    assert itpm.resets_at == "2026-11-22T12:00:30.000Z"
    assert set(snap.rate_limits) == {"rpm", "tpm", "input_tpm", "output_tpm"}
    req = server.requests[0]
    assert req.json() == {"model": "claude-haiku-4-5", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}
    assert req.headers["anthropic-version"] == "2023-06-01"
    server.assert_secret_only_in(KEY, "x-api-key", KEY)
    assert KEY not in json.dumps(snap.to_dict())


def test_count_tokens_probe_and_probe_model(server):
    server.route("POST", "/v1/messages/count_tokens", body=fixture("anthropic", "count_tokens"),
                 headers={"anthropic-ratelimit-requests-limit": "100", "anthropic-ratelimit-requests-remaining": "0",
                          "anthropic-ratelimit-requests-reset": "2026-11-22T12:00:05Z"})
    snap = fetch(server, probe="count_tokens", probe_model="claude-sonnet-4-5")
    assert server.requests[0].json()["model"] == "claude-sonnet-4-5"
    assert snap.status == "LIMIT" and snap.message == "rpm exhausted until 2026-11-22T12:00:05.000Z"


def report_routes(srv):
    def usage(req):
        return 200, {}, fixture("anthropic", "usage_report_page2" if req.query.get("page") else "usage_report_page1")

    srv.route("GET", "/v1/organizations/usage_report/messages", handler=usage)
    srv.route("GET", "/v1/organizations/cost_report", body=fixture("anthropic", "cost_report"))


def test_admin_reports_give_spend_tokens_models_and_daily(server):
    report_routes(server)
    snap = fetch(server, environ={"ANTHROPIC_ADMIN_KEY": ADMIN})
    assert [r.path for r in server.requests if "messages" in r.path and "usage" not in r.path] == []
    assert snap.status == "OK" and snap.currency == "USD"
    assert snap.spend.cycle == pytest.approx(2.2795)  # (123.45 + 100 + 4.5) cents
    sonnet, haiku = snap.models
    assert (sonnet.model, sonnet.input, sonnet.cache_read, sonnet.cache_write, sonnet.output, sonnet.cost) == (
        "claude-sonnet-4-5-20250929", 1500, 200, 1500, 500, 1.2345)
    assert (haiku.model, haiku.input, haiku.output, haiku.cost) == ("claude-haiku-4-5-20251001", 300, 100, 0.045)
    assert snap.tokens.total == 3700 + 400
    assert [(d.date, d.tokens, d.cost) for d in snap.daily] == [("2026-11-01", 3700, 2.2345),
                                                                  ("2026-11-02", 400, 0.045)]
    assert snap.extras == {"web_search_requests": 10, "cycle_start": "2026-11-01T00:00:00Z",
                           "polling": "free: a bodiless GET /v1/messages (headers), organization reports"}
    usage = [r for r in server.requests if r.path.endswith("/messages")]
    assert usage[0].query["starting_at"] == ["2026-10-23T00:00:00Z"] and usage[0].query["group_by[]"] == ["model"]
    month = {"kind": "month_to_date", "start": "2026-11-01T00:00:00.000Z"}
    assert {f: p.to_dict() for f, p in snap.periods.items()} == {
        "spend.cycle": month, "tokens": month, "models": month,
        "daily": {"kind": "days", "start": "2026-10-23T00:00:00.000Z"}}
    assert usage[1].query["page"] == ["page_MjAyNS0wNS0xNFQwMDowMDowMFo="]
    cost = next(r for r in server.requests if r.path.endswith("cost_report"))
    assert cost.query["group_by[]"] == ["description"]
    server.assert_secret_only_in(ADMIN, "x-api-key", ADMIN)


def test_probe_and_reports_together_use_their_own_keys(server):
    server.route("GET", "/v1/messages", status=405, body=REFUSED, headers=HEADERS)
    report_routes(server)
    snap = fetch(server, environ={"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_ADMIN_API_KEY": ADMIN})
    assert snap.rate_limits["rpm"].remaining == 49 and snap.spend.cycle == pytest.approx(2.2795)
    for req in server.requests:
        assert req.headers["x-api-key"] == (KEY if req.path == "/v1/messages" else ADMIN)


def test_an_admin_key_in_the_api_key_variable_is_used_for_reports(server):
    report_routes(server)
    snap = fetch(server, environ={"ANTHROPIC_API_KEY": ADMIN})
    assert snap.spend is not None and "/v1/messages" not in server.paths()


def test_report_failure_with_a_working_probe_is_partial(server):
    server.route("GET", "/v1/messages", status=405, body=REFUSED, headers=HEADERS)
    server.route("GET", "/v1/organizations/usage_report/messages", status=500,
                 body={"type": "error", "error": {"type": "api_error", "message": "Internal"}})
    snap = fetch(server, environ={"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_ADMIN_KEY": ADMIN})
    assert snap.status == "ERR" and "organization usage: usage report failed: server error 500" in snap.message
    assert snap.rate_limits["rpm"].limit == 50


def test_missing_key(server):
    with pytest.raises(ProviderError) as info:
        fetch(server, environ={})
    assert info.value.status == "AUTH" and "ANTHROPIC_API_KEY" in info.value.message


@pytest.mark.parametrize("status, name, headers, expected", [
    (401, "error_401", {}, "AUTH"),
    (403, "error_401", {}, "AUTH"),
    (429, "error_429", {"retry-after": "17"}, "LIMIT"),
    (529, "error_529", {}, "ERR"),
    (500, "error_529", {}, "ERR"),
])
def test_http_failures(server, status, name, headers, expected):
    for endpoint in (PROBE, CHAT):
        err = endpoint.error(server, status, fixture("anthropic", name), headers)
        assert err.status == expected
        if expected == "LIMIT":
            assert err.resets_at


def test_timeout_and_malformed_json(server):
    CHAT.check_timeout_and_malformed(server, b"{", "probe answer is not valid JSON", HEADERS)
    err = PROBE.error(server, delay=3, timeout_seconds=0.3)
    assert (err.status, err.message) == ("ERR", "request timed out")
    err = USAGE_REPORT.error(server, body=b"<html>gateway</html>", environ={"ANTHROPIC_ADMIN_KEY": ADMIN})
    assert err.status == "ERR" and "usage report is not valid JSON" in err.message


def test_detection():
    p = AnthropicProvider()
    assert p.detect({"ANTHROPIC_API_KEY": KEY}, "/h", lambda n: None)[0].api_key_env == "ANTHROPIC_API_KEY"
    admin_only = p.detect({"ANTHROPIC_ADMIN_KEY": ADMIN}, "/h", lambda n: None)[0]
    assert admin_only.detected_by == "env:ANTHROPIC_ADMIN_KEY" and admin_only.extra == {
        "admin_key_env": "ANTHROPIC_ADMIN_KEY"}
    assert p.detect({}, "/h", lambda n: None) == []


def test_usage_tokens_tolerate_missing_parts():
    assert usage_tokens({"uncached_input_tokens": 5, "cache_creation": None, "output_tokens": "7"}) == (5, 0, 0, 7)
