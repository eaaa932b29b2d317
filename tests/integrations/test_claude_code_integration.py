import json
import os
import shlex
import signal
import stat
import subprocess
import sys

import pytest
from support import DaemonProcess, wait_for

from openusage.daemon import client, spool
from openusage.integrations import artifact, claude_code
from openusage.integrations.artifact import IntegrationError

OTHER_TOOL = {"type": "command", "command": "/usr/local/bin/other-tool --log", "timeout": 5}
ORIGINAL = {
    "model": "opus",
    "env": {"FOO": "1"},
    "hooks": {
        "Stop": [{"hooks": [OTHER_TOOL]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [OTHER_TOOL]}],
    },
    "statusLine": {"type": "command", "command": "ccusage statusline"},
}


@pytest.fixture
def target(isolated_home):
    return str(isolated_home / ".claude" / "settings.json")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(data, fh, indent=4)


def read_bytes(path):
    with open(path, "rb") as fh:
        return fh.read()


def load(path):
    with open(path) as fh:
        return json.load(fh)


def our_commands(path):
    return claude_code.installed_commands(load(path))


def test_install_adds_one_hook_per_event_and_keeps_everything_else(target):
    write(target, ORIGINAL)
    original = read_bytes(target)
    outcome = claude_code.install(target)
    assert outcome.changed and outcome.state == {}
    data = load(target)
    command = artifact.hook_command("claude-code")
    assert our_commands(target) == {event: [command] for event in claude_code.EVENTS}
    assert data["hooks"]["PostToolUse"] == [{"matcher": "*", "hooks": [
        {"type": "command", "command": command, "timeout": 20}]}]
    assert "matcher" not in data["hooks"]["UserPromptSubmit"][0]
    # other keys and other tools' hooks are untouched, in their order
    assert {k: v for k, v in data.items() if k != "hooks"} == {k: v for k, v in ORIGINAL.items() if k != "hooks"}
    assert list(data) == list(ORIGINAL)
    assert data["hooks"]["Stop"][0] == {"hooks": [OTHER_TOOL]}
    assert data["hooks"]["PreToolUse"] == ORIGINAL["hooks"]["PreToolUse"]
    assert read_bytes(target + ".bak") == original
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(target + ".bak").st_mode) == 0o600


def test_install_twice_is_the_same_bytes_and_no_rewrite(target):
    write(target, ORIGINAL)
    claude_code.install(target)
    first = read_bytes(target)
    before = os.stat(target).st_mtime_ns
    backup = read_bytes(target + ".bak")
    outcome = claude_code.install(target)
    assert not outcome.changed
    assert read_bytes(target) == first
    assert os.stat(target).st_mtime_ns == before
    assert read_bytes(target + ".bak") == backup


def test_uninstall_is_the_inverse(target):
    write(target, ORIGINAL)
    claude_code.install(target)
    assert claude_code.uninstall(target).changed
    assert load(target) == ORIGINAL
    assert not claude_code.uninstall(target).changed


def test_uninstall_drops_only_the_structures_that_held_only_ours(target):
    write(target, {"model": "opus"})
    claude_code.install(target)
    claude_code.uninstall(target)
    assert load(target) == {"model": "opus"}


def test_missing_file_is_created_and_removed_again(target):
    outcome = claude_code.install(target)
    assert outcome.changed and outcome.state == {"created_file": True}
    assert not os.path.exists(target + ".bak")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert claude_code.uninstall(target, state=outcome.state).changed
    assert not os.path.exists(target)


def test_outdated_and_duplicate_handlers_are_replaced_in_place(target):
    old = {"type": "command", "command": "openusage telemetry hook claude-code"}
    write(target, {"hooks": {"Stop": [{"hooks": [OTHER_TOOL, old]}, {"hooks": [dict(old)]}]}})
    claude_code.install(target)
    stop = load(target)["hooks"]["Stop"]
    assert stop == [{"hooks": [OTHER_TOOL, {"type": "command", "command": artifact.hook_command("claude-code"),
                                            "timeout": 20}]}]


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"hooks": []}', '{"hooks": {"Stop": {}}}'])
def test_unparsable_settings_are_left_untouched(target, content):
    os.makedirs(os.path.dirname(target))
    with open(target, "w") as fh:
        fh.write(content)
    with pytest.raises(IntegrationError, match="left it untouched"):
        claude_code.install(target)
    with pytest.raises(IntegrationError):
        claude_code.uninstall(target)
    assert read_bytes(target) == content.encode()
    assert not os.path.exists(target + ".bak")
    assert claude_code.inspect(target).error


def test_settings_file_env_and_config_dir_are_honoured(monkeypatch, tmp_path, isolated_home):
    assert claude_code.default_target() == str(isolated_home / ".claude" / "settings.json")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{tmp_path}/cfg1,{tmp_path}/cfg2")
    assert claude_code.default_target() == f"{tmp_path}/cfg1/settings.json"
    monkeypatch.setenv("CLAUDE_SETTINGS_FILE", str(tmp_path / "elsewhere.json"))
    assert claude_code.default_target() == str(tmp_path / "elsewhere.json")


def test_a_symlinked_settings_file_stays_a_symlink(target, tmp_path):
    real = tmp_path / "dotfiles" / "claude.json"
    write(str(real), ORIGINAL)
    os.makedirs(os.path.dirname(target))
    os.symlink(real, target)
    claude_code.install(target)
    assert os.path.islink(target)
    assert our_commands(str(real))


def test_inspect_reports_installed_and_current(target, monkeypatch):
    assert not claude_code.inspect(target).installed
    artifact.write_script()
    claude_code.install(target)
    status = claude_code.inspect(target)
    assert status.installed and status.current
    monkeypatch.setattr(sys, "executable", "/opt/python3.13/bin/python3")
    status = claude_code.inspect(target)
    assert status.installed and not status.current
    artifact.write_script()  # what upgrade does: the hook commands name the script, not the Python
    assert not claude_code.install(target).changed
    assert claude_code.inspect(target).current
    assert our_commands(target)["Stop"] == [shlex.join(["/bin/sh", artifact.script_path(), "claude-code"])]
    assert "/opt/python3.13/bin/python3 -S -E" in open(artifact.script_path()).read()


def test_commands_of_older_versions_are_not_current_and_upgrade_replaces_them(target):
    old = shlex.join([sys.executable, "-S", "-E", artifact.script_path(), "claude-code"])
    write(target, {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": old, "timeout": 20}]}]}})
    artifact.write_script()
    status = claude_code.inspect(target)
    assert status.installed and not status.current
    assert claude_code.install(target).changed
    assert our_commands(target)["Stop"] == [artifact.hook_command("claude-code")]


def _agent_env():
    """The environment an agent hands its hooks: the user's, without openusage's variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}


def test_installed_command_delivers_to_the_daemon_and_spools_when_it_is_down(target, short_dir, monkeypatch):
    state = os.path.join(short_dir, "state")
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", state)
    artifact.write_script()
    claude_code.install(target)
    command = our_commands(target)["PostToolUse"][0]
    argv = shlex.split(command)
    assert argv[0] == "/bin/sh" and argv[1].startswith(state)
    payload = {"session_id": "s1", "transcript_path": "/x/s1.jsonl", "cwd": "/home/u/proj",
               "hook_event_name": "PostToolUse", "tool_name": "Edit", "tool_use_id": "toolu_e2e_1",
               "tool_input": {}, "tool_response": {}}
    daemon = DaemonProcess(state, os.path.join(state, "telemetry.sock"))
    try:
        daemon.start()
        # the agent's environment has no OPENUSAGE_* variables: the script knows its state dir
        proc = subprocess.run(argv, input=json.dumps(payload).encode(), capture_output=True, env=_agent_env(),
                              timeout=30)
        assert proc.returncode == 0 and proc.stdout == b"", proc.stderr
        assert client.call_json(daemon.socket_path, "GET", "/healthz")["events_stored"] == 1
        daemon.stop(signal.SIGTERM)
        daemon.proc.stdout.close()
        daemon.proc.stderr.close()
        payload["tool_use_id"] = "toolu_e2e_2"
        proc = subprocess.run(argv, input=json.dumps(payload).encode(), capture_output=True, env=_agent_env(),
                              timeout=30)
        assert proc.returncode == 0 and proc.stdout == b""
        assert spool.depth(os.path.join(state, "telemetry-spool"))["pending"] == 1
        daemon.start()
        assert wait_for(lambda: client.call_json(daemon.socket_path, "GET", "/healthz")["events_stored"] == 2)
    finally:
        daemon.stop(signal.SIGKILL)
        for stream in (daemon.proc.stdout, daemon.proc.stderr) if daemon.proc else ():
            stream.close()
