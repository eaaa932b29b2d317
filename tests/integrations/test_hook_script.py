"""The installed hook script: its shell half (curl) and its Python half, run as the agents run them."""
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time

import pytest
from support import DaemonProcess, wait_for

from openusage.cli import hook_cmd
from openusage.daemon import client, pipeline, spool
from openusage.integrations import artifact

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="the shell half posts with curl")


class Hook:
    """The script written for a state dir, a daemon on its default socket, and an agent's environment."""

    def __init__(self, state, tmp_path):
        self.state = state
        self.script = artifact.script_path()
        self.spool_dir = os.path.join(state, "telemetry-spool")
        self.daemon = DaemonProcess(state, os.path.join(state, "telemetry.sock"))
        self.fake_bin = tmp_path / "fakebin"
        self.fake_bin.mkdir()
        # the agent's environment: the user's, without openusage's variables
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}

    def fake_date(self, output):
        """Put a `date` that prints `output` first on PATH (the receipt time the shell half stamps)."""
        path = self.fake_bin / "date"
        path.write_text(f"#!/bin/sh\necho '{output}'\n")
        path.chmod(0o755)
        self.env["PATH"] = f"{self.fake_bin}{os.pathsep}{os.environ['PATH']}"

    def run(self, *args, stdin=b"", shell="/bin/sh", env=None):
        argv = ([shell] if shell else [sys.executable, "-S", "-E"]) + [self.script, *args]
        proc = subprocess.run(argv, input=stdin, capture_output=True, env=env or self.env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == b""
        return proc.stderr.decode()

    def health(self):
        return client.call_json(self.daemon.socket_path, "GET", "/healthz")

    def rows(self, sql="SELECT tool_call_id, turn_id, occurred_at, raw FROM event_detail ORDER BY id"):
        conn = sqlite3.connect(os.path.join(self.state, "telemetry.db"))
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def spooled(self):
        names = sorted(n for n in os.listdir(self.spool_dir) if n.endswith(".json")) if os.path.isdir(
            self.spool_dir) else []
        return [spool.read_record(os.path.join(self.spool_dir, n)) for n in names]


@pytest.fixture
def hook(short_dir, tmp_path, monkeypatch):
    state = os.path.join(short_dir, "state")
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", state)
    artifact.write_script()
    h = Hook(state, tmp_path)
    yield h
    h.daemon.stop(signal.SIGKILL)
    for stream in (h.daemon.proc.stdout, h.daemon.proc.stderr) if h.daemon.proc else ():
        stream.close()


def tool_payload(tool_use_id, extra=""):
    return {"session_id": "s1", "transcript_path": "/x/s1.jsonl", "cwd": "/home/u/proj",
            "hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_use_id": tool_use_id,
            "tool_input": {"command": "echo 'a' \"b\" $HOME `id` \\n EOF" + extra}, "tool_response": {}}


def stamp():
    """A receipt time an hour ago with nanoseconds, as GNU date prints it."""
    return f"{int(time.time()) - 3600}.123456789"


def test_script_is_one_file_for_sh_and_python(hook):
    text = open(hook.script).read()
    assert text.startswith("#!/bin/sh\n'''") and "\\" not in text.split("'''")[1]
    assert stat.S_IMODE(os.stat(hook.script).st_mode) == 0o755
    compile(text, hook.script, "exec")  # the Python half parses
    assert artifact.hook_argv("codex", ["--x"]) == ["/bin/sh", hook.script, "codex", "--x"]


@needs_curl
@pytest.mark.parametrize("shell", ["/bin/sh", "bash"])
def test_stdin_payload_is_delivered_with_the_shells_receipt_time(hook, shell):
    if shutil.which(shell) is None:
        pytest.skip(f"no {shell}")
    received = stamp()
    hook.fake_date(received)
    hook.daemon.start()
    payload = tool_payload("toolu_sh_1", extra=" \u00e9\u4e2d")
    assert hook.run("claude-code", stdin=json.dumps(payload, ensure_ascii=False).encode() + b"\n",
                    shell=shell) == ""
    [(tool_call_id, _, occurred_at, raw)] = hook.rows()
    stored = json.loads(json.dumps(pipeline.normalize("claude-code", payload, None, 1.0, {}).raw))
    assert tool_call_id == "toolu_sh_1" and json.loads(raw) == stored  # every byte arrived as sent
    assert occurred_at == float(received)
    assert hook.health()["events_stored"] == 1 and not hook.spooled()


@needs_curl
def test_codex_payload_as_last_argument(hook):
    hook.fake_date(stamp())
    hook.daemon.start()
    notify = {"type": "agent-turn-complete", "thread-id": "th1", "turn-id": "tu1", "cwd": "/w/app"}
    proc = subprocess.run(["/bin/sh", hook.script, "codex", json.dumps(notify)], stdin=subprocess.DEVNULL,
                          capture_output=True, env=hook.env, timeout=60)
    assert proc.returncode == 0 and proc.stdout == b"" and proc.stderr == b""
    assert [r[1] for r in hook.rows()] == ["tu1"]


@needs_curl
def test_a_date_without_nanoseconds_leaves_the_stamp_to_the_daemon(hook):
    hook.fake_date("1790000000.N")  # what BSD date prints for %N
    hook.daemon.start()
    before = time.time()
    hook.run("claude-code", stdin=json.dumps(tool_payload("toolu_bsd")).encode())
    [(_, _, occurred_at, _)] = hook.rows()
    assert occurred_at >= before


@needs_curl
def test_daemon_down_spools_with_the_receipt_time_and_a_start_drains_it(hook):
    received = stamp()
    hook.fake_date(received)
    payloads = [tool_payload("toolu_down_1"), tool_payload("toolu_down_2")]
    hook.run("claude-code", stdin=json.dumps(payloads[0]).encode())
    hook.run("claude-code", stdin=json.dumps(payloads[1]).encode())
    records = hook.spooled()
    assert [json.loads(r["body"]) for r in records] == payloads
    assert all(r["source"] == "claude-code" and r["account_id"] is None and r["v"] == 1 for r in records)
    assert all(r["received_at"] == float(received) for r in records)
    assert not [n for n in os.listdir(hook.spool_dir) if n.startswith(".")]  # no temp file left behind
    hook.daemon.start()
    assert wait_for(lambda: hook.health()["events_stored"] == 2)
    assert [r[0] for r in hook.rows()] == ["toolu_down_1", "toolu_down_2"]
    assert {r[2] for r in hook.rows()} == {float(received)}
    assert hook.spooled() == []


@needs_curl
def test_refused_and_empty_payloads_say_so_on_stderr_and_exit_0(hook):
    hook.daemon.start()
    assert "daemon refused the payload (HTTP 400); not kept" in hook.run("claude-code", stdin=b"{oops")
    assert "empty payload" in hook.run("claude-code", stdin=b"  \n")
    assert "daemon refused" in hook.run("Bad Source", stdin=b"{}")  # handed to the Python half
    assert hook.run("claude-code", "--bogus") != ""  # a usage error, still exit 0 and stdout empty
    assert hook.health()["events_stored"] == 0 and not hook.spooled()


def test_without_curl_the_python_half_delivers_and_spools(hook):
    hook.fake_date(stamp())
    hook.env["PATH"] = str(hook.fake_bin)  # no curl, no cat: the shell hands over at once
    hook.run("claude-code", stdin=json.dumps(tool_payload("toolu_nocurl_1")).encode())
    assert [json.loads(r["body"])["tool_use_id"] for r in hook.spooled()] == ["toolu_nocurl_1"]
    hook.daemon.start()
    assert wait_for(lambda: hook.health()["events_stored"] == 1)
    hook.run("claude-code", stdin=json.dumps(tool_payload("toolu_nocurl_2")).encode())
    assert [r[0] for r in hook.rows()] == ["toolu_nocurl_1", "toolu_nocurl_2"]


def test_the_python_half_alone_runs_as_older_installed_hooks_do(hook):
    hook.daemon.start()
    hook.run("claude-code", stdin=json.dumps(tool_payload("toolu_py")).encode(), shell=None)
    assert [r[0] for r in hook.rows()] == ["toolu_py"]


def test_hook_command_received_at_and_spool_options(hook, capsys):
    hook.daemon.start()
    body = json.dumps(tool_payload("toolu_opt"))
    assert hook_cmd.main(["claude-code", body, "--received-at", "1790000000.25", "--spool"]) == 0
    assert hook.health()["events_stored"] == 0  # --spool: no delivery attempt
    [record] = hook.spooled()
    assert record["received_at"] == 1790000000.25 and record["body"] == body
    assert hook_cmd.main(["claude-code", body, "--received-at", "soon"]) == 2
    assert "--received-at needs epoch seconds" in capsys.readouterr().err


def test_the_delivery_path_imports_no_heavy_module(hook):
    """What a hook run imports beyond a bare start: no socket (enum), json, typing, re or http."""
    probe = (f"import sys; base = set(sys.modules); sys.path.insert(0, {artifact.package_root()!r}); "
             "from openusage.cli import hook_cmd; print(' '.join(sorted(set(sys.modules) - base)))")
    out = subprocess.run([sys.executable, "-S", "-E", "-c", probe], capture_output=True, check=True).stdout
    loaded = set(out.decode().split())
    assert "openusage.cli.hook_cmd" in loaded
    assert not loaded & {"socket", "json", "typing", "re", "http.client", "enum", "urllib.parse"}, loaded
