import json
import os
import sys

from openusage.cli.main import main


def write_settings(home, data):
    path = home / ".config" / "openusage" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def custom(account_id, snapshot):
    return {"id": account_id, "provider": "custom",
            "command": [sys.executable, "-c", f"print({json.dumps(json.dumps(snapshot))})"]}


def test_usage_fetches_in_process(isolated_home, capsys):
    write_settings(isolated_home, {"auto_detect": False, "accounts": [
        {"id": "demo", "provider": "demo"}, custom("c1", {"status": "OK", "spend": {"total": 2.0}})]})
    assert main(["usage", "--json", "--window", "7d"]) == 0
    model = json.loads(capsys.readouterr().out)
    assert set(model["snapshots"]) == {"demo", "c1"}
    assert model["snapshots"]["demo"]["tokens"]["total"] > 0  # aggregates from the fetched events
    assert model["snapshots"]["c1"]["spend"]["total"] == 2.0
    assert main(["usage", "--provider", "custom"]) == 0
    out = capsys.readouterr().out
    assert "c1" in out and "demo" not in out.split("\n", 3)[-1]
    assert main(["usage", "--provider", "nope"]) == 2


def test_usage_save_stores_the_snapshot(isolated_home, capsys):
    write_settings(isolated_home, {"auto_detect": False, "accounts": [custom("c1", {"status": "OK"})]})
    assert main(["usage", "--save", "--json"]) == 0
    from openusage import paths
    from openusage.store import db

    conn = db.connect(paths.db_path(), readonly=True)
    assert conn.execute("SELECT account_id, status FROM snapshots").fetchall() == [("c1", "OK")]
    conn.close()


def test_usage_save_never_writes_beside_a_daemon(isolated_home, capsys):
    from openusage import paths
    from openusage.store import lock

    write_settings(isolated_home, {"auto_detect": False, "accounts": [custom("c1", {"status": "OK"})]})
    os.makedirs(os.path.dirname(paths.db_path()), exist_ok=True)
    daemon = lock.StoreLock(paths.db_path())
    daemon.acquire("daemon", "/tmp/ou-test.sock")
    try:
        assert main(["usage", "--save", "--json"]) == 1
        err = capsys.readouterr().err
        assert "a daemon is already running on the store" in err and "without --save" in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert not os.path.exists(paths.db_path())  # nothing written under the daemon's feet
    finally:
        daemon.release()
    assert main(["usage", "--save", "--json"]) == 0  # the daemon gone, the store is ours
    assert lock.holder(paths.db_path()) is None  # and given back


def test_status_exit_code_follows_accounts(isolated_home, capsys):
    write_settings(isolated_home, {"auto_detect": False, "accounts": [
        custom("good", {"status": "OK", "rate_limits": {"5h": {"used_percent": 42}}}),
        custom("bad", {"status": "AUTH", "message": "set KEY"})]})
    assert main(["status"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == ["custom:bad  AUTH  - set KEY", "custom:good  OK  limit 42% used"]
    assert main(["status", "good"]) == 0
    assert main(["status", "good", "--json"]) == 0
    entry = json.loads(capsys.readouterr().out.split("\n", 1)[1])["accounts"][0]
    assert entry["worst_limit_used_percent"] == 42
    assert main(["status", "nobody"]) == 2


def test_detect_and_list(isolated_home, capsys, monkeypatch):
    write_settings(isolated_home, {"accounts": [{"id": "c", "provider": "custom", "command": "true",
                                                 "api_key_env": "MY_TEAM_KEY"}]})
    monkeypatch.setenv("MY_TEAM_KEY", "sk-team-1234567890abcdef")
    assert main(["detect", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["accounts"]
    row = next(r for r in rows if r["id"] == "c")
    assert row["credential"] == "MY_TEAM_KEY (set)" and row["configured"] is True
    assert main(["detect"]) == 0
    assert "sk-team-1234567890abcdef" not in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    providers = {p["id"]: p for p in json.loads(capsys.readouterr().out)["providers"]}
    assert providers["custom"]["accounts"] == ["c"]
    assert providers["demo"]["source_modes"] == ["local"]


def test_list_says_what_each_poll_costs(isolated_home, capsys):
    write_settings(isolated_home, {"auto_detect": False, "accounts": [
        {"id": "oa", "provider": "openai", "api_key_env": "OPENAI_API_KEY"},
        {"id": "an", "provider": "anthropic", "probe": "chat"}]})
    assert main(["list", "--json"]) == 0
    providers = {p["id"]: p for p in json.loads(capsys.readouterr().out)["providers"]}
    assert providers["openai"]["account_polling"] == {"oa": "free: GET /models/<model> (headers), organization reports"}
    assert providers["anthropic"]["account_polling"]["an"].startswith("BILLED")
    assert all(p["polling"].startswith("free") for p in providers.values())  # every default is free
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = lines[0].index("POLLING")
    rows = {line.split()[0]: line[at:].split()[0] for line in lines[2:] if line.strip()}
    assert rows["anthropic"] == "billed" and rows["openai"] == "free" and rows["claude_code"] == "free"


def test_status_exits_1_at_a_full_plan_window_and_json_carries_every_window(isolated_home, capsys):
    import time

    from openusage.core.timeutil import format_rfc3339

    now = time.time()
    windows = {
        "5h": {"used_percent": 100.0, "resets_at": format_rfc3339(now + 3600), "source": "oauth",
               "observed_at": format_rfc3339(now - 60), "window_seconds": 18000},
        "weekly": {"used_percent": 40.0, "resets_at": format_rfc3339(now + 3 * 86400), "source": "statusline",
                   "observed_at": format_rfc3339(now - 7200), "window_seconds": 604800},
    }
    write_settings(isolated_home, {"auto_detect": False, "accounts": [
        custom("plan", {"status": "OK", "rate_limits": windows, "extras": {"plan": "max"}})]})
    assert main(["status", "--json"]) == 1
    out = capsys.readouterr().out
    entry = json.loads(out[out.index("{"):])["accounts"][0]
    assert entry["status"] == "LIMIT" and entry["plan"] == "max"
    assert set(entry["windows"]) == {"5h", "weekly"}
    weekly = entry["windows"]["weekly"]
    assert (weekly["used_percent"], weekly["source"], weekly["observed_at"]) == (
        40.0, "statusline", windows["weekly"]["observed_at"])
    # Four days into a seven-day window at 40 %: 10 %/day, full in six days, after the reset in three.
    assert weekly["pace"]["before_reset"] is False
    assert abs(weekly["pace"]["rate_percent_per_hour"] - 40.0 / (4 * 24 - 2)) < 0.01
    assert entry["windows"]["5h"]["resets_at"] == windows["5h"]["resets_at"]
    assert main(["status"]) == 1
    assert "LIMIT" in capsys.readouterr().out


def test_status_counts_an_agent_with_no_data_yet_as_no_failure(isolated_home, capsys):
    write_settings(isolated_home, {"auto_detect": False, "accounts": [
        custom("good", {"status": "OK"}), custom("fresh", {"status": "UNKNOWN", "message": "no data yet"})]})
    assert main(["status"]) == 0
    assert "custom:fresh  UNKNOWN" in capsys.readouterr().out
    write_settings(isolated_home, {"auto_detect": False, "accounts": [
        custom("fresh", {"status": "UNKNOWN"}), custom("warn", {"status": "WARN"})]})
    assert main(["status"]) == 1


def test_list_fits_an_80_column_terminal_with_each_agents_paths_below_it(isolated_home):
    import os

    from ptyrun import run_on_pty

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    code, out = run_on_pty([sys.executable, "-m", "openusage", "list"], 80, 60, env)
    lines = [line.rstrip() for line in out.replace("\r", "").splitlines() if line.strip()]
    assert code == 0 and max(len(line) for line in lines) <= 80
    assert "PATHS" not in lines[0]
    at = next(i for i, line in enumerate(lines) if line.startswith("codex "))
    assert lines[at + 1].strip() == "~/.codex (or $CODEX_HOME)"
    assert not lines[[line.split()[0] for line in lines].index("openai") + 1].startswith("    ")
