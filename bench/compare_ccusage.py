"""Compare openusage's daily report with ccusage's on the same Claude Code data.

python bench/compare_ccusage.py [--dir DIR | --mb 20] [--tz Asia/Kathmandu] [--ccusage PATH]

Token totals per local day and model must be equal; costs must agree within 1 % where both price
the model (ccusage splits long-context pricing per token kind, openusage bills a whole request above
200k at the long-context rate: requests below 200k prompt tokens are priced the same).
Needs the ccusage binary (npm package ccusage >= 20; `--ccusage` or on PATH).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen_claude  # noqa: E402

FIELDS = (("input_tokens", "inputTokens"), ("output_tokens", "outputTokens"),
          ("cache_write_tokens", "cacheCreationTokens"), ("cache_read_tokens", "cacheReadTokens"))


def ours(claude_dir: str, tz: str, state: str) -> dict:
    env = dict(os.environ, CLAUDE_CONFIG_DIR=claude_dir, OPENUSAGE_STATE_DIR=state,
               XDG_CONFIG_HOME=os.path.join(state, "config"))
    out = subprocess.run([sys.executable, "-m", "openusage", "daily", "--json", "--source", "direct",
                          "--provider", "claude_code", "--timezone", tz], capture_output=True, text=True, env=env,
                         check=True)
    report = json.loads(out.stdout)
    return {(d["date"], m["model"]): m for d in report["daily"] for m in d["models"]}


def theirs(claude_dir: str, tz: str, binary: str) -> dict:
    env = dict(os.environ, CLAUDE_CONFIG_DIR=claude_dir)
    out = subprocess.run([binary, "claude", "daily", "--json", "--offline", "-z", tz], capture_output=True,
                         text=True, env=env, check=True)
    report = json.loads(out.stdout)
    return {(d["date"], m["modelName"]): m for d in report["daily"] for m in d["modelBreakdowns"]}


def compare(a: dict, b: dict) -> dict:
    token_mismatches = []
    cost_diffs = []
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            token_mismatches.append((key, "missing in " + ("openusage" if key not in a else "ccusage")))
            continue
        for ours_name, theirs_name in FIELDS:
            if a[key][ours_name] != b[key][theirs_name]:
                token_mismatches.append((key, ours_name, a[key][ours_name], b[key][theirs_name]))
        if b[key].get("cost"):
            cost_diffs.append(abs(a[key]["cost_usd"] - b[key]["cost"]) / b[key]["cost"])
    return {"rows": len(a), "token_mismatches": token_mismatches[:20], "token_mismatch_count": len(token_mismatches),
            "max_cost_diff_percent": round(100 * max(cost_diffs or [0.0]), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="an existing Claude config dir (default: generate one)")
    parser.add_argument("--mb", type=float, default=20.0)
    parser.add_argument("--tz", default="Asia/Kathmandu")
    parser.add_argument("--ccusage", default=shutil.which("ccusage"))
    args = parser.parse_args()
    if not args.ccusage:
        print("ccusage not found: npm install ccusage, then pass --ccusage node_modules/.bin/ccusage")
        return 2
    with tempfile.TemporaryDirectory(prefix="ou-cmp-") as tmp:
        claude_dir = args.dir or os.path.join(tmp, "claude")
        if not args.dir:
            gen_claude.generate(claude_dir, args.mb, seed=7)
        result = compare(ours(claude_dir, args.tz, os.path.join(tmp, "state")),
                         theirs(claude_dir, args.tz, args.ccusage))
    result["timezone"] = args.tz
    print(json.dumps(result, indent=2))
    return 0 if result["token_mismatch_count"] == 0 and result["max_cost_diff_percent"] <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
