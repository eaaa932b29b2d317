import socket
import time

import pytest
from fakeserver import FakeServer

from openusage.core.timeutil import format_rfc3339
from openusage.providers import http_common
from openusage.providers.base import AccountConfig, EnvAccess, HttpAccess, HttpResponse, ProviderError
from openusage.providers.ratelimit_headers import limits_status, make_limit, openai_style, parse_reset


class Ctx:
    def __init__(self, environ, allowed):
        self.env = EnvAccess(allowed, environ)


def resp(status, headers=None, body=b""):
    return HttpResponse(status, headers or {}, body)


def test_api_key_uses_the_account_variable_or_the_default():
    acct = AccountConfig(id="a", provider="p", api_key_env="MY_KEY")
    assert http_common.api_key(Ctx({"MY_KEY": "k1"}, ["MY_KEY"]), acct, "DEFAULT_KEY") == "k1"
    default = AccountConfig(id="a", provider="p")
    assert http_common.api_key(Ctx({"DEFAULT_KEY": "k2"}, ["DEFAULT_KEY"]), default, "DEFAULT_KEY") == "k2"
    with pytest.raises(ProviderError) as info:
        http_common.api_key(Ctx({"MY_KEY": ""}, ["MY_KEY"]), acct, "DEFAULT_KEY")
    assert (info.value.status, info.value.message) == ("AUTH", "no API key: set MY_KEY")


def test_base_url():
    assert http_common.base_url(AccountConfig(id="a", provider="p"), "https://x/v1/") == "https://x/v1"
    assert http_common.base_url(AccountConfig(id="a", provider="p", base_url="http://127.0.0.1:9/"), "x") == \
        "http://127.0.0.1:9"


@pytest.mark.parametrize("status, expected", [(401, "AUTH"), (403, "AUTH"), (429, "LIMIT"), (500, "ERR"),
                                              (502, "ERR"), (404, "ERR"), (400, "ERR")])
def test_check_maps_statuses(status, expected):
    with pytest.raises(ProviderError) as info:
        http_common.check(resp(status, body=b'{"error": {"message": "nope"}}'), "thing")
    assert info.value.status == expected
    if status in (404, 400):
        assert info.value.message == f"thing failed: HTTP {status}: nope"


def test_check_passes_successes_through():
    ok = resp(200, body=b"{}")
    assert http_common.check(ok) is ok and http_common.check(resp(204)).status == 204


def test_429_reset_from_retry_after_forms():
    now = time.time()
    with pytest.raises(ProviderError) as info:
        http_common.check(resp(429, {"Retry-After": "30"}))
    reset = info.value.resets_at
    assert reset and reset >= format_rfc3339(now + 29) and "until" in info.value.message
    assert http_common.reset_from_headers(resp(429, {"retry-after": "Sun, 22 Nov 2026 12:00:00 GMT"})) == \
        "2026-11-22T12:00:00.000Z"
    assert http_common.reset_from_headers(resp(429, {"x-ratelimit-reset-requests": "1m"}), now=0) == \
        "1970-01-01T00:01:00.000Z"
    assert http_common.reset_from_headers(resp(429, {"anthropic-ratelimit-requests-reset": "2026-11-22T12:00:05Z"}),
                                          now=0) == "2026-11-22T12:00:05.000Z"
    assert http_common.reset_from_headers(resp(429, {"x-ratelimit-reset": "1795348860"}), now=0) == \
        "2026-11-22T12:01:00.000Z"
    assert http_common.reset_from_headers(resp(429)) is None


@pytest.mark.parametrize("text, seconds", [("1m30s", 90), ("6m0s", 360), ("20ms", 0.02), ("2m59.56s", 179.56),
                                           ("2h", 7200), ("1d", 86400), ("0.5s", 0.5), ("12", None), ("", None),
                                           ("abc", None), ("5x", None), ("2026-11-22T12:00:00Z", None)])
def test_parse_duration(text, seconds):
    result = http_common.parse_duration(text)
    assert result == pytest.approx(seconds) if seconds is not None else result is None


def test_json_body_and_number():
    assert http_common.json_body(resp(200, body=b'{"a": 1}')) == {"a": 1}
    with pytest.raises(ProviderError) as info:
        http_common.json_body(resp(200, body=b"\xff\xfe"), "balance")
    assert (info.value.status, info.value.message) == ("ERR", "balance is not valid JSON")
    assert [http_common.number(v) for v in (1, "2.5", " 3 ", True, None, "x", [1])] == [1.0, 2.5, 3.0, None, None,
                                                                                       None, None]


def test_http_access_against_a_real_server():
    with FakeServer() as srv:
        srv.route("GET", "/ok", body={"fine": True}, headers={"X-RateLimit-Limit-Requests": "5"})
        srv.route("GET", "/slow", delay=3)
        http = HttpAccess()
        answer = http.request(srv.url + "/ok", headers={"Authorization": "Bearer k"}, timeout=2)
        assert answer.status == 200 and answer.json() == {"fine": True}
        assert answer.headers["x-ratelimit-limit-requests"] == "5"  # lower-cased
        with pytest.raises(ProviderError) as info:
            http.request(srv.url + "/slow", timeout=0.3)
        assert (info.value.status, info.value.message) == ("ERR", "request timed out")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ProviderError) as info:
        HttpAccess().request(f"http://127.0.0.1:{port}/", timeout=2)
    assert info.value.status == "ERR" and info.value.message.startswith("connection failed")


# --- ratelimit_headers ----------------------------------------------------------------------


def test_parse_reset_forms():
    assert parse_reset("6m0s", 0) == "1970-01-01T00:06:00.000Z"
    assert parse_reset("30", 0) == "1970-01-01T00:00:30.000Z"
    assert parse_reset("1795348860", 0) == "2026-11-22T12:01:00.000Z"
    assert parse_reset("2026-11-22T12:00:05+01:00", 0) == "2026-11-22T11:00:05.000Z"
    assert parse_reset("-1", 0) is None and parse_reset("", 0) is None and parse_reset(None, 0) is None
    assert parse_reset("soon", 0) is None


def test_openai_style_windows_and_status():
    headers = {"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "10",
               "x-ratelimit-reset-requests": "1s", "x-ratelimit-remaining-tokens": "0"}
    limits = openai_style(headers, {"requests": "rpm", "tokens": "tpm", "images": "ipm"}, 0)
    assert set(limits) == {"rpm", "tpm"} and limits["rpm"].used_percent == 90.0
    assert limits_status(limits) == ("LIMIT", "tpm exhausted")
    del limits["tpm"]
    assert limits_status(limits) == ("WARN", "rpm 10% left")
    assert limits_status({}) == ("OK", None) and limits_status(None) == ("OK", None)


def test_make_limit_fills_what_it_can():
    assert make_limit() is None and make_limit(limit=-1, remaining=-1) is None
    w = make_limit(limit=200, used=50)
    assert (w.remaining, w.used_percent) == (150, 25.0)
