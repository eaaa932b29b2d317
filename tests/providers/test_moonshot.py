import json

import pytest
from fakeserver import Endpoint, fixture, run_fetch

from openusage.providers.base import AccountConfig, ProviderError
from openusage.providers.moonshot import CHINA_BASE, GLOBAL_BASE, MoonshotProvider, currency_for, resolve_base

KEY = "sk-moonshot0123456789abcdefghijklmnop"


def fetch(srv, environ=None, **extra):
    extra.setdefault("timeout_seconds", 2)
    acct = AccountConfig(id="moonshot", provider="moonshot", base_url=srv.url + "/v1", extra=extra)
    return run_fetch(MoonshotProvider(), acct, {"MOONSHOT_API_KEY": KEY} if environ is None else environ)


BALANCE = Endpoint("GET", "/v1/users/me/balance", fetch)


def test_balance(server):
    server.route("GET", "/v1/users/me/balance", body=fixture("moonshot", "balance"))
    snap = fetch(server)
    assert snap.status == "OK"
    assert (snap.spend.balance.cash, snap.spend.balance.voucher) == (3.00001, 46.58893)
    assert snap.extras == {"available_balance": 49.58894}
    server.assert_secret_only_in(KEY, "Authorization", f"Bearer {KEY}")
    assert KEY not in json.dumps(snap.to_dict())


def test_currency_follows_the_host_or_the_account(server):
    server.route("GET", "/v1/users/me/balance", body=fixture("moonshot", "balance"))
    assert fetch(server).currency == "USD"  # 127.0.0.1: not a .cn host
    assert fetch(server, currency="cny").currency == "CNY"
    assert currency_for("https://api.moonshot.cn/v1") == "CNY" and currency_for(GLOBAL_BASE) == "USD"


def test_region_picks_the_host():
    def acct(**kw):
        return AccountConfig(id="m", provider="moonshot", **kw)

    assert resolve_base(acct()) == GLOBAL_BASE
    assert resolve_base(acct(extra={"region": "cn"})) == CHINA_BASE
    assert resolve_base(acct(base_url="https://api.moonshot.cn/v1/", extra={"region": "global"})) == CHINA_BASE


def test_deficit_is_limit(server):
    server.route("GET", "/v1/users/me/balance", body=fixture("moonshot", "balance_owed"))
    snap = fetch(server)
    assert snap.status == "LIMIT" and "refuses" in snap.message and snap.extras["owed"] == 1.25


def test_low_balance_threshold(server):
    server.route("GET", "/v1/users/me/balance", body=fixture("moonshot", "balance"))
    assert fetch(server, low_balance=50).status == "WARN"


def test_failure_inside_a_200_is_err(server):
    err = BALANCE.error(server, body=fixture("moonshot", "balance_failed"))
    assert err.status == "ERR" and "internal error" in err.message


def test_missing_key(server):
    with pytest.raises(ProviderError, match="set MOONSHOT_API_KEY"):
        fetch(server, environ={})


@pytest.mark.parametrize("status, body, headers, expected", [
    (401, fixture("moonshot", "error_401"), {}, "AUTH"),
    (429, fixture("moonshot", "error_429"), {"retry-after": "1"}, "LIMIT"),
    (500, {"error": {"message": "oops"}}, {}, "ERR"),
])
def test_http_failures(server, status, body, headers, expected):
    assert BALANCE.error(server, status, body, headers).status == expected


def test_timeout_and_malformed_json(server):
    BALANCE.check_timeout_and_malformed(server, b"{", "balance is not valid JSON")


def test_detection():
    found = MoonshotProvider().detect({"MOONSHOT_API_KEY": KEY}, "/h", lambda n: None)
    assert [(a.id, a.provider, a.api_key_env) for a in found] == [("moonshot", "moonshot", "MOONSHOT_API_KEY")]
