"""One daemon per store (a lock beside the database), serving while the spool drains, private files.

Real daemons on tmp sockets, real spool files, the real CLI as a subprocess where the user would run it.
"""
import json
import os
import stat
import subprocess
import sys
import threading
import time

from support import DaemonProcess, wait_for

from openusage.daemon import client, server
from openusage.daemon import control as daemon_ctl

HOOK = {"session_id": "s1", "transcript_path": "/x/s1.jsonl", "cwd": "/home/u/proj",
        "hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_use_id": "toolu_1"}


def cli(env, *argv, timeout=60):
    return subprocess.run([sys.executable, "-m", "openusage", *argv], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def hook(sock, tool_use_id):
    body = json.dumps(dict(HOOK, tool_use_id=tool_use_id)).encode()
    return client.request(sock, "POST", "/v1/hook/claude-code", body, timeout=15.0)[0]


def test_a_second_daemon_on_the_same_store_exits_1_naming_the_first(daemon_factory, short_dir):
    first = daemon_factory().start()
    pid_file = os.path.join(first.state_dir, "daemon.pid")
    other = DaemonProcess(first.state_dir, os.path.join(short_dir, "other.sock")).start(wait=False)
    try:
        assert other.proc.wait(15) == 1
        err = other.proc.stderr.read().decode()
    finally:
        other.proc.stdout.close()
        other.proc.stderr.close()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"pid {first.proc.pid}" in err and f"socket {first.socket_path}" in err
    assert "openusage telemetry daemon stop --socket-path" in err
    assert not os.path.exists(other.socket_path)
    with open(os.path.join(first.state_dir, "daemon.log"), encoding="utf-8") as fh:
        assert err.strip() in fh.read()  # the same line in the log
    with open(pid_file, encoding="ascii") as fh:
        assert fh.read().strip() == str(first.proc.pid)
    assert client.call_json(first.socket_path, "GET", "/healthz")["pid"] == first.proc.pid


def test_stopping_never_deletes_another_daemons_pid_file(daemon_factory):
    d = daemon_factory().start()
    pid_file = os.path.join(d.state_dir, "daemon.pid")
    with open(pid_file, "w", encoding="ascii") as fh:
        fh.write("4000000\n")  # written by another daemon since (another --db-path, the same state dir)
    assert cli(d.env, "telemetry", "daemon", "stop", "--socket-path", d.socket_path).returncode == 0
    assert d.proc.wait(15) == 0
    with open(pid_file, encoding="ascii") as fh:
        assert fh.read() == "4000000\n"


def test_cache_clear_and_stop_on_another_socket_go_to_the_stores_daemon_or_name_it(daemon_factory, short_dir):
    d = daemon_factory().start()
    assert hook(d.socket_path, "toolu_kept") == 200
    other = os.path.join(short_dir, "nobody.sock")
    cleared = cli(d.env, "cache", "clear", "--socket-path", other)
    assert cleared.returncode == 0, cleared.stderr
    assert f"through the daemon on {d.socket_path}" in cleared.stdout  # not written under its feet
    stop = cli(d.env, "telemetry", "daemon", "stop", "--socket-path", other)
    assert stop.returncode == 3
    assert f"pid {d.proc.pid}" in stop.stderr and f"--socket-path {d.socket_path}" in stop.stderr
    assert d.proc.poll() is None
    assert client.call_json(d.socket_path, "GET", "/healthz")["events_stored"] == 1


def test_a_client_waits_for_the_daemon_holding_the_store_instead_of_starting_another(short_dir, monkeypatch):
    from openusage.store.lock import StoreLock

    state = os.path.join(short_dir, "state")
    os.makedirs(state, mode=0o700)
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", state)
    sock = os.path.join(short_dir, "d.sock")
    held = StoreLock(os.path.join(state, "telemetry.db"))
    held.acquire("daemon", sock)  # a daemon that has the store and does not answer yet
    routes = server.Routes()
    routes.add("GET", "/healthz", lambda r: (200, {"status": "ok", "pid": os.getpid()}))
    late = {}

    def answer_later():
        time.sleep(1.5)
        late["server"] = server.UnixHTTPServer(sock, routes)
        late["server"].serve_forever(poll_interval=0.1)

    t = threading.Thread(target=answer_later, daemon=True)
    t.start()
    try:
        started = time.monotonic()
        assert daemon_ctl.ensure_running(sock, timeout=10) is False  # it did not start one
        assert 1.4 < time.monotonic() - started < 10
        assert not os.path.exists(os.path.join(state, "daemon.log"))  # no daemon process ever ran
    finally:
        assert wait_for(lambda: "server" in late, 5)
        late["server"].shutdown()
        late["server"].server_close()
        late["server"].remove_socket_file()
        held.release()


def test_a_hook_is_answered_while_20000_spooled_files_drain(daemon_factory):
    d = daemon_factory()
    directory = os.path.join(d.state_dir, "telemetry-spool")
    os.makedirs(directory)
    files = 20_000
    for n in range(files):  # written as the hook writes them, less its fsyncs
        record = {"v": 1, "source": "claude-code", "account_id": None, "received_at": 1_795_000_000.0 + n,
                  "body": json.dumps(dict(HOOK, tool_use_id=f"toolu_sp{n}"))}
        with open(os.path.join(directory, f"{n:020d}-1-0.json"), "w", encoding="utf-8") as fh:
            json.dump(record, fh)
    d.start(drained=False)
    took = []
    for n in range(3):
        began = time.monotonic()
        health = client.call_json(d.socket_path, "GET", "/healthz", timeout=2.0)
        assert hook(d.socket_path, f"toolu_live{n}") == 200
        took.append(time.monotonic() - began)
        if n == 0:
            assert health["spool"]["pending"] > 0  # the drain is under way, and the daemon answers
    assert max(took) < 2.0, took
    assert wait_for(lambda: client.call_json(d.socket_path, "GET", "/healthz")["spool"]["pending"] == 0, 300, 0.5)
    health = client.call_json(d.socket_path, "GET", "/healthz")
    assert health["events_stored"] == files + 3 and health["spool"]["ingested_total"] == files


def test_everything_the_daemon_creates_is_private_and_its_cwd_is_the_state_dir(daemon_factory):
    d = daemon_factory().start()
    assert hook(d.socket_path, "toolu_private") == 200
    assert os.path.realpath(os.readlink(f"/proc/{d.proc.pid}/cwd")) == os.path.realpath(d.state_dir)
    names = {"telemetry.db", "telemetry.db-wal", "telemetry.db-shm", "telemetry.db.lock", "daemon.log", "daemon.pid"}
    assert names <= set(os.listdir(d.state_dir))
    for root, dirs, found in os.walk(d.state_dir):
        for name in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) == 0o700, name
        for name in found:
            path = os.path.join(root, name)
            if not stat.S_ISSOCK(os.stat(path).st_mode):
                assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, name
