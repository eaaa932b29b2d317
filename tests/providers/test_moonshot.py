import json

import pytest
from fakeserver import FakeServer, fixture, run_fetch

from openusage.providers.base import AccountConfig, ProviderError
from openusage.providers.moonshot import CHINA_BASE, GLOBAL_BASE, MoonshotProvider, currency_for, resolve_base

KEY = "sk-moonshot0123456789abcdefghijklmnop"


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


def fetch(srv, environ=None, **extra):
    extra.setdefault("timeout_seconds", 2)
    acct = AccountConfig(id="moonshot", provider="moonshot", base_url=srv.url + "/v1", extra=extra)
    return run_fetch(MoonshotProvider(), acct, {"MOONSHOT_API_KEY": KEY} if environ is None else environ)


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
    server.route("GET", "/v1/users/me/balance", body=fixture("moonshot", "balance_failed"))
    with pytest.raises(ProviderError) as info:
        fetch(server)
    assert info.value.status == "ERR" and "internal error" in info.value.message


def test_missing_key(server):
    with pytest.raises(ProviderError, match="set MOONSHOT_API_KEY"):
        fetch(server, environ={})


@pytest.mark.parametrize("status, body, headers, expected", [
    (401, fixture("moonshot", "error_401"), {}, "AUTH"),
    (429, fixture("moonshot", "error_429"), {"retry-after": "1"}, "LIMIT"),
    (500, {"error": {"message": "oops"}}, {}, "ERR"),
])
def test_http_failures(server, status, body, headers, expected):
    server.route("GET", "/v1/users/me/balance", status=status, body=body, headers=headers)
    with pytest.raises(ProviderError) as info:
        fetch(server)
    assert info.value.status == expected


def test_timeout_and_malformed_json(server):
    server.route("GET", "/v1/users/me/balance", delay=3)
    with pytest.raises(ProviderError, match="timed out"):
        fetch(server, timeout_seconds=0.3)
    server.route("GET", "/v1/users/me/balance", raw=b"{")
    with pytest.raises(ProviderError, match="not valid JSON"):
        fetch(server)


def test_detection():
    found = MoonshotProvider().detect({"MOONSHOT_API_KEY": KEY}, "/h", lambda n: None)
    assert [(a.id, a.provider, a.api_key_env) for a in found] == [("moonshot", "moonshot", "MOONSHOT_API_KEY")]
