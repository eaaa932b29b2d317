import json
import os
import shutil
import sqlite3

import pytest
from fakeserver import FakeServer, fixture, run_fetch

from openusage.providers.base import AccountConfig, ProviderError
from openusage.providers.cursor import CursorProvider, cycle_range, epoch_of, item_text, parse_events

# A made-up JWT: header {"alg":"HS256","typ":"JWT"}, payload {"sub":"auth0|user_01TEST","exp":1800000000}.
TOKEN = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhdXRoMHx1c2VyXzAxVEVTVCIsImV4cCI6MTgwMDAwMDAwMH0."
         "c2lnbmF0dXJlLW5vdC1hLXJlYWwtb25l")
SERVICE = "/aiserver.v1.DashboardService/"
LINUX_DB = ".config/Cursor/User/globalStorage/state.vscdb"
MAC_DB = "Library/Application Support/Cursor/User/globalStorage/state.vscdb"
CYCLE_START_MS, CYCLE_END_MS, NOW_MS = 1793836800000, 1796428800000, 1795348800000


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


def make_db(path, items=None, wal=False):
    """A state.vscdb like Cursor's: ItemTable (key, value BLOB), plus cursorDiskKV. With wal, the
    connection stays open in WAL mode, so the latest rows live only in the -wal file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    conn.execute("CREATE TABLE IF NOT EXISTS cursorDiskKV (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    defaults = {"cursorAuth/accessToken": TOKEN, "cursorAuth/refreshToken": "refresh-not-read",
                "cursorAuth/cachedEmail": "dev@example.com", "cursorAuth/stripeMembershipType": "pro"}
    rows = defaults if items is None else items
    conn.executemany("INSERT INTO ItemTable VALUES (?, ?)", list(rows.items()))
    conn.commit()
    if wal:
        return conn
    conn.close()
    return None


def routes(srv, usage="current_period_usage", plan="plan_info", events="aggregated_usage_events"):
    srv.route("POST", SERVICE + "GetCurrentPeriodUsage", body=fixture("cursor", usage))
    srv.route("POST", SERVICE + "GetPlanInfo", body=fixture("cursor", plan))
    srv.route("POST", SERVICE + "GetAggregatedUsageEvents", body=fixture("cursor", events))


def fetch(srv, **extra):
    extra.setdefault("timeout_seconds", 2)
    acct = AccountConfig(id="cursor", provider="cursor", base_url=srv.url, extra=extra)
    return run_fetch(CursorProvider(), acct, {})


@pytest.fixture
def linux_db(isolated_home):
    path = str(isolated_home / LINUX_DB)
    make_db(path)
    return path


def test_pro_plan_usage_plan_info_and_models(server, linux_db):
    routes(server)
    before = sorted(os.listdir(os.path.dirname(linux_db)))
    snap = fetch(server)
    assert (snap.status, snap.currency, snap.message) == ("OK", "USD", None)
    assert snap.spend.cycle == 14.68
    limits = snap.spend.limits
    assert (limits.plan_included, limits.plan_bonus, limits.hard) == (20.0, None, 50.0)
    plan = snap.rate_limits["plan"]
    assert (plan.limit, plan.used, plan.remaining, plan.used_percent) == (20.0, 14.68, 5.32, 73.4)
    assert plan.resets_at == "2026-12-05T00:00:00.000Z"
    assert (snap.rate_limits["auto"].used_percent, snap.rate_limits["api"].used_percent) == (31.5, 58.2)
    on_demand = snap.rate_limits["on_demand"]
    assert (on_demand.limit, on_demand.used, on_demand.remaining, on_demand.used_percent) == (50.0, 0.0, 50.0, 0.0)
    sonnet, auto = snap.models  # the unused gpt-5 row is left out
    assert (sonnet.model, sonnet.input, sonnet.output, sonnet.cache_read, sonnet.cache_write, sonnet.cost) == (
        "claude-4.5-sonnet", 182340, 41210, 2841900, 96410, 11.234)
    assert (auto.model, auto.input, auto.cache_read, auto.cost) == ("auto", 51200, 402000, 3.446)
    tokens = snap.tokens
    assert (tokens.input, tokens.output, tokens.cache_read, tokens.cache_write) == (233540, 51010, 3243900, 96410)
    assert tokens.total == 233540 + 51010 + 3243900 + 96410
    assert snap.extras == {
        "email": "dev@example.com", "membership": "pro", "billing_cycle_start": "2026-11-05T00:00:00.000Z",
        "billing_cycle_end": "2026-12-05T00:00:00.000Z", "included_spend": 14.68, "bonus_spend": 0.0,
        "display_message": "You've used 73% of your included usage", "on_demand_limit_type": "user",
        "on_demand_scope": "individual", "plan": "Pro", "plan_price": "$20/mo", "plan_included_amount": 20.0,
        "usage_events_cost": 14.68}
    assert server.paths() == [SERVICE + m for m in ("GetCurrentPeriodUsage", "GetPlanInfo",
                                                     "GetAggregatedUsageEvents")]
    assert server.requests[0].json() == {}
    assert server.requests[2].json() == {"startDate": CYCLE_START_MS, "endDate": NOW_MS}
    for req in server.requests:
        assert req.method == "POST" and req.headers["connect-protocol-version"] == "1"
        assert req.headers["content-type"] == "application/json"
    server.assert_secret_only_in(TOKEN, "Authorization", f"Bearer {TOKEN}")
    assert TOKEN not in json.dumps(snap.to_dict()) and "refresh-not-read" not in json.dumps(snap.to_dict())
    assert sorted(os.listdir(os.path.dirname(linux_db))) == before  # immutable read: no -shm, no -journal
    cycle = {"kind": "cycle", "start": "2026-11-05T00:00:00.000Z", "end": "2026-12-05T00:00:00.000Z"}
    assert {f: p.to_dict() for f, p in snap.periods.items()} == {"spend.cycle": cycle, "tokens": cycle,
                                                                  "models": cycle}
    assert snap.period_of("spend.cycle").label() == "cycle 2026-11-05 to 2026-12-05"


def test_free_plan_has_a_percentage_only(server, linux_db):
    routes(server, usage="current_period_usage_free", plan="plan_info_free")
    snap = fetch(server)
    assert snap.status == "OK"
    plan = snap.rate_limits["plan"]
    assert (plan.limit, plan.used, plan.used_percent, plan.resets_at) == (None, None, 12, "2026-12-05T00:00:00.000Z")
    assert "on_demand" not in snap.rate_limits and snap.spend.limits is None and snap.spend.cycle is None
    assert snap.extras["plan"] == "Hobby" and "plan_price" not in snap.extras


def test_team_plan_used_up_with_pooled_on_demand_budget_only_warns(server, linux_db):
    routes(server, usage="current_period_usage_team")
    snap = fetch(server, team_id=4242)
    assert (snap.status, snap.message) == ("WARN", "plan, auto, api used up; on-demand usage is billed")
    on_demand = snap.rate_limits["on_demand"]
    assert (on_demand.limit, on_demand.used, on_demand.remaining) == (3600.0, 407.0, 3193.0)
    assert on_demand.used_percent == 11.31
    assert snap.spend.cycle == 64.15 and snap.spend.limits.plan_bonus == 4.15 and snap.spend.limits.hard == 3600
    assert snap.extras["on_demand_scope"] == "team" and snap.extras["on_demand_limit_type"] == "team"
    assert server.requests[2].json() == {"startDate": CYCLE_START_MS, "endDate": NOW_MS, "teamId": 4242}


def test_plan_used_up_without_on_demand_is_limit(server, linux_db):
    usage = fixture("cursor", "current_period_usage_team")
    del usage["spendLimitUsage"]
    routes(server)
    server.route("POST", SERVICE + "GetCurrentPeriodUsage", body=usage)
    snap = fetch(server)
    assert snap.status == "LIMIT"
    assert snap.message == "api, auto, plan exhausted until 2026-12-05T00:00:00.000Z"


def test_optional_calls_failing_keep_the_period_usage(server, linux_db):
    routes(server)
    server.route("POST", SERVICE + "GetPlanInfo", status=500, body={"code": "internal", "message": "boom"})
    server.route("POST", SERVICE + "GetAggregatedUsageEvents", raw=b'{"aggregations": [')
    snap = fetch(server)
    assert snap.status == "OK" and snap.rate_limits["plan"].used_percent == 73.4
    assert snap.models is None and "plan" not in snap.extras
    assert snap.extras["unavailable"] == {"plan_info": "plan info failed: server error 500",
                                          "usage_events": "usage events is not valid JSON"}
    assert snap.message == "plan info failed: server error 500; usage events is not valid JSON"


@pytest.mark.parametrize("status, name, headers, expected", [
    (401, "error_401", {}, "AUTH"),
    (403, "error_401", {}, "AUTH"),
    (429, "error_429", {"Retry-After": "30"}, "LIMIT"),
    (500, None, {}, "ERR"),
])
def test_period_usage_failures(server, linux_db, status, name, headers, expected):
    routes(server)
    body = fixture("cursor", name) if name else {"code": "internal", "message": "internal error"}
    server.route("POST", SERVICE + "GetCurrentPeriodUsage", status=status, body=body, headers=headers)
    with pytest.raises(ProviderError) as info:
        fetch(server)
    assert info.value.status == expected and TOKEN not in info.value.message
    if expected == "AUTH":
        assert info.value.message.startswith("current period usage refused: sign in to Cursor again")
    if expected == "LIMIT":
        assert info.value.resets_at is not None


def test_rate_limit_reset_header(server, linux_db):
    server.route("POST", SERVICE + "GetCurrentPeriodUsage", status=429, body=fixture("cursor", "error_429"),
                 headers={"X-RateLimit-Reset": "1795348860"})
    with pytest.raises(ProviderError) as info:
        fetch(server)
    assert info.value.status == "LIMIT" and info.value.resets_at == "2026-11-22T12:01:00.000Z"


def test_timeout_and_malformed_json(server, linux_db):
    routes(server)
    server.route("POST", SERVICE + "GetCurrentPeriodUsage", delay=3)
    with pytest.raises(ProviderError, match="request timed out"):
        fetch(server, timeout_seconds=0.3)
    server.route("POST", SERVICE + "GetCurrentPeriodUsage", raw=b"<html>bad gateway</html>")
    with pytest.raises(ProviderError, match="current period usage is not valid JSON") as info:
        fetch(server)
    assert info.value.status == "ERR"


def test_missing_db_or_sign_in(server, isolated_home):
    routes(server)
    with pytest.raises(ProviderError) as info:
        fetch(server)
    assert info.value.status == "AUTH" and info.value.message.startswith(
        "no Cursor sign-in (no state.vscdb found): sign in to Cursor, or import a cursor.com browser session "
        "(openusage auth import-cookies --provider cursor")
    make_db(str(isolated_home / LINUX_DB), items={"cursorAuth/cachedEmail": "dev@example.com"})
    with pytest.raises(ProviderError) as info:
        fetch(server)
    assert info.value.status == "AUTH" and info.value.message.startswith(
        "no Cursor sign-in in state.vscdb: sign in to Cursor, or import")
    with pytest.raises(ProviderError) as info:
        fetch(server, state_db="~/elsewhere/state.vscdb")
    assert (info.value.status, info.value.message) == ("ERR", "state_db ~/elsewhere/state.vscdb is not a file")
    assert server.requests == []


def test_state_db_with_a_wal_file_and_a_configured_path(server, tmp_path, monkeypatch):
    routes(server)
    path = str(tmp_path / "custom" / "state.vscdb")
    writer = make_db(path, wal=True)
    try:
        assert os.path.exists(path + "-wal")

        def no_copy(*args):
            raise AssertionError("read directly, not from a copy")

        with monkeypatch.context() as patch:
            patch.setattr(shutil, "copyfile", no_copy)
            snap = fetch(server, state_db=path)  # the rows are only in the -wal file: immutable would miss them
        assert snap.extras["email"] == "dev@example.com"
        server.assert_secret_only_in(TOKEN, "Authorization", f"Bearer {TOKEN}")
        # The app holding an exclusive lock: the read goes to a private copy.
        writer.execute("PRAGMA locking_mode=EXCLUSIVE")
        writer.execute("INSERT INTO ItemTable VALUES ('cursorAuth/cachedEmail', 'new@example.com')")
        writer.commit()
        assert fetch(server, state_db=path).extras["email"] == "new@example.com"
    finally:
        writer.close()


def test_macos_path_and_blob_values(server, isolated_home):
    routes(server)
    make_db(str(isolated_home / MAC_DB), items={
        "cursorAuth/accessToken": json.dumps(TOKEN).encode("utf-16"),  # a JSON-quoted UTF-16 blob
        "cursorAuth/cachedEmail": b"mac@example.com"})
    snap = fetch(server)
    assert snap.extras["email"] == "mac@example.com" and "membership" not in snap.extras
    server.assert_secret_only_in(TOKEN, "Authorization", f"Bearer {TOKEN}")


def test_unreadable_state_db(server, tmp_path):
    path = tmp_path / "state.vscdb"
    path.write_bytes(b"this is not a database, just bytes" * 200)
    with pytest.raises(ProviderError) as info:
        fetch(server, state_db=str(path))
    assert info.value.status == "ERR" and "cannot read Cursor's state DB" in info.value.message


def test_parsing_helpers():
    assert item_text('"quoted"') == "quoted" and item_text(b"plain ") == "plain" and item_text(None) is None
    assert epoch_of("1796428800000") == epoch_of(1796428800000) == 1796428800.0
    assert epoch_of("2026-12-05T00:00:00Z") == 1796428800.0 and epoch_of("0") is None and epoch_of({}) is None
    assert cycle_range({}, NOW_MS / 1000) == (1793491200000, NOW_MS)  # calendar month when not told
    assert cycle_range({"billingCycleStart": "1793836800000", "billingCycleEnd": "1796428800000"},
                       NOW_MS / 1000) == (CYCLE_START_MS, NOW_MS)
    models, tokens = parse_events({"aggregations": [None, {"modelIntent": "m", "outputTokens": "7"},
                                                    {"modelIntent": "m", "inputTokens": 3, "totalCents": "12"}]})
    assert [(m.model, m.input, m.output, m.cost) for m in models] == [("m", 3, 7, 0.12)]
    assert tokens.total == 10


def test_detection(isolated_home):
    provider = CursorProvider()
    assert provider.detect({}, str(isolated_home), lambda n: None) == []
    make_db(str(isolated_home / LINUX_DB))
    found = provider.detect({}, str(isolated_home), lambda n: None)
    assert [(a.id, a.provider, a.detected_by) for a in found] == [
        ("cursor", "cursor", f"path:{isolated_home / LINUX_DB}")]


def web_fetch(srv, cookies):
    from openusage.providers.base import make_context

    provider = CursorProvider()
    acct = AccountConfig(id="cursor", provider="cursor", base_url=srv.url,
                         extra={"web_base_url": srv.url, "timeout_seconds": 2})
    ctx = make_context(provider, acct, {}, environ={}, now=NOW_MS / 1000)
    ctx.cookies = cookies
    return provider.fetch(acct, ctx).snapshot


def test_without_the_app_an_imported_browser_session_reads_cursor_com(server, isolated_home):
    server.route("GET", "/api/usage-summary", body=fixture("cursor", "usage_summary"))
    snap = web_fetch(server, {"WorkosCursorSessionToken": "user_01TEST%3A%3A" + TOKEN, "other": "x"})
    request, = server.requests
    assert request.headers["cookie"] == "WorkosCursorSessionToken=user_01TEST%3A%3A" + TOKEN  # only ours
    assert (snap.status, snap.currency) == ("OK", "USD")
    assert snap.extras["source"] == "browser session" and snap.extras["membership"] == "pro"
    plan = snap.rate_limits["plan"]
    assert (plan.limit, plan.used, plan.remaining, plan.used_percent) == (20.0, 14.68, 5.32, 73.4)
    assert plan.resets_at == "2026-12-05T00:00:00.000Z"
    assert snap.rate_limits["api"].used_percent == 58.2
    on_demand = snap.rate_limits["on_demand"]
    assert (on_demand.limit, on_demand.used, on_demand.remaining) == (50.0, 2.5, 47.5)
    assert snap.spend.cycle == 14.68 and snap.spend.limits.hard == 50.0 and snap.models is None


def test_a_refused_browser_session_says_to_import_it_again(server, isolated_home):
    server.route("GET", "/api/usage-summary", status=401, body={"error": "not authenticated"})
    with pytest.raises(ProviderError) as info:
        web_fetch(server, {"WorkosCursorSessionToken": "sess-9f8e7d6c5b4a"})
    assert info.value.status == "AUTH" and "import it again" in info.value.message
    assert "9f8e7d" not in info.value.message  # the cookie's value is never in a message


def test_the_app_sign_in_wins_over_an_imported_session(server, linux_db):
    routes(server)
    snap = web_fetch(server, {"WorkosCursorSessionToken": "unused"})
    assert "source" not in (snap.extras or {}) and snap.models
    assert all(r.path.startswith(SERVICE) for r in server.requests)


def test_import_cookies_then_usage_reads_cursor_com(server, isolated_home, tmp_path, capsys):
    from openusage.cli.main import main

    server.route("GET", "/api/usage-summary", body=fixture("cursor", "usage_summary"))
    export = tmp_path / "cookies.json"
    export.write_text(json.dumps([
        {"name": "WorkosCursorSessionToken", "value": "user_01TEST%3A%3A" + TOKEN, "domain": ".cursor.com",
         "path": "/", "expirationDate": 4102444800},
        {"name": "_ga", "value": "tracking", "domain": ".google.com", "path": "/"}]))
    assert main(["auth", "import-cookies", "--provider", "cursor", "--format", "json", str(export)]) == 0
    assert "kept 1 of 2 cookies for cursor" in capsys.readouterr().out
    settings = isolated_home / ".config" / "openusage" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"accounts": [{"id": "cursor", "provider": "cursor", "web_base_url": server.url,
                                                  "base_url": server.url}]}))
    assert main(["usage", "--provider", "cursor", "--json"]) == 0
    snap = json.loads(capsys.readouterr().out)["snapshots"]["cursor"]
    assert snap["status"] == "OK" and snap["rate_limits"]["plan"]["used_percent"] == 73.4
    assert server.requests[0].headers["cookie"].startswith("WorkosCursorSessionToken=user_01TEST")
    from openusage.providers import REGISTRY

    detected = REGISTRY["cursor"].detect({}, str(isolated_home), lambda name: None)
    assert [a.id for a in detected] == ["cursor"]  # the imported session is found without the app
