"""Claude Code's live plan windows against a local fake of the OAuth usage endpoint."""
import json
import os
import stat
import sys

import pytest
from fakeserver import NOW
from quota_helpers import account, digest, fetch, write_json

from openusage.agents import claude_limits
from openusage.agents.claude_code import ClaudeCodeProvider
from openusage.core.timeutil import format_rfc3339
from openusage.providers import quota_claude

TOKEN = "sk-ant-oat01-test-access-token-0123456789"
RESET_5H = "2026-11-22T14:00:00+00:00"
SHAPE_A = {
    "five_hour": {"utilization": 42.0, "resets_at": RESET_5H},
    "seven_day": {"utilization": 12.5, "resets_at": "2026-11-27T09:00:00Z"},
    "seven_day_opus": None,
    "seven_day_sonnet": {"utilization": 3.0, "resets_at": "2026-11-27T09:00:00Z"},
    "seven_day_oauth_apps": {"utilization": 7.0, "resets_at": None},
    "extra_usage": {"is_enabled": True, "monthly_limit": 5000, "used_credits": 1250, "utilization": None},
}
SHAPE_B = {"limits": [
    {"kind": "session", "percent": 61, "severity": "normal", "resets_at": RESET_5H},
    {"kind": "weekly_all", "percent": 20, "severity": "normal", "resets_at": "2026-11-27T09:00:00Z"},
    {"kind": "weekly_scoped", "percent": 85, "severity": "warning", "resets_at": "2026-11-27T09:00:00Z",
     "scope": {"model": {"display_name": "Opus"}}},
    {"kind": "daily_burst", "percent": 5, "resets_at": None},
]}
PROVIDER = ClaudeCodeProvider()


@pytest.fixture
def home(isolated_home):
    os.makedirs(isolated_home / ".claude" / "projects")
    return isolated_home


def credentials(home, expires_at=(NOW + 3600) * 1000, **oauth):
    data = {"claudeAiOauth": dict({"accessToken": TOKEN, "refreshToken": "sk-ant-ort01-never-used",
                                   "expiresAt": expires_at, "scopes": ["user:inference"],
                                   "subscriptionType": "max", "rateLimitTier": "default_claude_max_20x"}, **oauth)}
    return write_json(str(home / ".claude" / ".credentials.json"), data)


def test_named_windows_shape(server, home):
    credentials(home)
    server.route("GET", "/api/oauth/usage", body=SHAPE_A)
    snap = fetch(PROVIDER, account("claude_code", server), home, {})
    limits = snap.rate_limits
    assert set(limits) == {"5h", "weekly", "weekly_sonnet", "seven_day_oauth_apps", "extra_usage"}
    five = limits["5h"]
    assert (five.used_percent, five.source, five.window_seconds) == (42.0, "oauth", 18000)
    assert five.resets_at == "2026-11-22T14:00:00.000Z" and five.observed_at == format_rfc3339(NOW)
    assert limits["weekly"].window_seconds == 604800
    assert limits["seven_day_oauth_apps"].used_percent == 7.0  # an unknown window keeps its own name
    assert (limits["extra_usage"].used_percent, limits["extra_usage"].limit) == (25.0, 5000)
    assert snap.extras["plan"] == "max" and snap.status == "OK"
    req = server.requests[0]
    assert req.headers["anthropic-beta"] == "oauth-2025-04-20"
    server.assert_secret_only_in(TOKEN, "authorization", f"Bearer {TOKEN}")
    assert TOKEN not in repr(snap.to_dict())


def test_limits_list_shape(server, home):
    credentials(home)
    server.route("GET", "/api/oauth/usage", body=SHAPE_B)
    limits = fetch(PROVIDER, account("claude_code", server), home, {}).rate_limits
    assert {n: lim.used_percent for n, lim in limits.items()} == {
        "5h": 61.0, "weekly": 20.0, "weekly_opus": 85.0, "daily_burst": 5.0}
    assert limits["weekly_opus"].window_seconds == 604800 and limits["daily_burst"].window_seconds is None


def test_odd_values_in_an_answer_are_left_out_not_fatal():
    got = quota_claude.parse_usage({"limits": [
        {"kind": "weekly_scoped", "percent": 5, "scope": "all"}, {"kind": "session", "percent": "n/a"},
        "junk", {"kind": "weekly_all", "percent": 9, "resets_at": {"when": "later"}}]})
    assert got == {"weekly_scoped": {"used_percent": 5.0, "resets_at": None, "window_seconds": 604800},
                   "weekly": {"used_percent": 9.0, "resets_at": None, "window_seconds": 604800}}
    assert quota_claude.parse_usage({"five_hour": {"utilization": float("nan")}, "seven_day": "x"}) == {}


def test_polls_at_most_once_an_interval_and_keeps_the_values_between(server, home):
    credentials(home)
    server.route("GET", "/api/oauth/usage", body=SHAPE_A)
    state = {}
    acct = account("claude_code", server)
    fetch(PROVIDER, acct, home, state, now=NOW)
    snap = fetch(PROVIDER, acct, home, state, now=NOW + 30)
    assert len(server.requests) == 1 and snap.rate_limits["5h"].observed_at == format_rfc3339(NOW)
    fetch(PROVIDER, acct, home, state, now=NOW + 61)
    assert len(server.requests) == 2
    fast = account("claude_code", server, interval_seconds=5)
    fetch(PROVIDER, fast, home, state, now=NOW + 67)
    assert len(server.requests) == 3
    odd = account("claude_code", server, interval_seconds="often")  # not a number: the default minute
    fetch(PROVIDER, odd, home, state, now=NOW + 100)
    assert len(server.requests) == 3
    fetch(PROVIDER, odd, home, state, now=NOW + 128)
    assert len(server.requests) == 4


@pytest.mark.parametrize("code", [401, 403])
def test_a_refused_token_is_auth_and_the_statusline_stays(server, home, code):
    credentials(home)
    claude_limits.remember({"five_hour": {"used_percentage": 30, "resets_at": NOW + 3600}}, NOW - 600)
    server.route("GET", "/api/oauth/usage", status=code, body={"error": {"type": "authentication_error"}})
    snap = fetch(PROVIDER, account("claude_code", server), home, {})
    assert snap.status == "AUTH" and "run `claude` to sign in again" in snap.message
    five = snap.rate_limits["5h"]
    assert (five.source, five.used_percent, five.observed_at) == ("statusline", 30.0, format_rfc3339(NOW - 600))


def test_an_expired_token_is_auth_without_a_request(server, home):
    credentials(home, expires_at=(NOW - 10) * 1000)
    server.route("GET", "/api/oauth/usage", body=SHAPE_A)
    snap = fetch(PROVIDER, account("claude_code", server), home, {})
    assert snap.status == "AUTH" and snap.message == "Claude sign-in expired: run `claude` to sign in again"
    assert server.requests == []


def test_missing_credentials_make_no_request(server, home):
    server.route("GET", "/api/oauth/usage", body=SHAPE_A)
    snap = fetch(PROVIDER, account("claude_code", server), home, {})
    assert server.requests == [] and snap.status == "OK" and not snap.rate_limits
    assert "quota_error" not in snap.extras


def test_429_honours_retry_after_keeps_the_last_values_and_is_not_auth(server, home):
    credentials(home)
    acct = account("claude_code", server)
    state = {}
    server.route("GET", "/api/oauth/usage", body=SHAPE_A)
    fetch(PROVIDER, acct, home, state, now=NOW)
    server.route("GET", "/api/oauth/usage", status=429, headers={"Retry-After": "300"}, body={"error": "slow"})
    snap = fetch(PROVIDER, acct, home, state, now=NOW + 60)
    assert snap.status == "OK" and "rate limited" in snap.extras["quota_error"]
    assert snap.rate_limits["5h"].used_percent == 42.0
    assert snap.rate_limits["5h"].observed_at == format_rfc3339(NOW)  # the age shows
    fetch(PROVIDER, acct, home, state, now=NOW + 300)
    assert len(server.requests) == 2  # inside Retry-After: no request
    server.route("GET", "/api/oauth/usage", body=SHAPE_B)
    snap = fetch(PROVIDER, acct, home, state, now=NOW + 361)
    assert len(server.requests) == 3 and snap.rate_limits["5h"].used_percent == 61.0
    assert "quota_error" not in snap.extras


@pytest.mark.parametrize("route, message", [
    ({"status": 500, "body": {"error": "boom"}}, "Claude usage failed: server error 500"),
    ({"raw": b"{not json"}, "Claude usage is not valid JSON"),
    ({"delay": 3}, "Claude usage: request timed out"),
])
def test_failures_keep_the_last_values_and_back_off(server, home, route, message):
    credentials(home)
    acct = account("claude_code", server, timeout_seconds=0.3)
    state = {}
    server.route("GET", "/api/oauth/usage", body=SHAPE_A)
    fetch(PROVIDER, acct, home, state, now=NOW)
    server.route("GET", "/api/oauth/usage", **route)
    snap = fetch(PROVIDER, acct, home, state, now=NOW + 60)
    assert snap.extras["quota_error"] == message and snap.status == "OK"
    assert snap.rate_limits["5h"].used_percent == 42.0
    fetch(PROVIDER, acct, home, state, now=NOW + 150)
    assert len(server.requests) == 2  # backed off past one interval


def test_reports_never_poll(server, home):
    credentials(home)
    server.route("GET", "/api/oauth/usage", body=SHAPE_A)
    fetch(PROVIDER, account("claude_code", server), home, {}, live_quota=False)
    assert server.requests == []


def test_credentials_stay_byte_identical(server, home):
    path = credentials(home, expires_at=(NOW + 10 * 86400) * 1000)
    before = digest(path)
    acct = account("claude_code", server)
    state = {}
    answers = [{"body": SHAPE_A}, {"body": SHAPE_B}, {"status": 401}, {"status": 429, "headers": {"Retry-After": "1"}},
               {"status": 500}, {"raw": b"nope"}]
    for i in range(24):
        server.route("GET", "/api/oauth/usage", **answers[i % len(answers)])
        fetch(PROVIDER, acct, home, state, now=NOW + i * 4000)
    assert len(server.requests) == 24
    assert digest(path) == before
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_keychain_on_macos(server, home, tmp_path, monkeypatch):
    script = tmp_path / "bin" / "security"
    script.parent.mkdir()
    answer = json.dumps({"claudeAiOauth": {"accessToken": TOKEN, "subscriptionType": "pro"}})
    script.write_text("#!/bin/sh\n"
                      "[ \"$1|$2|$3|$4\" = 'find-generic-password|-s|Claude Code-credentials|-w' ] || exit 44\n"
                      f"echo '{answer}'\n")
    script.chmod(0o700)
    monkeypatch.setattr(quota_claude, "SECURITY", str(script))
    monkeypatch.setattr(sys, "platform", "darwin")
    server.route("GET", "/api/oauth/usage", body=SHAPE_A)
    snap = fetch(PROVIDER, account("claude_code", server), home, {})
    assert snap.extras["plan"] == "pro" and snap.rate_limits["5h"].source == "oauth"


def test_claude_config_dir_moves_the_credentials(server, home, tmp_path):
    other = tmp_path / "cfg"
    (other / "projects").mkdir(parents=True)
    write_json(str(other / ".credentials.json"), {"claudeAiOauth": {"accessToken": TOKEN, "subscriptionType": "pro"}})
    server.route("GET", "/api/oauth/usage", body=SHAPE_A)
    environ = {"CLAUDE_CONFIG_DIR": f"{tmp_path}/x,{other}"}  # the first entry holding a credentials file
    snap = fetch(PROVIDER, account("claude_code", server), home, {}, environ=environ)
    assert snap.extras["plan"] == "pro" and len(server.requests) == 1
