"""The daemon's answer times under idle and slow clients, and during a large spool drain.

python bench/slow_clients.py [--idle 300] [--slow 150] [--spool 20000] [--rounds 20]

The real daemon (`python -m openusage telemetry daemon run`, state in a temporary dir) on an AF_UNIX
socket. Under each load, ROUNDS times: GET /healthz and one Claude Code hook (POST
/v1/hook/claude-code, as `openusage telemetry hook` sends it), each timed from connect to answer.
Loads: none; IDLE connections that send nothing; SLOW connections sending one byte of a hook request
a second (slowloris); both at once; the daemon starting on SPOOL spooled files (the drain runs
meanwhile). Also: how long the daemon took to close the idle connections and answer the slow ones
(408), and how long the drain took. Goal: every answer within 2 s. Exit 0 whatever the figures (a
benchmark, not a test).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from openusage.daemon import client  # noqa: E402

GOAL = 2.0
HOOK = {"session_id": "s1", "hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_use_id": "toolu_bench"}
SLOW_REQUEST = b"POST /v1/hook/claude-code HTTP/1.1\r\nHost: openusage\r\nContent-Length: 5\r\n\r\n{}   "


class Daemon:
    def __init__(self, base: str):
        self.state = os.path.join(base, "state")
        self.sock = os.path.join(base, "d.sock")
        env = dict(os.environ, OPENUSAGE_STATE_DIR=self.state, HOME=base, XDG_CONFIG_HOME=os.path.join(base, "c"))
        env = {k: v for k, v in env.items() if not k.startswith("OPENUSAGE_") or k == "OPENUSAGE_STATE_DIR"}
        self.env = env
        self.proc = None

    def start(self) -> float:
        began = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "openusage", "telemetry", "daemon", "run",
                                      "--socket-path", self.sock], env=self.env, cwd=ROOT,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not client.is_alive(self.sock, timeout=2.0):
            if self.proc.poll() is not None:
                raise SystemExit(f"the daemon exited with {self.proc.returncode}")
            time.sleep(0.02)
        return time.monotonic() - began

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5.0)
    sock.connect(path)
    return sock


def timed(path: str, rounds: int, tag: str) -> Tuple[List[float], List[float], int]:
    """Seconds per /healthz and per hook; failures (no answer within GOAL, or not 200)."""
    health, hooks, failed = [], [], 0
    for n in range(rounds):
        began = time.monotonic()
        try:
            ok = client.request(path, "GET", "/healthz", timeout=GOAL * 2)[0] == 200
        except client.DaemonUnreachable:
            ok = False
        health.append(time.monotonic() - began)
        body = json.dumps(dict(HOOK, tool_use_id=f"toolu_{tag}_{n}")).encode()
        began = time.monotonic()
        try:
            ok = client.post_fast(path, "/v1/hook/claude-code", body, {}, GOAL * 2) == 200 and ok
        except client.DaemonUnreachable:
            ok = False
        hooks.append(time.monotonic() - began)
        failed += 0 if ok else 1
        time.sleep(0.05)
    return health, hooks, failed


def until_closed(socks: List[socket.socket], opened: float, timeout: float = 30.0) -> Tuple[float, Dict[str, int]]:
    """Seconds until the daemon had closed every connection; what it answered them."""
    answers: Dict[str, int] = {}
    last = 0.0
    for s in socks:
        s.settimeout(max(0.1, opened + timeout - time.monotonic()))
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        last = max(last, time.monotonic() - opened)
        key = data.split()[1].decode() if data else "closed"
        answers[key] = answers.get(key, 0) + 1
        s.close()
    return last, answers


def trickle(socks: List[socket.socket], stop: threading.Event) -> None:
    sent = 0
    while not stop.is_set() and sent < len(SLOW_REQUEST):
        for s in socks:
            try:
                s.send(SLOW_REQUEST[sent:sent + 1])
            except OSError:
                pass
        sent += 1
        stop.wait(1.0)


def fmt(values: List[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f} {max(values) * 1000:8.1f}"


def open_many(path: str, count: int) -> Tuple[List[socket.socket], int]:
    """Up to `count` connections; how many connects failed (a full backlog: EAGAIN, or a timeout)."""
    socks, failed = [], 0
    for _ in range(count):
        try:
            socks.append(connect(path))
        except OSError:
            failed += 1
    return socks, failed


def under_load(d: Daemon, name: str, idle: int, slow: int, rounds: int) -> Tuple[str, str]:
    idle_socks, idle_failed = open_many(d.sock, idle)
    slow_socks, slow_failed = open_many(d.sock, slow)
    opened = time.monotonic()
    stop = threading.Event()
    sender = threading.Thread(target=trickle, args=(slow_socks, stop), daemon=True)
    sender.start()
    if slow:
        time.sleep(1.5)  # each slow connection has sent bytes and holds a worker
    health, hooks, failed = timed(d.sock, rounds, name.replace(" ", "_"))
    closed_idle = until_closed(idle_socks, opened) if idle else None
    closed_slow = until_closed(slow_socks, opened) if slow else None
    stop.set()
    sender.join(5)
    worst = max(health + hooks)
    row = f"{name:<24} {fmt(health)} {fmt(hooks)} {failed:>6}  {'ok' if worst < GOAL and not failed else 'MISSED'}"
    notes = []
    if closed_idle:
        notes.append(f"{len(idle_socks)} idle connections ({idle_failed} connects failed) closed by "
                     f"{closed_idle[0]:.1f} s: {closed_idle[1]}")
    if closed_slow:
        notes.append(f"{len(slow_socks)} slowloris ({slow_failed} connects failed) answered or closed by "
                     f"{closed_slow[0]:.1f} s: {closed_slow[1]}")
    return row, "; ".join(notes)


def drain_run(base: str, files: int, rounds: int) -> Tuple[str, str]:
    d = Daemon(base)
    directory = os.path.join(d.state, "telemetry-spool")
    os.makedirs(directory, mode=0o700)
    for n in range(files):
        record = {"v": 1, "source": "claude-code", "account_id": None, "received_at": time.time() - 60 + n * 1e-3,
                  "body": json.dumps(dict(HOOK, tool_use_id=f"toolu_spool_{n}"))}
        with open(os.path.join(directory, f"{n:020d}-1-0.json"), "w", encoding="utf-8") as fh:
            json.dump(record, fh)
    began = time.monotonic()
    started = d.start()
    try:
        health, hooks, failed = timed(d.sock, rounds, "drain")
        pending_seen = client.call_json(d.sock, "GET", "/healthz")["spool"]["pending"]
        while client.call_json(d.sock, "GET", "/healthz")["spool"]["pending"]:
            time.sleep(0.2)
        drained = time.monotonic() - began
        stored = client.call_json(d.sock, "GET", "/healthz")["events_stored"]
    finally:
        d.stop()
    worst = max(health + hooks)
    name = f"{files} spooled, draining"
    row = f"{name:<24} {fmt(health)} {fmt(hooks)} {failed:>6}  {'ok' if worst < GOAL and not failed else 'MISSED'}"
    note = (f"first answer {started:.2f} s after start; drain of {files} files done after {drained:.1f} s "
            f"({pending_seen} still pending after the timed rounds); {stored} events stored "
            f"(expected {files + rounds})")
    return row, note


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=300)
    parser.add_argument("--slow", type=int, default=150)
    parser.add_argument("--spool", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="oubench", dir="/tmp")  # short: AF_UNIX paths are limited
    rows, notes = [], []
    try:
        d = Daemon(os.path.join(base, "load"))
        os.makedirs(os.path.join(base, "load"), mode=0o700)
        d.start()
        try:
            for name, idle, slow in (("no load", 0, 0), (f"{args.idle} idle", args.idle, 0),
                                     (f"{args.slow} slowloris", 0, args.slow),
                                     (f"{args.idle} idle + {args.slow} slow", args.idle, args.slow)):
                row, note = under_load(d, name, idle, slow, args.rounds)
                rows.append(row)
                if note:
                    notes.append(f"{name}: {note}")
        finally:
            d.stop()
        os.makedirs(os.path.join(base, "drain"), mode=0o700)
        row, note = drain_run(os.path.join(base, "drain"), args.spool, args.rounds)
        rows.append(row)
        notes.append(note)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"answer times in ms over {args.rounds} rounds (goal: every answer < {GOAL:.0f} s)")
    print(f"{'load':<24} {'health p50':>8} {'max':>8} {'hook p50':>8} {'max':>8} {'failed':>6}")
    for row in rows:
        print(row)
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
