"""Where a cold scan's worker CPU goes: the same Claude Code dir read stage by stage, in one process.

python bench/parse_stages.py [--dir DIR] [--repeat N]

Each stage does what the one before did and one thing more, over every transcript of the dir (the
one bench/parse.py generates, /tmp/openusage-bench-claude-500 by default), and prints its CPU
seconds (best of --repeat, default 3; the collector is off, as in a worker) and what it added:

  lines     the assistant lines found in whole-file reads (tail.iter_marked_lines)
  decode    + the byte tests and the JSON decode of the lines that can hold usage or a tool call
  parse     + parse_raw_line: the decode and the fields the rules need (parse.parse_line)
  rules     + the collector's pass: replays, the largest copy of each message, tool calls, projects
  batch     + the counted batch of each file (key hashes, prices, rows, quarter-hour and session sums)

The floor script (../shared/bench/floor_scan.py) does about what "decode" does, on two processes.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from json.scanner import make_scanner

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from openusage.agents import tail  # noqa: E402
from openusage.agents.claude_code import collect, parse  # noqa: E402
from openusage.agents.claude_code.files import iter_files  # noqa: E402


class _Lines:
    lines = 0

    def skip(self, reason: str) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/openusage-bench-claude-500")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.dir, "projects")):
        print(f"no Claude Code dir at {args.dir}: run bench/parse.py first (it generates one)", file=sys.stderr)
        return 1
    gc.disable()  # as in a worker (agents/workers.quiet_worker)
    files = list(iter_files([args.dir]))
    scan = make_scanner(json.JSONDecoder())

    def lines() -> None:
        for f in files:
            for _ in tail.iter_marked_lines(f.path, {"offset": 0}, b"assistant", _Lines):
                pass

    def decode() -> None:
        for f in files:
            for raw in tail.iter_marked_lines(f.path, {"offset": 0}, b"assistant", _Lines):
                if b'"tool_use"' in raw or raw.rfind(b'"usage"') >= 0:
                    try:
                        scan(raw.decode("utf-8").strip(), 0)
                    except (ValueError, StopIteration):
                        pass

    def parsed() -> None:
        for f in files:
            for raw in tail.iter_marked_lines(f.path, {"offset": 0}, b"assistant", _Lines):
                try:
                    parse.parse_raw_line(raw)
                except parse.SkippedLine:
                    pass

    def rules() -> None:
        for f in files:
            collect.Collector("default", {"files": {}}, "/nonexistent", time.time(), keep_raw=False)._pass(
                f, {"offset": 0, "ctx": {}}, {})

    def batch() -> None:
        for f in files:
            collect.Collector("default", {"files": {}}, "/nonexistent", time.time(), keep_raw=False)._read_batch(
                f, {"offset": 0, "ctx": {}}, {})

    size = sum(os.path.getsize(f.path) for f in files)
    print(f"{len(files)} files, {size / 2**20:.0f} MiB, best of {args.repeat}")
    print(f"{'stage':8} {'cpu s':>7} {'added':>7}")
    before = 0.0
    for name, fn in (("lines", lines), ("decode", decode), ("parse", parsed), ("rules", rules), ("batch", batch)):
        best = float("inf")
        for _ in range(args.repeat):
            started = time.process_time()
            fn()
            best = min(best, time.process_time() - started)
        print(f"{name:8} {best:7.2f} {best - before:7.2f}")
        before = best
    return 0


if __name__ == "__main__":
    sys.exit(main())
