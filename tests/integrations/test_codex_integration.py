import json
import os
import shutil
import signal
import stat
import subprocess
import sys

import pytest
from support import DaemonProcess, wait_for

from openusage.daemon import client
from openusage.integrations import artifact, codex
from openusage.integrations.artifact import IntegrationError

tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else None

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "fixtures", "codex", "config",
                       "codexbar", "codex-config-openai.toml")
FIXTURE_TEXT = 'model_provider = "openai"\n\n[model_providers.unused]\nname = "Unused fixture provider"\n' \
               "requires_openai_auth = false\n"


@pytest.fixture
def home(isolated_home):
    return isolated_home / ".codex"


@pytest.fixture
def target(home):
    return str(home / "config.toml")


def put(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode, newline="") as fh:
        fh.write(text)


def raw(path):
    with open(path, "rb") as fh:
        return fh.read()


def notify_of(path):
    text = raw(path).decode()
    top = codex.scan(text)
    stmt = next(s for s in top.statements if s.key == ["notify"])
    argv = codex.parse_string_array("".join(top.lines[stmt.start:stmt.end + 1])[stmt.value_at:])
    if tomllib:
        assert tomllib.loads(text)["notify"] == argv
    return argv


def test_codex_home_is_honoured(monkeypatch, tmp_path, isolated_home):
    assert codex.default_target() == str(isolated_home / ".codex" / "config.toml")
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "ch"))
    assert codex.default_target() == str(tmp_path / "ch" / "config.toml")


def test_install_adds_one_line_and_keeps_every_other_byte(target):
    if os.path.exists(FIXTURE):
        with open(FIXTURE, newline="") as fh:
            assert fh.read() == FIXTURE_TEXT
    put(target, FIXTURE_TEXT)
    outcome = codex.install(target)
    assert outcome.changed and outcome.state["previous_notify"] is None
    lines = raw(target).decode().splitlines(keepends=True)
    assert lines[0] == 'model_provider = "openai"\n'
    assert lines[1].startswith("notify = [")
    assert "".join(lines[:1] + lines[2:]) == FIXTURE_TEXT
    assert notify_of(target) == ["/bin/sh", artifact.script_path(), "codex"]
    assert raw(target + ".bak") == FIXTURE_TEXT.encode()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    first, mtime = raw(target), os.stat(target).st_mtime_ns
    assert not codex.install(target).changed
    assert raw(target) == first and os.stat(target).st_mtime_ns == mtime
    assert codex.uninstall(target, outcome.state).changed
    assert raw(target) == FIXTURE_TEXT.encode()


@pytest.mark.parametrize("text", [
    "# my codex config\n\n# providers\n[model_providers.x]\nname = 'x'\n",
    "# only comments\n",
    "",
    'model = "o3"',  # no newline at the end
    'model = "o3"\r\napproval_policy = "never"\r\n\r\n[tui]\r\nnotifications = true\r\n',
    'model = "o3"\n[profiles.fast]\nnotify = ["ignored-here"]\n',
    'instructions = """\n[not a table]\nnotify = 1\n"""\nmodel = "o3"\n\n[x]\n',
    'arr = [\n  "a", # c\n  ["b"],\n]\n[[servers]]\nname = "s"\n',
])
def test_uninstall_restores_the_exact_bytes(target, text):
    put(target, text)
    outcome = codex.install(target)
    installed = raw(target).decode()
    assert notify_of(target)[-1] == "codex"
    if tomllib:
        parsed = tomllib.loads(installed)
        assert {k: v for k, v in parsed.items() if k != "notify"} == tomllib.loads(text)
    if "\r\n" in text:
        assert "\r\n" in installed and "\n" not in installed.replace("\r\n", "")
    assert codex.uninstall(target, outcome.state).changed
    assert raw(target) == text.encode()


def test_missing_file_is_created_and_removed(target):
    outcome = codex.install(target)
    assert outcome.state["created_file"] is True
    assert notify_of(target)[-1] == "codex"
    assert not os.path.exists(target + ".bak")
    codex.uninstall(target, outcome.state)
    assert not os.path.exists(target)


def test_a_different_notify_is_refused_and_left_alone(target):
    text = 'model = "o3"\nnotify = ["notify-send", "Codex"]\n'
    put(target, text)
    with pytest.raises(IntegrationError) as err:
        codex.install(target)
    assert '["notify-send", "Codex"]' in str(err.value) and "--chain" in str(err.value)
    assert "\n" not in str(err.value)
    assert raw(target) == text.encode()
    assert not os.path.exists(target + ".bak")
    status = codex.inspect(target)
    assert not status.installed and "notify-send" in status.detail
    assert not codex.uninstall(target).changed
    assert raw(target) == text.encode()


def test_chain_keeps_the_previous_program_and_uninstall_restores_it(target):
    text = 'model = "o3"\nnotify = [\n  "python3",  # my notifier\n  "/home/u/notify.py",\n]\n\n[tui]\nx = 1\n'
    put(target, text)
    outcome = codex.install(target, chain=True)
    assert outcome.state["previous_notify"] == ["python3", "/home/u/notify.py"]
    argv = notify_of(target)
    assert argv[:3] == ["/bin/sh", artifact.script_path(), "codex"]
    assert argv[3] == artifact.CHAIN_OPTION and json.loads(argv[4]) == ["python3", "/home/u/notify.py"]
    assert raw(target).decode().endswith('\n\n[tui]\nx = 1\n')
    status = codex.inspect(target)
    assert status.installed and "chained to python3" in status.detail
    # reinstalling (or upgrading) keeps the chain without --chain
    again = codex.install(target, state=outcome.state)
    assert not again.changed and again.state["previous_notify"] == ["python3", "/home/u/notify.py"]
    assert codex.uninstall(target, again.state).changed
    assert raw(target) == text.encode()


def test_chain_restore_without_recorded_text_rebuilds_the_line(target):
    put(target, 'notify = ["notify-send", "hi"]\n')
    codex.install(target, chain=True)
    codex.uninstall(target, state={})
    assert raw(target) == b'notify = ["notify-send", "hi"]\n'


@pytest.mark.parametrize("text", [
    'model = "o3\n',
    "model = [1, 2\n",
    "= 3\n",
    'notify = "not-an-array"\n',
    'notify = ["a", 1]\n',
])
def test_unparsable_toml_is_left_untouched(target, text):
    put(target, text)
    with pytest.raises(IntegrationError, match="left it untouched"):
        codex.install(target, chain=True)
    assert raw(target) == text.encode()
    assert not os.path.exists(target + ".bak")
    assert codex.inspect(target).error


@pytest.mark.skipif(tomllib is None, reason="tomllib checks the whole file on 3.11+")
def test_an_error_below_the_first_table_is_caught_too(target):
    put(target, 'model = "o3"\n[x]\ny = \n')
    with pytest.raises(IntegrationError):
        codex.install(target)


@pytest.mark.parametrize("value", [
    '["a", "b"]',
    "[ 'lit\\eral' , \"esc\\\"aped\\\\\" ]",
    '[\n  "x",  # comment, with ]\n  "y",\n]',
    "[]",
    '["\\u00e9\\t"]',
])
def test_parse_string_array_agrees_with_tomllib(value):
    mine = codex.parse_string_array(value)
    if tomllib:
        assert mine == tomllib.loads("v = " + value)["v"]


def test_upgrade_rewrites_an_outdated_notify(target, monkeypatch):
    artifact.write_script()
    codex.install(target)
    assert codex.inspect(target).current
    monkeypatch.setattr(sys, "executable", "/opt/py/bin/python3")
    assert not codex.inspect(target).current
    artifact.write_script()  # notify names the script, which names the Python: only the script changes
    assert not codex.install(target).changed
    assert codex.inspect(target).current and notify_of(target)[0] == "/bin/sh"
    assert "/opt/py/bin/python3 -S -E" in open(artifact.script_path()).read()


def test_chained_program_gets_the_payload_as_last_argument(target, short_dir, tmp_path, monkeypatch):
    state = os.path.join(short_dir, "state")
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", state)
    record = tmp_path / "argv.json"
    notifier = tmp_path / "notifier.py"
    notifier.write_text(f"import json, sys\nopen({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n")
    put(target, f'notify = [{json.dumps(sys.executable)}, {json.dumps(str(notifier))}, "first"]\n')
    artifact.write_script()
    codex.install(target, chain=True)
    payload = json.dumps({"type": "agent-turn-complete", "thread-id": "th1", "turn-id": "tu1", "cwd": "/w/app",
                          "input-messages": ["hi"], "last-assistant-message": None})
    daemon = DaemonProcess(state, os.path.join(state, "telemetry.sock"))
    try:
        daemon.start()
        # as Codex runs it: the notify argv plus the payload, no stdin, no OPENUSAGE_* variables
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
        proc = subprocess.run(notify_of(target) + [payload], stdin=subprocess.DEVNULL, capture_output=True,
                              env=env, timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert wait_for(lambda: record.exists() and record.read_text())
        assert json.loads(record.read_text()) == ["first", payload]
        assert client.call_json(daemon.socket_path, "GET", "/healthz")["events_stored"] == 1
    finally:
        daemon.stop(signal.SIGKILL)
        for stream in (daemon.proc.stdout, daemon.proc.stderr) if daemon.proc else ():
            stream.close()


def test_a_symlinked_config_stays_a_symlink(target, tmp_path):
    real = tmp_path / "dotfiles" / "config.toml"
    put(str(real), FIXTURE_TEXT)
    os.makedirs(os.path.dirname(target))
    os.symlink(real, target)
    codex.install(target)
    assert os.path.islink(target) and "notify" in real.read_text()
    shutil.rmtree(tmp_path / "dotfiles")
