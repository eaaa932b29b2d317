"""Parse benchmark: a generated Claude Code dir (~500 MB), cold scan and warm re-scan.

python bench/parse.py [--mb 500] [--dir DIR] [--ccusage PATH] [--tool-results]

Measures `openusage daily --source direct` (cold: empty cache; warm: nothing new) by wall time and
peak RSS of the process, beside `ccusage claude daily --offline` on the same dir in the same run
when ccusage is available. Goals: cold <= 1.0x ccusage's wall and <= 0.5x its RSS; warm <= 0.1x
ccusage's wall.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen_claude  # noqa: E402
from plain import plain_python  # noqa: E402


def measure(cmd, env) -> dict:
    """Wall seconds and peak RSS (MiB) of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[0]} failed: {err[-500:]}")
    return {"wall_s": round(wall, 3), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=500.0)
    parser.add_argument("--dir", help="reuse a generated dir (default: /tmp/openusage-bench-claude-<mb>)")
    parser.add_argument("--ccusage", default=shutil.which("ccusage"))
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
    results = {"data_mib": round(size / 2**20, 1)}
    # As installed for real: byte code written once (PYTHONDONTWRITEBYTECODE would recompile every
    # changed module on every run and measure that instead).
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(HERE, "..", "openusage")], check=True,
                   stdout=subprocess.DEVNULL)
    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="ou-parse-") as state:
        python = plain_python(os.path.join(state, "venv"))
        env = dict(base_env, CLAUDE_CONFIG_DIR=claude_dir, OPENUSAGE_STATE_DIR=state,
                   XDG_CONFIG_HOME=os.path.join(state, "config"))
        script = os.path.join(os.path.dirname(python), "openusage")  # the console script, as a user runs it
        cmd = [script, "daily", "--json", "--source", "direct", "--provider", "claude_code", "--timezone", "UTC"]
        results["openusage_cold"] = measure(cmd, env)
        results["openusage_warm"] = measure(cmd, env)
    if args.ccusage:
        env = dict(os.environ, CLAUDE_CONFIG_DIR=claude_dir)
        results["ccusage"] = measure([args.ccusage, "claude", "daily", "--json", "--offline", "-z", "UTC"], env)
        cc = results["ccusage"]
        results["cold_wall_ratio"] = round(results["openusage_cold"]["wall_s"] / cc["wall_s"], 3)
        results["cold_rss_ratio"] = round(results["openusage_cold"]["peak_rss_mib"] / cc["peak_rss_mib"], 3)
        results["warm_wall_ratio"] = round(results["openusage_warm"]["wall_s"] / cc["wall_s"], 3)
        results["goals_met"] = (results["cold_wall_ratio"] <= 1.0 and results["cold_rss_ratio"] <= 0.5
                                and results["warm_wall_ratio"] <= 0.1)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
