"""Hook ingest benchmark: events/s through the real daemon beside a no-op server on the same clients.

python bench/ingest.py [--clients 8] [--requests 400] [--rounds 5]

The daemon (`python -m openusage telemetry daemon run`, state in a temporary dir) and a no-op
ThreadingHTTPServer on AF_UNIX (answers 200 {} to every POST) each run in their own process. The
same CLIENTS client processes post distinct Claude Code PostToolUse payloads to
POST /v1/hook/claude-code with http.client over the Unix socket, one connection per request (the
daemon answers `Connection: close`, as a hook's single exchange does). The servers take turns,
ROUNDS times each; the ratio is the median over the rounds of a daemon round against the no-op round
right after it (background load on a shared machine hits both), the best round against the best
round is printed beside it. Every daemon answer is a 200 sent after the event's commit; the run
checks that the daemon stored exactly the events sent. Goal: the daemon >= 0.6x the no-op server's
rate. Exit 0 whatever the figures (a benchmark, not a test).
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GOAL = 0.6


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def request(path: str, method: str, url: str, body: bytes = None) -> tuple:
    conn = UnixConnection(path)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, url, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# --- the no-op server ------------------------------------------------------------------------------


class NoopHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"{}")
        self.close_connection = True

    def do_GET(self) -> None:
        self.do_POST()

    def address_string(self) -> str:
        return "unix"

    def log_message(self, fmt, *args) -> None:
        pass


class NoopServer(ThreadingHTTPServer):
    address_family = socket.AF_UNIX
    daemon_threads = True
    request_queue_size = 128

    def server_bind(self) -> None:
        self.socket.bind(self.server_address)


def serve_noop(path: str) -> None:
    server = NoopServer(path, NoopHandler)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()


# --- clients ---------------------------------------------------------------------------------------


def client_loop(args) -> int:
    """Post `count` distinct hook payloads one after another; the number of 200 answers."""
    path, prefix, count, start_at = args
    while time.time() < start_at:  # every client starts together
        time.sleep(0.0005)
    ok = 0
    for i in range(count):
        payload = {
            "session_id": f"bench-{prefix}", "transcript_path": "/tmp/bench.jsonl", "cwd": "/home/u/proj",
            "hook_event_name": "PostToolUse", "tool_name": "Edit", "tool_use_id": f"toolu_{prefix}_{i}",
            "tool_input": {"file_path": "/home/u/proj/a.py"}, "tool_response": {"success": True},
        }
        status, _ = request(path, "POST", "/v1/hook/claude-code", json.dumps(payload).encode())
        ok += status == 200
    return ok


def run_round(pool, path: str, label: str, clients: int, per_client: int) -> dict:
    start_at = time.time() + 0.3
    jobs = [(path, f"{label}-{c}", per_client, start_at) for c in range(clients)]
    result = pool.map_async(client_loop, jobs)
    results = result.get(600)
    elapsed = time.time() - start_at
    total = clients * per_client
    return {"ok": sum(results), "total": total, "seconds": elapsed, "rate": total / elapsed}


def wait_alive(path: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode(errors='replace')}")
        try:
            if request(path, "GET", "/healthz")[0] in (200, 503):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"nothing answers on {path}")


def isolated_env(tmp: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENUSAGE_", "XDG_", "CLAUDE_", "CODEX_", "GEMINI_", "OPENCODE_"))}
    home = os.path.join(tmp, "home")
    os.makedirs(home, exist_ok=True)
    env.update(HOME=home, OPENUSAGE_STATE_DIR=os.path.join(tmp, "state"),
               XDG_CONFIG_HOME=os.path.join(home, ".config"), XDG_STATE_HOME=os.path.join(home, ".state"),
               XDG_DATA_HOME=os.path.join(home, ".share"), XDG_CACHE_HOME=os.path.join(home, ".cache"),
               PYTHONPATH=ROOT)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="requests per client per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--noop-server", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.noop_server:
        serve_noop(args.noop_server)
        return 0

    tmp = tempfile.mkdtemp(prefix="oubench", dir="/tmp")
    env = isolated_env(tmp)
    daemon_sock = os.path.join(tmp, "d.sock")
    noop_sock = os.path.join(tmp, "n.sock")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "openusage", "telemetry", "daemon", "run", "--socket-path", daemon_sock],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    noop = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--noop-server", noop_sock],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rates = {"daemon": [], "no-op": []}
    try:
        wait_alive(daemon_sock, daemon)
        wait_alive(noop_sock, noop)
        with multiprocessing.get_context("fork").Pool(args.clients) as pool:
            run_round(pool, daemon_sock, "warm", args.clients, 20)
            run_round(pool, noop_sock, "warm", args.clients, 20)
            for r in range(args.rounds):
                for name, path in (("daemon", daemon_sock), ("no-op", noop_sock)):
                    res = run_round(pool, path, f"r{r}", args.clients, args.requests)
                    if res["ok"] != res["total"]:
                        print(f"{name}: only {res['ok']} of {res['total']} requests answered 200")
                    rates[name].append(res["rate"])
        health = json.loads(request(daemon_sock, "GET", "/healthz")[1])
    finally:
        for proc in (daemon, noop):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stderr.close()
        shutil.rmtree(tmp, ignore_errors=True)

    expected = args.clients * (20 + args.rounds * args.requests)
    print(f"hook ingest: {args.clients} client processes, {args.requests} distinct events each per round, "
          f"one connection per request, {args.rounds} rounds taking turns")
    print(f"{'server':<8} {'median/s':>9} {'best/s':>8}  rounds")
    for name, values in rates.items():
        print(f"{name:<8} {statistics.median(values):>9.0f} {max(values):>8.0f}  "
              + " ".join(f"{v:.0f}" for v in values))
    # Each daemon round is paired with the no-op round right after it: background load hits both.
    paired = statistics.median(d / n for d, n in zip(rates["daemon"], rates["no-op"]))
    best = max(rates["daemon"]) / max(rates["no-op"])
    print(f"ratio daemon/no-op: {paired:.2f} (median of the paired rounds; best against best {best:.2f}) "
          f"(goal >= {GOAL}) {'ok' if paired >= GOAL else 'MISSED'}")
    print(f"daemon stored {health['events_stored']} of {expected} events sent "
          f"({health['duplicates_dropped']} duplicates)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
