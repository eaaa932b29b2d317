import json
import os
import subprocess
import sys

import pytest

from openusage.cli import main as cli_main
from openusage.integrations import artifact, claude_code


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    path = tmp_path / "state"
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", str(path))
    return path


def run(capsys, *argv):
    code = cli_main.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def settings_path(home):
    return home / ".config" / "openusage" / "settings.json"


def recorded(home):
    with open(settings_path(home)) as fh:
        return json.load(fh)


def test_list_shows_detected_tools_and_all_with_all(isolated_home, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    code, out, _ = run(capsys, "integrations", "list", "--json")
    assert code == 0 and json.loads(out) == {"integrations": []}
    code, out, _ = run(capsys, "integrations", "list")
    assert code == 0 and "--all" in out
    (isolated_home / ".claude").mkdir()
    code, out, _ = run(capsys, "integrations", "--json")
    assert [e["id"] for e in json.loads(out)["integrations"]] == ["claude_code"]
    code, out, _ = run(capsys, "integrations", "list", "--all", "--json")
    entries = json.loads(out)["integrations"]
    assert [e["id"] for e in entries] == ["claude_code", "codex", "opencode"]
    assert entries[1] == {"id": "codex", "name": "Codex CLI", "detected": False, "installed": False,
                          "current": None, "target": str(isolated_home / ".codex" / "config.toml"), "detail": None,
                          "error": None, "state": None}


def test_install_records_state_and_is_idempotent(isolated_home, state_dir, capsys):
    settings_path(isolated_home).parent.mkdir(parents=True)
    settings_path(isolated_home).write_text(json.dumps({"theme": "light", "mine": {"x": 1}}))
    code, out, err = run(capsys, "integrations", "install", "claude-code")
    assert code == 0, err
    assert "hooks for 7 events" in out
    target = str(isolated_home / ".claude" / "settings.json")
    state = recorded(isolated_home)
    assert state["theme"] == "light" and state["mine"] == {"x": 1}
    entry = state["integrations"]["claude_code"]
    assert entry["installed"] is True and entry["version"] == "0.1.0" and entry["target"] == target
    assert entry["command"] == artifact.hook_command("claude-code") and entry["installed_at"].endswith("Z")
    assert entry["created_file"] is True
    script = state_dir / "bin" / "openusage-hook"
    assert os.access(script, os.X_OK) and artifact.script_current()
    before = (os.stat(settings_path(isolated_home)).st_mtime_ns, os.stat(target).st_mtime_ns)
    code, out, _ = run(capsys, "integrations", "install", "claude_code", "--json")
    assert code == 0 and json.loads(out)["changed"] is False
    assert (os.stat(settings_path(isolated_home)).st_mtime_ns, os.stat(target).st_mtime_ns) == before
    code, out, _ = run(capsys, "integrations", "list", "--json")
    [entry] = [e for e in json.loads(out)["integrations"] if e["id"] == "claude_code"]
    assert entry["installed"] and entry["current"] and entry["detected"]


def test_usage_errors_exit_2(isolated_home, state_dir, capsys):
    code, _, err = run(capsys, "integrations", "install", "cursor")
    assert code == 2 and "unknown integration 'cursor'" in err
    code, _, err = run(capsys, "integrations", "install", "claude_code", "--chain")
    assert code == 2 and "codex only" in err
    assert run(capsys, "integrations", "upgrade")[0] == 2
    assert run(capsys, "integrations", "upgrade", "codex", "--all")[0] == 2
    assert run(capsys, "integrations", "uninstall", "nope")[0] == 2
    assert not os.path.exists(state_dir / "bin" / "openusage-hook")


def test_runtime_errors_exit_1_with_one_line(isolated_home, state_dir, capsys):
    config = isolated_home / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text('notify = ["notify-send", "done"]\n')
    code, _, err = run(capsys, "integrations", "install", "codex")
    assert code == 1 and err.count("\n") == 1 and '["notify-send", "done"]' in err
    assert config.read_text() == 'notify = ["notify-send", "done"]\n'
    assert not os.path.exists(state_dir / "bin" / "openusage-hook")  # nothing installed, nothing left behind
    assert not settings_path(isolated_home).exists()
    code, out, err = run(capsys, "integrations", "install", "codex", "--chain")
    assert code == 0, err
    entry = recorded(isolated_home)["integrations"]["codex"]
    assert entry["previous_notify"] == ["notify-send", "done"]
    assert entry["command"][-2:] == [artifact.CHAIN_OPTION, json.dumps(["notify-send", "done"])]
    assert run(capsys, "integrations", "uninstall", "codex")[0] == 0
    assert config.read_text() == 'notify = ["notify-send", "done"]\n'
    assert "codex" not in recorded(isolated_home)["integrations"]
    settings = isolated_home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text("{oops")
    code, _, err = run(capsys, "integrations", "install", "claude_code")
    assert code == 1 and "not valid JSON" in err and settings.read_text() == "{oops"
    assert run(capsys, "integrations", "upgrade", "opencode")[0] == 1  # not installed


def test_claude_settings_file_env_is_honoured(isolated_home, state_dir, tmp_path, monkeypatch, capsys):
    elsewhere = tmp_path / "claude-settings.json"
    monkeypatch.setenv("CLAUDE_SETTINGS_FILE", str(elsewhere))
    assert run(capsys, "integrations", "install", "claude_code")[0] == 0
    assert claude_code.installed_commands(json.loads(elsewhere.read_text()))
    assert not (isolated_home / ".claude").exists()
    monkeypatch.delenv("CLAUDE_SETTINGS_FILE")
    # uninstall finds it through the recorded target
    assert run(capsys, "integrations", "uninstall", "claude_code")[0] == 0
    assert not elsewhere.exists()


def test_upgrade_all_rewrites_after_a_python_change(isolated_home, state_dir, monkeypatch, capsys):
    for iid in ("claude_code", "codex", "opencode"):
        assert run(capsys, "integrations", "install", iid)[0] == 0
    code, out, _ = run(capsys, "integrations", "upgrade", "--all")
    assert code == 0 and out.count("already current") == 3
    monkeypatch.setattr(sys, "executable", "/opt/python3.14/bin/python3")
    code, out, _ = run(capsys, "integrations", "list", "--json")
    assert [e["current"] for e in json.loads(out)["integrations"]] == [False, False, False]
    code, out, _ = run(capsys, "integrations", "upgrade", "--all", "--json")
    assert code == 0 and [r["changed"] for r in json.loads(out)["upgraded"]] == [True, True, True]
    code, out, _ = run(capsys, "integrations", "list", "--json")
    assert [e["current"] for e in json.loads(out)["integrations"]] == [True, True, True]
    assert "/opt/python3.14/bin/python3" in (state_dir / "bin" / "openusage-hook").read_text()
    states = recorded(isolated_home)["integrations"]
    assert states["codex"]["command"][:2] == ["/bin/sh", str(state_dir / "bin" / "openusage-hook")]


def test_uninstall_removes_state_and_finally_the_script(isolated_home, state_dir, capsys):
    for iid in ("claude_code", "opencode"):
        run(capsys, "integrations", "install", iid)
    script = state_dir / "bin" / "openusage-hook"
    assert run(capsys, "integrations", "uninstall", "claude_code")[0] == 0
    assert script.exists()
    assert run(capsys, "integrations", "uninstall", "opencode")[0] == 0
    assert not script.exists()
    assert recorded(isolated_home)["integrations"] == {}
    code, out, _ = run(capsys, "integrations", "uninstall", "opencode")
    assert code == 0 and "no plugin" in out


def test_config_flag_chooses_where_state_goes(isolated_home, state_dir, tmp_path, capsys):
    other = tmp_path / "other-settings.json"
    assert run(capsys, "--config", str(other), "integrations", "install", "opencode")[0] == 0
    assert json.loads(other.read_text())["integrations"]["opencode"]["installed"] is True
    assert not settings_path(isolated_home).exists()


def test_the_installed_cli_runs_it(isolated_home, state_dir):
    out = subprocess.run([sys.executable, "-m", "openusage", "integrations", "list", "--all", "--json"],
                         capture_output=True, text=True, env=dict(os.environ), timeout=60)
    assert out.returncode == 0, out.stderr
    assert [e["id"] for e in json.loads(out.stdout)["integrations"]] == ["claude_code", "codex", "opencode"]
