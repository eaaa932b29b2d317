import json
import os
import subprocess
import sys

import pytest

from openusage.cli.main import main


def run_cli(*args, env=None, stdin=None):
    return subprocess.run([sys.executable, "-m", "openusage", *args], capture_output=True, text=True,
                          env=env or dict(os.environ), input=stdin, timeout=60)


def test_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.startswith("openusage 0.1.0 (Python ")
    assert main(["version", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["openusage"] == "0.1.0"


def test_config_path_validate_show(isolated_home, capsys):
    path = isolated_home / ".config" / "openusage" / "settings.json"
    assert main(["config", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(path)
    assert main(["config", "validate"]) == 0
    assert "no settings file" in capsys.readouterr().out
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"accounts": [{"id": "a", "provider": "demo"},
                                             {"id": "b", "provider": "nope", "base_url": "x"}]}))
    assert main(["config", "validate"]) == 2
    err = capsys.readouterr().err
    assert "accounts[1].base_url: not a URL" in err
    path.write_text(json.dumps({"accounts": [{"id": "a", "provider": "nope"}]}))
    assert main(["config", "validate", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["errors"] == [
        "accounts[0].provider: unknown provider 'nope' (see 'openusage list')"]
    path.write_text(json.dumps({"accounts": [{"id": "a", "provider": "demo"}], "mine": 1}))
    assert main(["config", "validate"]) == 0
    assert "valid (1 account)" in capsys.readouterr().out
    assert main(["config", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["mine"] == 1 and shown["data"]["retention_days"] == 30


def test_invalid_config_is_exit_2_with_one_line(isolated_home):
    path = isolated_home / "bad.json"
    path.write_text("{")
    out = run_cli("--config", str(path))
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "not valid JSON" in out.stderr


def test_unknown_command_is_a_usage_error():
    out = run_cli("frobnicate")
    assert out.returncode == 2


def test_cache_clear_without_daemon(isolated_home, capsys, monkeypatch, short_dir):
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", short_dir)
    assert main(["cache", "clear"]) == 0
    assert "nothing to clear" in capsys.readouterr().out
    from openusage.store import db

    conn = db.open_store(os.path.join(short_dir, "telemetry.db"))
    conn.execute("INSERT INTO provider_state VALUES ('p', 'a', '{}', 0)")
    conn.execute("INSERT INTO rollup_d(provider_id, account_id, day, model, input) VALUES ('p', 'a', 'd', 'm', 1)")
    conn.close()
    assert main(["cache", "clear"]) == 0
    conn = db.connect(os.path.join(short_dir, "telemetry.db"))
    assert conn.execute("SELECT COUNT(*) FROM provider_state").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM rollup_d").fetchone()[0] == 1
    conn.close()
    monkeypatch.setattr("sys.stdin", open(os.devnull))
    assert main(["cache", "clear", "--history"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["cache", "clear", "--history", "--yes"]) == 0
    conn = db.connect(os.path.join(short_dir, "telemetry.db"))
    assert conn.execute("SELECT COUNT(*) FROM rollup_d").fetchone()[0] == 0
    conn.close()


def test_cache_clear_through_daemon(daemon_factory, capsys):
    d = daemon_factory().start()
    assert main(["cache", "clear", "--socket-path", d.socket_path]) == 0
    assert "through the running daemon" in capsys.readouterr().out


def test_default_command_starts_daemon_and_prints_table(short_dir, monkeypatch):
    state = os.path.join(short_dir, "state")
    env = dict(os.environ, OPENUSAGE_STATE_DIR=state)
    out = run_cli("demo", env=env)
    try:
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0] == "window 30d · 1 account(s)"
        assert lines[1].split() == ["PROVIDER", "ACCOUNT", "STATUS", "SPEND", "TOKENS", "TOP", "MODEL"]
        assert "Demo (sample data)" in lines[3] and "demo-" in lines[3]
        assert "started the daemon" in out.stderr
        js = run_cli("demo", "--json", "--window", "1d", env=env)
        model = json.loads(js.stdout)
        assert model["window"] == "1d"
        assert model["snapshots"]["demo"]["rate_limits"]["5h"]["used_percent"] >= 0
    finally:
        stop = run_cli("demo", "--stop", env=env)
        assert stop.returncode == 0 and "stopped" in stop.stdout


def test_daemon_unreachable_exit_3(short_dir):
    env = dict(os.environ, OPENUSAGE_STATE_DIR=short_dir)
    out = run_cli("telemetry", "daemon", "stop", "--socket-path", os.path.join(short_dir, "none.sock"), env=env)
    assert out.returncode == 3


@pytest.mark.parametrize("argv", [["telemetry", "hook"], ["telemetry", "hook", "a", "b", "c"],
                                  ["telemetry", "hook", "x", "--bogus"]])
def test_hook_usage_errors(argv, capsys):
    assert main(argv) == 2
    assert "usage: openusage telemetry hook" in capsys.readouterr().err


def test_one_shot_commands_end_at_once_with_their_output_and_exit_code(isolated_home):
    done = run_cli("pricing", "claude-sonnet-4-5", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["models"][0]["requested"] == "claude-sonnet-4-5"
    done = run_cli("daily", "--source", "direct", "--json", "--timezone", "UTC")
    assert done.returncode == 0 and json.loads(done.stdout)["daily"] == []
    done = run_cli("daily", "--last", "0")
    assert done.returncode == 2 and done.stderr.strip() == "openusage: --last must be at least 1"
    # A reader that stops early: no traceback, the command's own exit code.
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    many = ["claude-sonnet-4-5"] * 400  # ~180 KB of JSON: more than a pipe holds
    proc = subprocess.Popen([sys.executable, "-m", "openusage", "pricing", "--json", *many], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.read(10)
    proc.stdout.close()
    assert proc.wait(60) == 0 and proc.stderr.read() == b""  # not even "Exception ignored ... BrokenPipeError"
    proc.stderr.close()


def test_the_demo_never_puts_an_alert_about_sample_data_on_the_desktop(short_dir, monkeypatch):
    from openusage import config
    from openusage.alerts import rules
    from openusage.cli import demo_cmd

    monkeypatch.setenv("OPENUSAGE_STATE_DIR", short_dir)
    path = demo_cmd.prepare()
    found, notify = rules.from_settings(config.load(path).get("alerts"))
    assert found and notify.desktop is False  # the default rule still lists the demo's alerts
    # A demo dir an older openusage wrote (no alerts key) is brought along, its other keys kept.
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"auto_detect": False, "accounts": demo_cmd.DEMO_SETTINGS["accounts"], "theme": "light"}, fh)
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", short_dir)
    demo_cmd.prepare()
    with open(path, encoding="utf-8") as fh:
        kept = json.load(fh)
    assert kept["theme"] == "light" and kept["alerts"] == {"notify": {"desktop": False}}
