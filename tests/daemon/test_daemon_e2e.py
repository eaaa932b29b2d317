import json
import os
import signal
import socket
import stat
import subprocess
import sys

from support import wait_for

from openusage.cli import hook_cmd
from openusage.daemon import client, spool
from openusage.store import db

CLAUDE_TOOL = {"session_id": "s1", "transcript_path": "/x/s1.jsonl", "cwd": "/home/u/proj",
               "hook_event_name": "PostToolUse", "tool_name": "mcp__github__search_code",
               "tool_use_id": "toolu_01", "tool_input": {}, "tool_response": {}}


def post(sock, path, payload):
    return client.call_json(sock, "POST", path, payload)


def test_endpoints_answer_json(daemon_factory):
    d = daemon_factory().start()
    health = client.call_json(d.socket_path, "GET", "/healthz")
    assert health["status"] == "ok" and health["pid"] == d.proc.pid
    assert client.call_json(d.socket_path, "GET", "/health")["status"] == "ok"
    status, body = client.request(d.socket_path, "POST", "/v1/hook/claude-code",
                                  json.dumps(CLAUDE_TOOL).encode())
    assert status == 200 and json.loads(body)["stored"] == 1
    model = post(d.socket_path, "/v1/read-model", {"window": "7d"})
    snap = model["snapshots"]["claude_code"]
    assert snap["tool_calls"] == 1
    assert snap["mcp_servers"] == [{"name": "github", "calls": 1}]
    assert snap["projects"][0]["name"] == "proj"
    providers = client.call_json(d.socket_path, "GET", "/v1/providers")
    assert "demo" in [p["id"] for p in providers["providers"]]
    assert "claude_code" in client.call_json(d.socket_path, "GET", "/v1/usage?window=all")["snapshots"]
    usage = client.call_json(d.socket_path, "GET", "/v1/usage/claude_code")
    assert list(usage["snapshots"]) == ["claude_code"]
    assert client.request(d.socket_path, "GET", "/v1/usage/nope")[0] == 404
    assert client.request(d.socket_path, "POST", "/v1/refresh", b"{}")[0] == 202
    assert client.request(d.socket_path, "POST", "/v1/read-model", b'{"window": "2w"}')[0] == 400
    assert client.request(d.socket_path, "GET", "/v1/read-model")[0] == 405
    assert client.request(d.socket_path, "POST", "/v1/hook/bad%20name", b"{}")[0] == 400


def test_socket_is_private(daemon_factory):
    d = daemon_factory().start()
    assert stat.S_IMODE(os.stat(d.socket_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d.state_dir).st_mode) == 0o700


def test_sigterm_drains_and_removes_the_socket(daemon_factory):
    d = daemon_factory().start()
    assert d.stop(signal.SIGTERM) == 0
    assert not os.path.exists(d.socket_path)


def test_a_signal_inside_the_stop_handler_does_not_hang_the_daemon(short_dir, monkeypatch):
    """A second SIGTERM landing while the first handler is inside Event.set() (holding the event's
    lock) ran the handler again on the same thread: set() waited on its own lock for ever."""
    import threading

    from openusage.daemon.app import Daemon

    monkeypatch.setenv("OPENUSAGE_STATE_DIR", os.path.join(short_dir, "state"))
    d = Daemon(socket_path=os.path.join(short_dir, "d.sock"))
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        d._install_signals()
        handler = signal.getsignal(signal.SIGTERM)

        def nested_signal():
            with d.stop_event._cond:  # what the first handler holds inside Event.set()
                handler(signal.SIGTERM, None)

        t = threading.Thread(target=nested_signal, daemon=True)
        t.start()
        t.join(5)
        assert not t.is_alive(), "the stop handler waited on the lock its own thread holds"
        assert d.stop_event.wait(5)
    finally:
        for sig, old in before.items():
            signal.signal(sig, old)


def test_second_daemon_exits_1_and_stale_socket_is_replaced(daemon_factory):
    first = daemon_factory().start()
    second = daemon_factory().start(wait=False)
    assert second.proc.wait(15) == 1
    assert b"already running" in second.proc.stderr.read()
    assert client.is_alive(first.socket_path)
    first.stop(signal.SIGKILL)
    assert os.path.exists(first.socket_path)  # stale: nobody answers
    third = daemon_factory().start()
    assert client.call_json(third.socket_path, "GET", "/healthz")["pid"] == third.proc.pid


def test_hook_spools_while_down_and_daemon_drains_at_start(daemon_factory, capsys):
    d = daemon_factory()
    payload = dict(CLAUDE_TOOL, tool_use_id="toolu_spooled")
    assert hook_cmd.main(["claude-code", json.dumps(payload), "--socket-path", d.socket_path]) == 0
    assert hook_cmd.main(["claude-code", json.dumps(payload), "--socket-path", d.socket_path, "--strict"]) == 1
    spool_dir = os.path.join(d.state_dir, "telemetry-spool")
    assert spool.depth(spool_dir)["pending"] == 2
    with open(os.path.join(spool_dir, "0000-garbage.json"), "w") as fh:
        fh.write("{not json")
    d.start()  # the drain runs in the background: the daemon answers meanwhile
    assert wait_for(lambda: client.call_json(d.socket_path, "GET", "/healthz")["spool"]["pending"] == 0)
    health = client.call_json(d.socket_path, "GET", "/healthz")
    assert health["spool"]["pending"] == 0 and health["spool"]["bad"] == 1
    assert health["events_stored"] == 1 and health["duplicates_dropped"] == 1
    assert capsys.readouterr().err.count("spooled") == 1


def test_hook_command_reads_stdin(daemon_factory):
    d = daemon_factory().start()
    proc = subprocess.run([sys.executable, "-m", "openusage", "telemetry", "hook", "claude-code",
                           "--socket-path", d.socket_path, "--strict"],
                          input=json.dumps(dict(CLAUDE_TOOL, tool_use_id="toolu_stdin")).encode(),
                          capture_output=True, env=d.env, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""  # a hook prints nothing unless it means to steer the agent
    assert client.call_json(d.socket_path, "GET", "/healthz")["events_stored"] == 1


def test_codex_notify_payload_as_last_argument(daemon_factory):
    d = daemon_factory().start()
    notify = {"type": "agent-turn-complete", "thread-id": "th1", "turn-id": "tu1", "cwd": "/w/app",
              "input-messages": ["hi"], "last-assistant-message": None}
    assert hook_cmd.main(["codex", json.dumps(notify), "--socket-path", d.socket_path, "--strict"]) == 0
    assert hook_cmd.main(["codex", json.dumps(notify), "--socket-path", d.socket_path, "--strict"]) == 0
    health = client.call_json(d.socket_path, "GET", "/healthz")
    assert health["events_stored"] == 1 and health["duplicates_dropped"] == 1


def test_bad_payload_is_refused_not_spooled(daemon_factory, capsys):
    d = daemon_factory().start()
    assert hook_cmd.main(["claude-code", "{oops", "--socket-path", d.socket_path]) == 0
    assert hook_cmd.main(["claude-code", "{oops", "--socket-path", d.socket_path, "--strict"]) == 1
    assert "refused" in capsys.readouterr().err
    assert spool.depth(os.path.join(d.state_dir, "telemetry-spool"))["pending"] == 0


def test_oversized_body_gets_413_and_daemon_lives(daemon_factory):
    d = daemon_factory().start()
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(d.socket_path)
    sock.sendall(b"POST /v1/hook/x HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 1000)
    answer = sock.recv(4096)
    sock.close()
    assert b" 413 " in answer.split(b"\r\n")[0]
    assert client.is_alive(d.socket_path)


def test_corrupt_database_is_replaced_at_start(daemon_factory):
    d = daemon_factory()
    os.makedirs(d.state_dir, exist_ok=True)
    with open(os.path.join(d.state_dir, "telemetry.db"), "wb") as fh:
        fh.write(b"SQLite format 3\x00" + b"\x13" * 8192)
    d.start()
    assert client.call_json(d.socket_path, "GET", "/healthz")["status"] == "ok"
    assert any(".corrupt-" in n for n in os.listdir(d.state_dir))
    d.stop()
    conn = db.connect(os.path.join(d.state_dir, "telemetry.db"))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_daemon_status_and_stop_commands(daemon_factory):
    d = daemon_factory().start()
    run = [sys.executable, "-m", "openusage", "telemetry", "daemon"]
    out = subprocess.run(run + ["status", "--socket-path", d.socket_path], capture_output=True, env=d.env,
                         timeout=30, text=True)
    assert out.returncode == 0 and f"pid               {d.proc.pid}" in out.stdout
    assert "spool             0 pending" in out.stdout
    out = subprocess.run(run + ["stop", "--socket-path", d.socket_path], capture_output=True, env=d.env,
                         timeout=30, text=True)
    assert out.returncode == 0 and "stopped" in out.stdout
    assert wait_for(lambda: d.proc.poll() is not None, 10) and d.proc.returncode == 0
    out = subprocess.run(run + ["status", "--socket-path", d.socket_path], capture_output=True, env=d.env,
                         timeout=30, text=True)
    assert out.returncode == 3 and "no daemon answers" in out.stderr
