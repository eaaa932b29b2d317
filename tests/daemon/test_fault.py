"""Fault test: 8 hook senders post 2,000 distinct events while the daemon is SIGKILLed and restarted.

Every event that got a 200 or was spooled must be stored exactly once, and none twice.
"""
import json
import os
import signal
import sqlite3
import threading
import time

from support import wait_for

from openusage.daemon import client, spool

SENDERS = 8
EVENTS = 2000


def payload(i):
    return json.dumps({"session_id": f"s{i % 17}", "hook_event_name": "PostToolUse", "tool_name": "Bash",
                       "tool_use_id": f"toolu_fault_{i:05d}", "cwd": "/w/app"}).encode()


def deliver(sock, spool_dir, i, outcome):
    """The hook command's own delivery path: post, else spool (what hook_cmd.main does)."""
    received = time.time()
    try:
        status = client.post_fast(sock, "/v1/hook/claude-code", payload(i),
                                  {client.RECEIVED_AT_HEADER: repr(received)}, 15)
    except client.DaemonUnreachable:
        status = None
    if status == 200:
        outcome[i] = "ok"
        return
    spool.write(spool_dir, "claude-code", None, payload(i), received)
    outcome[i] = "spooled"


def test_kill_and_restart_loses_nothing_and_stores_nothing_twice(daemon_factory):
    d = daemon_factory().start()
    spool_dir = os.path.join(d.state_dir, "telemetry-spool")
    outcome = {}
    sent = [0]
    lock = threading.Lock()

    def sender(n):
        for i in range(n, EVENTS, SENDERS):
            deliver(d.socket_path, spool_dir, i, outcome)
            with lock:
                sent[0] += 1

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(SENDERS)]
    for t in threads:
        t.start()
    assert wait_for(lambda: sent[0] >= 600, 60)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    time.sleep(0.3)  # a short outage: hooks spool meanwhile
    d.proc.stdout.close()
    d.proc.stderr.close()
    d.start()
    for t in threads:
        t.join(120)
    assert len(outcome) == EVENTS
    assert "spooled" in outcome.values()  # the outage was real

    def drained():
        if spool.depth(spool_dir)["pending"]:
            client.request(d.socket_path, "POST", "/v1/refresh", b"{}")
            return False
        return True

    # Files spooled after the restart wait for the periodic drain; a restart drains at once.
    if not drained():
        d.stop()
        d.start()
    assert wait_for(drained, 30)
    d.stop()
    conn = sqlite3.connect(os.path.join(d.state_dir, "telemetry.db"))
    ids = [r[0] for r in conn.execute("SELECT tool_call_id FROM event_detail WHERE event_type='tool_usage'")]
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert set(ids) == {f"toolu_fault_{i:05d}" for i in range(EVENTS)}
