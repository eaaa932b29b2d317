import json

import pytest
from fakeserver import Endpoint, fixture, run_fetch

from openusage.providers.base import AccountConfig, ProviderError
from openusage.providers.deepseek import DeepSeekProvider

KEY = "sk-deepseek0123456789abcdef01234567"


def fetch(srv, environ=None, state=None, **extra):
    extra.setdefault("timeout_seconds", 2)
    acct = AccountConfig(id="deepseek", provider="deepseek", base_url=srv.url, extra=extra)
    return run_fetch(DeepSeekProvider(), acct, {"DEEPSEEK_API_KEY": KEY} if environ is None else environ,
                     state=state if state is not None else {})


BALANCE = Endpoint("GET", "/user/balance", fetch)


def test_balance_in_native_currency(server):
    server.route("GET", "/user/balance", body=fixture("deepseek", "balance_cny"))
    snap = fetch(server)
    assert (snap.status, snap.currency) == ("OK", "CNY")
    assert (snap.spend.balance.cash, snap.spend.balance.granted) == (100.0, 10.0)
    assert snap.extras == {"is_available": True, "total_balance": 110.0}
    assert snap.spend.total is None and snap.rate_limits is None
    server.assert_secret_only_in(KEY, "Authorization", f"Bearer {KEY}")
    assert KEY not in json.dumps(snap.to_dict())


def test_usd_is_preferred_and_a_currency_can_be_chosen(server):
    server.route("GET", "/user/balance", body=fixture("deepseek", "balance_two_currencies"))
    snap = fetch(server)
    assert snap.currency == "USD" and snap.spend.balance.cash == 15.0 and snap.extras["balances"] == {"CNY": 110.0}
    snap = fetch(server, currency="cny")
    assert snap.currency == "CNY" and snap.extras["balances"] == {"USD": 15.5}


def test_unavailable_balance_is_limit(server):
    server.route("GET", "/user/balance", body=fixture("deepseek", "balance_unavailable"))
    snap = fetch(server)
    assert snap.status == "LIMIT" and snap.message == "balance not available for API calls"


def test_low_balance_warns_against_the_highest_seen_or_a_threshold(server):
    state = {}
    server.route("GET", "/user/balance", body=fixture("deepseek", "balance_cny"))
    assert fetch(server, state=state).status == "OK" and state["peak_balance"] == 110.0
    low = fixture("deepseek", "balance_cny")
    low["balance_infos"][0].update(total_balance="20.00", topped_up_balance="10.00")
    server.route("GET", "/user/balance", body=low)
    snap = fetch(server, state=state)
    assert (snap.status, snap.message) == ("WARN", "balance low")
    assert fetch(server, low_balance=25).status == "WARN"
    assert fetch(server, low_balance=5).status == "OK"


def test_missing_key(server):
    with pytest.raises(ProviderError) as info:
        fetch(server, environ={})
    assert info.value.status == "AUTH" and "DEEPSEEK_API_KEY" in info.value.message


@pytest.mark.parametrize("status, body, headers, expected", [
    (401, fixture("deepseek", "error_401"), {}, "AUTH"),
    (429, fixture("deepseek", "error_429"), {"retry-after": "30"}, "LIMIT"),
    (500, {"error": {"message": "Server error"}}, {}, "ERR"),
    (503, {"error": {"message": "Server overloaded"}}, {}, "ERR"),
])
def test_http_failures(server, status, body, headers, expected):
    err = BALANCE.error(server, status, body, headers)
    assert err.status == expected and KEY not in err.message


def test_timeout_malformed_and_shapeless_answers(server):
    BALANCE.check_timeout_and_malformed(server, b"not json", "balance is not valid JSON")
    assert "not a JSON object" in BALANCE.error(server, body=[1, 2]).message
    assert "no balance_infos" in BALANCE.error(server, body={"is_available": True}).message


def test_detection():
    assert DeepSeekProvider().detect({"DEEPSEEK_API_KEY": KEY}, "/h", lambda n: None)[0].detected_by == \
        "env:DEEPSEEK_API_KEY"
    assert DeepSeekProvider().detect({}, "/h", lambda n: None) == []
