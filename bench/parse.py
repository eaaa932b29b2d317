"""Parse benchmark: a generated Claude Code dir (~500 MB), cold scan and warm re-scan.

python bench/parse.py [--mb 500] [--dir DIR] [--ccusage PATH] [--floor PATH] [--runs N] [--tool-results]

Measures `openusage daily --source direct` (cold: empty cache; warm: nothing new) by wall time, CPU
time and peak RSS of the process tree, beside `ccusage claude daily --offline` and the floor script (a bare
stdlib scan: walk, byte filter, json.loads, a key set, per-day sums on two processes; not project
code, found at ../shared/bench/floor_scan.py beside the checkout or given with --floor) on the same
dir. The three take turns, `--runs` rounds (default 3); each figure is the median over the rounds
(the machine may be shared), and `cold_wall_vs_*_paired` the median of each round's own ratio.
`cpu_budget_at_ccusage_wall_s` is the CPU time this machine's cores give in ccusage's wall, and
`floor_cpu_share_of_budget` how much of it the floor's bare decode already spends.
Goals: cold <= 1.0x ccusage's wall and <= 0.5x its RSS; warm <= 0.1x ccusage's wall.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen_claude  # noqa: E402
from plain import plain_python  # noqa: E402

FLOOR_PLACES = (os.path.join(HERE, "..", "..", "shared", "bench", "floor_scan.py"),
                os.path.join(HERE, "..", "..", "..", "shared", "bench", "floor_scan.py"))


def measure(cmd, env) -> dict:
    """Wall seconds, CPU seconds (user and system, of the process and the children it waited for) and
    peak RSS (MiB) of one process (its largest, children included)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[0]} failed: {err[-500:]}")
    return {"wall_s": round(wall, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def median(runs: list) -> dict:
    return {"wall_s": round(statistics.median(r["wall_s"] for r in runs), 3),
            "cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 3),
            "peak_rss_mib": round(statistics.median(r["peak_rss_mib"] for r in runs), 1),
            "walls": [r["wall_s"] for r in runs]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=500.0)
    parser.add_argument("--dir", help="reuse a generated dir (default: /tmp/openusage-bench-claude-<mb>)")
    parser.add_argument("--ccusage", default=shutil.which("ccusage"))
    parser.add_argument("--floor", default=next((p for p in FLOOR_PLACES if os.path.exists(p)), None),
                        help="the floor script (default: ../shared/bench/floor_scan.py when there)")
    parser.add_argument("--runs", type=int, default=3, help="rounds; figures are medians (default 3)")
    parser.add_argument("--tool-results", action="store_true",
                        help="generate tool calls answered by their output (another shape of data; not the goal's)")
    args = parser.parse_args()
    shape = "-tool-results" if args.tool_results else ""
    claude_dir = args.dir or f"/tmp/openusage-bench-claude-{int(args.mb)}{shape}"
    if not os.path.isdir(os.path.join(claude_dir, "projects")):
        print(f"generating {args.mb:.0f} MB in {claude_dir} ...", file=sys.stderr)
        print(json.dumps(gen_claude.generate(claude_dir, args.mb, seed=3, tool_results=args.tool_results)),
              file=sys.stderr)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(claude_dir) for f in fs)
    results: dict = {"data_mib": round(size / 2**20, 1), "runs": args.runs, "cores": os.cpu_count()}
    # As installed for real: byte code written once (PYTHONDONTWRITEBYTECODE would recompile every
    # changed module on every run and measure that instead).
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(HERE, "..", "openusage")], check=True,
                   stdout=subprocess.DEVNULL)
    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    runs: dict = {"openusage_cold": [], "openusage_warm": [], "ccusage": [], "floor": []}
    with tempfile.TemporaryDirectory(prefix="ou-parse-") as tmp:
        python = plain_python(os.path.join(tmp, "venv"))
        script = os.path.join(os.path.dirname(python), "openusage")  # the console script, as a user runs it
        cmd = [script, "daily", "--json", "--source", "direct", "--provider", "claude_code", "--timezone", "UTC"]
        for i in range(args.runs):
            state = os.path.join(tmp, f"state-{i}")  # empty: a cold run
            env = dict(base_env, CLAUDE_CONFIG_DIR=claude_dir, OPENUSAGE_STATE_DIR=state,
                       XDG_CONFIG_HOME=os.path.join(state, "config"))
            runs["openusage_cold"].append(measure(cmd, env))
            runs["openusage_warm"].append(measure(cmd, env))
            if args.ccusage:
                runs["ccusage"].append(measure([args.ccusage, "claude", "daily", "--json", "--offline", "-z", "UTC"],
                                               dict(os.environ, CLAUDE_CONFIG_DIR=claude_dir)))
            if args.floor:
                runs["floor"].append(measure([sys.executable, "-S", args.floor, claude_dir], base_env))
            shutil.rmtree(state, ignore_errors=True)
    for name, got in runs.items():
        if got:
            results[name] = median(got)
    cold = results["openusage_cold"]
    for base in ("ccusage", "floor"):
        if base in results:
            other = results[base]
            results[f"cold_wall_vs_{base}"] = round(cold["wall_s"] / other["wall_s"], 3)
            results[f"cold_rss_vs_{base}"] = round(cold["peak_rss_mib"] / other["peak_rss_mib"], 3)
            results[f"warm_wall_vs_{base}"] = round(results["openusage_warm"]["wall_s"] / other["wall_s"], 3)
            # The same round's runs share the machine's load: their ratio moves less than the medians'.
            results[f"cold_wall_vs_{base}_paired"] = round(statistics.median(
                a["wall_s"] / b["wall_s"] for a, b in zip(runs["openusage_cold"], runs[base])), 3)
    if "ccusage" in results and "floor" in results:
        # The CPU a scan may spend to finish in ccusage's wall on these cores, and how much of it the
        # floor's bare decode already takes: the rest is all the rules and the cache may cost.
        budget = (os.cpu_count() or 1) * results["ccusage"]["wall_s"]
        results["cpu_budget_at_ccusage_wall_s"] = round(budget, 3)
        results["floor_cpu_share_of_budget"] = round(results["floor"]["cpu_s"] / budget, 3)
        results["cold_cpu_vs_budget"] = round(cold["cpu_s"] / budget, 3)
    if "ccusage" in results:
        results["goals_met"] = (results["cold_wall_vs_ccusage"] <= 1.0 and results["cold_rss_vs_ccusage"] <= 0.5
                                and results["warm_wall_vs_ccusage"] <= 0.1)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
