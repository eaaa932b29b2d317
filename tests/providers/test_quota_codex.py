"""Codex's live plan windows against a local fake of the ChatGPT usage endpoint."""
import base64
import json

import pytest
from fakeserver import NOW
from quota_helpers import account, digest, fetch, write_json

from openusage.agents.codex import CodexProvider
from openusage.core.timeutil import format_rfc3339

PROVIDER = CodexProvider()
PATH = "/backend-api/wham/usage"
ANSWER = {
    "plan_type": "pro",
    "rate_limit": {
        "primary_window": {"used_percent": 42, "limit_window_seconds": 18000, "reset_after_seconds": 3600,
                           "reset_at": int(NOW + 3600)},
        "secondary_window": {"used_percent": 9, "limit_window_seconds": 604800, "reset_after_seconds": 400000},
    },
    "credits": {"has_credits": False, "unlimited": False, "balance": "0"},
}


def jwt(exp):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256'})}.{part({'exp': exp, 'sub': 'user'})}.c2ln"


TOKEN = jwt(NOW + 86400)


def auth(home, token=TOKEN, api_key=None):
    data = {"OPENAI_API_KEY": api_key, "last_refresh": "2026-11-20T10:00:00Z",
            "tokens": {"id_token": jwt(NOW + 86400), "access_token": token, "refresh_token": "rt-never-used",
                       "account_id": "acct-1234"} if token else None}
    (home / ".codex" / "sessions").mkdir(parents=True, exist_ok=True)
    return write_json(str(home / ".codex" / "auth.json"), data)


def test_windows_are_named_by_their_length(server, isolated_home):
    auth(isolated_home)
    swapped = json.loads(json.dumps(ANSWER))
    rl = swapped["rate_limit"]
    rl["primary_window"], rl["secondary_window"] = rl["secondary_window"], rl["primary_window"]
    server.route("GET", PATH, body=swapped)
    snap = fetch(PROVIDER, account("codex", server), isolated_home, {})
    five, weekly = snap.rate_limits["5h"], snap.rate_limits["weekly"]
    assert (five.used_percent, five.resets_at, five.window_seconds, five.source) == (
        42.0, format_rfc3339(NOW + 3600), 18000, "oauth")
    assert (weekly.used_percent, weekly.resets_at) == (9.0, format_rfc3339(NOW + 400000))
    assert snap.extras["plan"] == "pro" and snap.extras["plan_type"] == "pro"
    req = server.requests[0]
    assert req.headers["chatgpt-account-id"] == "acct-1234"
    server.assert_secret_only_in(TOKEN, "authorization", f"Bearer {TOKEN}")


def test_an_api_key_login_has_no_plan_quota(server, isolated_home):
    auth(isolated_home, token=None, api_key="sk-proj-not-a-plan")
    server.route("GET", PATH, body=ANSWER)
    snap = fetch(PROVIDER, account("codex", server), isolated_home, {})
    assert server.requests == [] and not snap.rate_limits


def test_missing_and_expired_sign_in(server, isolated_home):
    server.route("GET", PATH, body=ANSWER)
    (isolated_home / ".codex" / "sessions").mkdir(parents=True)
    snap = fetch(PROVIDER, account("codex", server), isolated_home, {})
    assert server.requests == [] and snap.status == "OK"
    auth(isolated_home, token=jwt(NOW - 5))
    snap = fetch(PROVIDER, account("codex", server), isolated_home, {})
    assert server.requests == [] and snap.status == "AUTH"
    assert snap.message == "Codex sign-in expired: run `codex` to sign in again"


@pytest.mark.parametrize("code", [401, 403])
def test_a_refused_token_is_auth(server, isolated_home, code):
    auth(isolated_home)
    server.route("GET", PATH, status=code, body={"detail": "nope"})
    snap = fetch(PROVIDER, account("codex", server), isolated_home, {})
    assert snap.status == "AUTH" and f"({code}): run `codex` to sign in again" in snap.message


@pytest.mark.parametrize("route, message", [
    ({"status": 429, "headers": {"Retry-After": "120"}}, "Codex usage: rate limited, retrying after 120s"),
    ({"status": 500}, "Codex usage failed: server error 500"),
    ({"raw": b"<html>"}, "Codex usage is not valid JSON"),
    ({"delay": 3}, "Codex usage: request timed out"),
])
def test_failures_keep_the_last_reading(server, isolated_home, route, message):
    auth(isolated_home)
    acct = account("codex", server, timeout_seconds=0.3)
    state = {}
    server.route("GET", PATH, body=ANSWER)
    fetch(PROVIDER, acct, isolated_home, state, now=NOW)
    server.route("GET", PATH, **route)
    snap = fetch(PROVIDER, acct, isolated_home, state, now=NOW + 60)
    assert snap.status == "OK" and snap.extras["quota_error"] == message
    assert snap.rate_limits["5h"].observed_at == format_rfc3339(NOW)
    fetch(PROVIDER, acct, isolated_home, state, now=NOW + 125)
    assert len(server.requests) == 2  # Retry-After or backoff: not yet


def test_live_and_rollout_readings_are_one_series_the_newest_wins(server, isolated_home):
    auth(isolated_home)
    (isolated_home / ".codex" / "sessions").rmdir()  # no rollouts to read: the state's reading is the rollouts'
    (isolated_home / ".codex" / "config.toml").write_text("")
    state = {"limits": {"codex": {"limit_id": "codex", "at": NOW - 600, "windows": {
        "5h": {"used_percent": 30.0, "resets_at": NOW + 3600}, "weekly": {"used_percent": 8.0, "resets_at": None}}}}}
    server.route("GET", PATH, body=ANSWER)
    acct = account("codex", server)
    snap = fetch(PROVIDER, acct, isolated_home, state, now=NOW)
    assert (snap.rate_limits["5h"].source, snap.rate_limits["5h"].used_percent) == ("oauth", 42.0)
    state["limits"]["codex"]["at"] = NOW + 20  # a rollout written after the live poll
    state["limits"]["codex"]["windows"]["5h"]["used_percent"] = 47.0
    snap = fetch(PROVIDER, acct, isolated_home, state, now=NOW + 30)
    five = snap.rate_limits["5h"]
    assert (five.source, five.used_percent, five.observed_at, five.window_seconds) == (
        "rollout", 47.0, format_rfc3339(NOW + 20), 18000)
    assert len(server.requests) == 1


def test_credentials_stay_byte_identical(server, isolated_home):
    path = auth(isolated_home)
    before = digest(path)
    acct = account("codex", server)
    state = {}
    answers = [{"body": ANSWER}, {"status": 401}, {"status": 429, "headers": {"Retry-After": "1"}}, {"status": 503}]
    for i in range(20):
        server.route("GET", PATH, **answers[i % len(answers)])
        fetch(PROVIDER, acct, isolated_home, state, now=NOW + i * 4000)
    assert len(server.requests) == 20 and digest(path) == before


def test_codex_home_moves_the_credentials(server, isolated_home, tmp_path):
    other = tmp_path / "elsewhere"
    auth(other)
    server.route("GET", PATH, body=ANSWER)
    snap = fetch(PROVIDER, account("codex", server), isolated_home, {}, environ={"CODEX_HOME": str(other / ".codex")})
    assert snap.rate_limits["5h"].source == "oauth" and len(server.requests) == 1
