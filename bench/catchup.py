"""The daemon catching up on a large Claude Code log dir: first data, all of it counted, then idle.

python bench/catchup.py [--mb 500] [--dir DIR] [--runs 2] [--idle 15] [--timeout 600] [--keep-store PATH]

A generated Claude Code dir (~500 MB, `gen_claude.py` seed 3, reused from /tmp/openusage-bench-claude-500
as `parse.py` makes it). Each run, in its own temporary home and state dir: the cold report
(`openusage daily --json --source direct --provider claude_code --timezone UTC`, empty state), timed,
then the real daemon (`python -m openusage telemetry daemon run`, empty state, CLAUDE_CONFIG_DIR the
generated dir) polled over its AF_UNIX socket as the dashboard does (POST /v1/read-model). Measures:
the time from the daemon's start to the first read model showing Claude Code tokens (the default
window, 30d, as the dashboard asks); the time until the read model over `all` has every model's
tokens and messages exactly as the cold report counted them; the peak RSS (VmHWM) of the daemon and of
its largest worker process, sampled while it catches up; its CPU and RSS once idle after catch-up;
the store (telemetry.db, -wal, -shm) and the bytes per stored message, with the space each table and
index takes (SQLite's dbstat). Goals (issue 18): first data <= 2 s, counted <= 1.5x the cold
report's time, idle ~0 % CPU, RSS <= 80 MB, store <= 60 MB. Exit 0 whatever the figures (a benchmark,
not a test).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import gen_claude  # noqa: E402
from plain import plain_python  # noqa: E402

from openusage.daemon import client  # noqa: E402

GOAL_FIRST = 2.0  # seconds
GOAL_RATIO = 1.5  # counted / cold report
GOAL_RSS = 80.0  # MiB, idle after catch-up
GOAL_STORE = 60.0  # MiB
GOAL_CPU = 1.0  # percent of one core, idle ("~0 %")
TICK = os.sysconf("SC_CLK_TCK")
FIELDS = ("input", "output", "cache_read", "cache_write", "requests")


def isolated_env(base: str, claude_dir: str) -> Dict[str, str]:
    """Only what a shell passes on and the dirs of this run: no API key of the caller reaches a provider."""
    home = os.path.join(base, "home")
    os.makedirs(home, mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TZ") or k.startswith("LC_")}
    env.update(HOME=home, OPENUSAGE_STATE_DIR=os.path.join(base, "state"), CLAUDE_CONFIG_DIR=claude_dir,
               XDG_CONFIG_HOME=os.path.join(home, ".config"), XDG_STATE_HOME=os.path.join(home, ".state"),
               XDG_DATA_HOME=os.path.join(home, ".share"), XDG_CACHE_HOME=os.path.join(home, ".cache"))
    return env


def cold_report(script: str, base: str, claude_dir: str) -> Tuple[float, Dict[str, List[int]]]:
    """Wall seconds of a cold `openusage daily`; per model input, output, cache read, cache write, messages."""
    env = isolated_env(base, claude_dir)
    began = time.perf_counter()
    out = subprocess.run([script, "daily", "--json", "--source", "direct", "--provider", "claude_code",
                          "--timezone", "UTC"], env=env, stdin=subprocess.DEVNULL, capture_output=True, check=True)
    wall = time.perf_counter() - began
    totals = {m["model"]: [m["input_tokens"], m["output_tokens"], m["cache_read_tokens"], m["cache_write_tokens"], 0]
              for m in json.loads(out.stdout)["totals"]["models"]}
    # Messages: the report prints none; its cache counts one request a message (what the read model shows).
    for path in glob.glob(os.path.join(env["OPENUSAGE_STATE_DIR"], "*.db")):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for model, requests in conn.execute("SELECT model, SUM(requests) FROM rollup_d GROUP BY model"):
                if model in totals:
                    totals[model][4] += requests
        finally:
            conn.close()
    return wall, totals


def proc_status(pid: int) -> Dict[str, int]:
    """VmHWM and VmRSS in KiB (empty once the process is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    out[line[:5]] = int(line.split()[1])
    except OSError:
        pass
    return out


def cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime


def children(pid: int) -> List[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


class Sampler(threading.Thread):
    """Peak RSS of the daemon and of each of its children, every `every` seconds until stopped."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.stop = threading.Event()
        self.daemon_hwm = 0
        self.child_hwm: Dict[int, int] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            self.daemon_hwm = max(self.daemon_hwm, proc_status(self.pid).get("VmHWM", 0))
            for child in children(self.pid):
                hwm = proc_status(child).get("VmHWM", 0)
                self.child_hwm[child] = max(self.child_hwm.get(child, 0), hwm)
            self.stop.wait(self.every)


def claude(model: dict) -> Optional[dict]:
    return next((s for s in model["snapshots"].values() if s.get("provider_id") == "claude_code"), None)


def stored_totals(sock: str) -> Dict[str, List[int]]:
    snap = claude(client.call_json(sock, "POST", "/v1/read-model", {"window": "all"}, timeout=30.0)) or {}
    return {m["model"]: [m.get(f, 0) for f in FIELDS] for m in snap.get("models", [])}


def idle_polls(sock: str) -> Dict[str, str]:
    """Each account's last poll, once none is running."""
    while True:
        providers = client.call_json(sock, "GET", "/healthz")["providers"]
        if not any(p.get("running") for p in providers.values()):
            return {k: p.get("last_poll") for k, p in providers.items()}
        time.sleep(0.2)


def store_bytes(state: str) -> int:
    return sum(store_files(state).values())


def store_files(state: str) -> Dict[str, int]:
    """Bytes of telemetry.db, -wal and -shm."""
    path = os.path.join(state, "telemetry.db")
    return {s or "db": os.path.getsize(path + s) for s in ("", "-wal", "-shm") if os.path.exists(path + s)}


def breakdown(path: str) -> List[Tuple[str, int, int]]:
    """(table or index, bytes, rows) by size, from dbstat; empty where SQLite lacks it."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        # Rows: the cells of a rowid table's leaves; every cell of an index or WITHOUT ROWID b-tree.
        return [tuple(r) for r in conn.execute(
            "SELECT d.name, SUM(d.pgsize), SUM(CASE WHEN d.pagetype = 'leaf' OR s.type = 'index' OR s.sql LIKE "
            "'%WITHOUT ROWID%' THEN d.ncell ELSE 0 END) FROM dbstat AS d LEFT JOIN sqlite_schema AS s "
            "ON s.name = d.name GROUP BY d.name ORDER BY 2 DESC")]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def catch_up(python: str, base: str, claude_dir: str, want: Dict[str, List[int]], idle: float,
             timeout: float, keep: Optional[str] = None) -> dict:
    env = isolated_env(base, claude_dir)
    sock = os.path.join(base, "d.sock")
    began = time.monotonic()
    proc = subprocess.Popen([python, "-m", "openusage", "telemetry", "daemon", "run", "--socket-path", sock],
                            env=env, cwd=base, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    sampler = Sampler(proc.pid)
    sampler.start()
    out: dict = {"first_s": None, "counted_s": None}
    try:
        while time.monotonic() - began < timeout and out["first_s"] is None:
            if proc.poll() is not None:
                raise SystemExit(f"the daemon exited with {proc.returncode}")
            try:
                snap = claude(client.call_json(sock, "POST", "/v1/read-model", {}, timeout=10.0))
            except (client.DaemonUnreachable, RuntimeError, OSError):
                snap = None
            if snap and (snap.get("tokens") or {}).get("total"):
                out["first_s"] = time.monotonic() - began
            else:
                time.sleep(0.05)
        got: Dict[str, List[int]] = {}
        while time.monotonic() - began < timeout:
            got = stored_totals(sock)
            if got == want:
                out["counted_s"] = time.monotonic() - began
                break
            time.sleep(0.1)  # the figure is as late as one such wait
        out["got"] = got
        # The poll that read it all has ended (its state committed): the daemon is idle from here.
        polls = idle_polls(sock)
        sampler.stop.set()
        sampler.join()
        time.sleep(2.0)
        tree = [proc.pid] + children(proc.pid)
        ticks, t0 = sum(cpu_ticks(p) for p in tree), time.monotonic()
        daemon_ticks = cpu_ticks(proc.pid)
        time.sleep(idle)
        wall = time.monotonic() - t0
        tree = [proc.pid] + children(proc.pid)
        out["idle_cpu_pct"] = 100.0 * (cpu_ticks(proc.pid) - daemon_ticks) / TICK / wall
        out["idle_tree_cpu_pct"] = 100.0 * max(0, sum(cpu_ticks(p) for p in tree) - ticks) / TICK / wall
        # The store once the daemon has written again (its next poll: at most 30 s on), which is when
        # SQLite cuts back a WAL the catch-up grew.
        waited = time.monotonic()
        while idle_polls(sock) == polls and time.monotonic() - waited < 40:
            time.sleep(0.5)
        status = proc_status(proc.pid)
        out["idle_rss_mib"] = status.get("VmRSS", 0) / 1024
        out["daemon_hwm_mib"] = max(sampler.daemon_hwm, status.get("VmHWM", 0)) / 1024
        out["worker_hwm_mib"] = max(sampler.child_hwm.values(), default=0) / 1024
        out["children_seen"] = len(sampler.child_hwm)
        out["idle_children"] = len(tree) - 1
        out["store_files"] = store_files(env["OPENUSAGE_STATE_DIR"])
        out["store_bytes"] = sum(out["store_files"].values())
    finally:
        sampler.stop.set()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    out["store_after_stop_bytes"] = store_bytes(env["OPENUSAGE_STATE_DIR"])
    out["tables"] = breakdown(os.path.join(env["OPENUSAGE_STATE_DIR"], "telemetry.db"))
    if keep:
        for suffix in ("", "-wal"):
            if os.path.exists(os.path.join(env["OPENUSAGE_STATE_DIR"], "telemetry.db" + suffix)):
                shutil.copyfile(os.path.join(env["OPENUSAGE_STATE_DIR"], "telemetry.db" + suffix), keep + suffix)
    return out


def mib(n: float) -> float:
    return n / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=500.0)
    parser.add_argument("--dir", help="reuse a generated dir (default: /tmp/openusage-bench-claude-<mb>)")
    parser.add_argument("--runs", type=int, default=2, help="rounds of cold report + daemon catch-up (default 2)")
    parser.add_argument("--idle", type=float, default=15.0, help="seconds of idle CPU measured after catch-up")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a catch-up may take at most")
    parser.add_argument("--keep-store", metavar="PATH", help="copy the last run's store (and its -wal) to PATH")
    args = parser.parse_args()
    claude_dir = args.dir or f"/tmp/openusage-bench-claude-{int(args.mb)}"
    if not os.path.isdir(os.path.join(claude_dir, "projects")):
        print(f"generating {args.mb:.0f} MB in {claude_dir} ...", file=sys.stderr)
        print(json.dumps(gen_claude.generate(claude_dir, args.mb, seed=3)), file=sys.stderr)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(claude_dir) for f in fs)
    # As installed for real (parse.py): byte code written once, a venv without the editable finder.
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(ROOT, "openusage")], check=True,
                   stdout=subprocess.DEVNULL)
    rows = []
    base = tempfile.mkdtemp(prefix="oucu", dir="/tmp")  # short: AF_UNIX paths are limited
    try:
        python = plain_python(os.path.join(base, "venv"), with_dependencies=True)
        script = os.path.join(os.path.dirname(python), "openusage")
        for i in range(args.runs):
            cold, want = cold_report(script, os.path.join(base, f"cold{i}"), claude_dir)
            keep = args.keep_store if i == args.runs - 1 else None
            run = catch_up(python, os.path.join(base, f"d{i}"), claude_dir, want, args.idle, args.timeout, keep)
            run["cold_s"] = cold
            run["messages"] = sum(v[4] for v in want.values())
            run["want"] = want
            rows.append(run)
            for name in (f"cold{i}", f"d{i}"):
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"daemon catch-up on {mib(size):.0f} MiB of Claude Code transcripts ({claude_dir}), "
          f"{rows[0]['messages']} messages; {args.runs} runs, idle CPU over {args.idle:.0f} s")
    print(f"{'run':<7} {'cold s':>7} {'first s':>8} {'counted s':>10} {'ratio':>6} {'daemon pk':>10} "
          f"{'worker pk':>10} {'idle RSS':>9} {'idle CPU':>9} {'store':>7} {'B/msg':>6}")
    for n, r in enumerate(rows, 1):
        ratio = r["counted_s"] / r["cold_s"] if r["counted_s"] else float("nan")
        r["ratio"] = ratio
        counted = f"{r['counted_s']:.2f}" if r["counted_s"] else "never"
        print(f"{n:<7} {r['cold_s']:>7.2f} {r['first_s'] or float('nan'):>8.2f} {counted:>10} {ratio:>5.2f}x "
              f"{r['daemon_hwm_mib']:>7.1f} MB {r['worker_hwm_mib']:>7.1f} MB {r['idle_rss_mib']:>6.1f} MB "
              f"{r['idle_cpu_pct']:>7.2f} % {mib(r['store_bytes']):>4.0f} MB {r['store_bytes'] / r['messages']:>6.0f}")
    med = {k: statistics.median(r[k] for r in rows if r[k] is not None)
           for k in ("cold_s", "first_s", "counted_s", "ratio", "daemon_hwm_mib", "idle_rss_mib", "idle_cpu_pct",
                     "store_bytes") if any(r[k] is not None for r in rows)}
    goals = [("first data", f"{med.get('first_s', float('nan')):.2f} s", f"<= {GOAL_FIRST:.0f} s",
              med.get("first_s", 1e9) <= GOAL_FIRST),
             ("all counted", f"{med.get('ratio', float('nan')):.2f}x the cold report", f"<= {GOAL_RATIO}x",
              all(r["counted_s"] for r in rows) and med["ratio"] <= GOAL_RATIO),
             ("idle CPU", f"{med['idle_cpu_pct']:.2f} %", "~0 %", med["idle_cpu_pct"] <= GOAL_CPU),
             ("idle RSS", f"{med['idle_rss_mib']:.1f} MB", f"<= {GOAL_RSS:.0f} MB", med["idle_rss_mib"] <= GOAL_RSS),
             ("store", f"{mib(med['store_bytes']):.1f} MB", f"<= {GOAL_STORE:.0f} MB",
              mib(med["store_bytes"]) <= GOAL_STORE)]
    print("medians against the goals (issue 18):")
    for name, value, goal, met in goals:
        print(f"  {name:<12} {value:<26} goal {goal:<8} {'ok' if met else 'MISSED'}")
    for n, r in enumerate(rows, 1):
        print(f"run {n}: {r['children_seen']} child processes seen during catch-up, {r['idle_children']} left idle; "
              f"idle CPU with children {r['idle_tree_cpu_pct']:.2f} %; store idle "
              + ", ".join(f"{k} {mib(v):.1f} MB" for k, v in r["store_files"].items())
              + f"; after stop {mib(r['store_after_stop_bytes']):.1f} MB")
        if r["counted_s"] is None:
            print(f"  not all counted within {args.timeout:.0f} s: stored {r['got']} against {r['want']}")
    tables = rows[-1]["tables"]
    if tables:
        messages = rows[-1]["messages"]
        print(f"store of run {len(rows)} by table and index (dbstat, after stop; B/msg over {messages} messages):")
        print(f"  {'name':<34} {'MB':>7} {'rows':>8} {'B/msg':>6}")
        for name, nbytes, cells in tables:
            if nbytes >= 2**16:
                print(f"  {name:<34} {mib(nbytes):>7.1f} {cells:>8} {nbytes / messages:>6.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
