"""Hook benchmark: the wall time of one hook delivery as the agent sees it.

python bench/hook.py [-n 200]

In a temporary home, `openusage integrations install claude_code` writes the hook; the bench runs
the command it wrote into ~/.claude/settings.json (`/bin/sh <state>/bin/openusage-hook claude-code`,
a distinct PostToolUse payload on stdin, the environment without OPENUSAGE_* variables, as Claude
Code runs it) N times against a running daemon, then with the daemon down (the spool path; the
daemon then drains the spool). Beside it, in the same run: the script's Python half alone
(`<python> -S -E <script>`, what hooks installed before the shell half run, and where curl is
missing), the console script `openusage telemetry hook`, and where the time goes: a bare
`/bin/sh -c :`, `curl --version`, a bare `<python> -S -E -c pass`, the Python half's imports
(-X importtime) and the daemon's answer (connect, POST, commit, answer) from a warm process.
Goal: the installed hook's p50 <= 20 ms. Exit 0 whatever the figures (a benchmark, not a test).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from openusage.daemon import client  # noqa: E402
from openusage.daemon.client import RECEIVED_AT_HEADER  # noqa: E402

GOAL_MS = 20.0
BIN = os.path.dirname(sys.executable)


def percentiles(samples: list) -> dict:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99)}


def payload(tag: str, i: int) -> bytes:
    return json.dumps({
        "session_id": "bench-hook", "transcript_path": "/tmp/bench.jsonl", "cwd": "/home/u/proj",
        "hook_event_name": "PostToolUse", "tool_name": "Edit", "tool_use_id": f"toolu_{tag}_{i}",
        "tool_input": {"file_path": "/home/u/proj/a.py", "old_string": "x = 1", "new_string": "x = 2"},
        "tool_response": {"success": True},
    }).encode()


def time_runs(argv: list, env: dict, n: int, tag: str, stdin: bool = True, quiet: bool = True) -> list:
    """Wall seconds of n runs; a hook (quiet) must exit 0 and print nothing on stdout."""
    samples = []
    for i in range(n):
        body = payload(tag, i)
        started = time.perf_counter()
        proc = subprocess.run(argv if stdin else argv + [body.decode()], input=body if stdin else None,
                              stdin=None if stdin else subprocess.DEVNULL, capture_output=True, env=env)
        samples.append(time.perf_counter() - started)
        if proc.returncode != 0 or (quiet and proc.stdout):
            print(f"{tag}: exit {proc.returncode}, stdout {proc.stdout[:80]!r}, stderr {proc.stderr[:200]!r}")
    return samples


def start_daemon(env: dict, sock: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "openusage", "telemetry", "daemon", "run", "--socket-path", sock],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not client.is_alive(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"daemon did not start: {proc.stderr.read().decode(errors='replace')}")
        time.sleep(0.05)
    return proc


def stop_daemon(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stderr.close()


def health(sock: str) -> dict:
    return client.call_json(sock, "GET", "/healthz")


def _top_level_imports(argv: list, env: dict, stdin: bytes = b"") -> dict:
    proc = subprocess.run(argv, input=stdin, capture_output=True, env=env)
    found = {}
    for line in proc.stderr.decode().splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)  # depth 0: no indent
        if m:
            found[m.group(2)] = int(m.group(1))
    return found


def import_ms(python: str, script: str, env: dict) -> tuple:
    """What the Python half imports on a delivery beyond a bare start, and the cumulative ms (-X importtime)."""
    bare = _top_level_imports([python, "-S", "-E", "-X", "importtime", "-c", "pass"], env)
    half = _top_level_imports([python, "-S", "-E", "-X", "importtime", script, "claude-code"], env,
                              payload("importtime", 0))
    extra = {name: us for name, us in half.items() if name not in bare}
    return sorted(extra), sum(extra.values()) / 1000


def answer_times(sock: str, n: int) -> list:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        status = client.post_fast(sock, "/v1/hook/claude-code", payload("warm", i),
                                  {RECEIVED_AT_HEADER: repr(time.time())}, 15)
        samples.append(time.perf_counter() - started)
        if status != 200:
            print(f"warm post answered {status}")
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    args = parser.parse_args()
    n = args.n

    tmp = tempfile.mkdtemp(prefix="oubench", dir="/tmp")
    home = os.path.join(tmp, "home")
    state = os.path.join(tmp, "state")
    os.makedirs(home)
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("OPENUSAGE_", "XDG_", "CLAUDE_", "CODEX_", "GEMINI_", "OPENCODE_"))}
    base["HOME"] = home
    agent_env = dict(base)  # what Claude Code hands its hooks: no OPENUSAGE_* variables
    env = dict(base, OPENUSAGE_STATE_DIR=state)
    sock = os.path.join(state, "telemetry.sock")
    openusage = os.path.join(BIN, "openusage")
    install = subprocess.run([openusage, "integrations", "install", "claude_code"], env=env, capture_output=True)
    if install.returncode != 0:
        raise SystemExit(f"install failed: {install.stderr.decode()}")
    with open(os.path.join(home, ".claude", "settings.json"), encoding="utf-8") as fh:
        command = json.load(fh)["hooks"]["PostToolUse"][0]["hooks"][0]["command"]
    hook = shlex.split(command)
    script = hook[1]
    python_half = [sys.executable, "-S", "-E", script, "claude-code"]
    rows = []
    daemon = start_daemon(env, sock)
    try:
        time_runs(hook, agent_env, 5, "warmup")
        stored_before = health(sock)["events_stored"]
        rows.append(("installed hook, daemon up", time_runs(hook, agent_env, n, "hook")))
        rows.append(("Python half alone, daemon up", time_runs(python_half, agent_env, n, "python")))
        rows.append(("openusage telemetry hook, daemon up",
                     time_runs([openusage, "telemetry", "hook", "claude-code"], env, max(20, n // 4), "console")))
        codex = [hook[0], script, "codex"]
        rows.append(("installed hook, payload as argv (Codex)", time_runs(codex, agent_env, max(20, n // 4), "argv",
                                                                        stdin=False)))
        delivered = health(sock)["events_stored"] - stored_before
        answers = answer_times(sock, n)
        modules, imports = import_ms(sys.executable, script, agent_env)
    finally:
        stop_daemon(daemon)
    rows.append(("installed hook, daemon down (spool)", time_runs(hook, agent_env, n, "spooled")))
    spooled = len([f for f in os.listdir(os.path.join(state, "telemetry-spool")) if f.endswith(".json")])
    daemon = start_daemon(env, sock)
    try:
        drained = health(sock)["spool"]["ingested_total"]
    finally:
        stop_daemon(daemon)
    parts = [
        ("/bin/sh -c :", time_runs(["/bin/sh", "-c", ":"], agent_env, 50, "sh")),
        ("curl --version",
         time_runs(["curl", "--version"], agent_env, 50, "curl", quiet=False) if shutil.which("curl") else []),
        (f"{os.path.basename(sys.executable)} -S -E -c pass",
         time_runs([sys.executable, "-S", "-E", "-c", "pass"], agent_env, 50, "bare")),
        ("daemon answer (warm client, incl. commit)", answers),
    ]
    shutil.rmtree(tmp, ignore_errors=True)

    print(f"hook delivery wall time, {n} runs (ms); hook command: {command}")
    print(f"{'what':<42} {'p50':>6} {'p90':>6} {'p99':>6}")
    for label, samples in rows + parts:
        if samples:
            p = percentiles(samples)
            print(f"{label:<42} {p['p50']:>6.1f} {p['p90']:>6.1f} {p['p99']:>6.1f}")
    print(f"Python half's imports beyond a bare start: {', '.join(modules)}: {imports:.1f} ms by -X importtime")
    p50 = percentiles(rows[0][1])["p50"]
    print(f"installed hook p50 {p50:.1f} ms (goal <= {GOAL_MS:.0f} ms) {'ok' if p50 <= GOAL_MS else 'MISSED'}")
    expected = n + n + max(20, n // 4) * 2
    print(f"stored {delivered} of {expected} delivered; {spooled} of {n} spooled, {drained} drained at restart")
    return 0


if __name__ == "__main__":
    sys.exit(main())
