"""Read-model benchmark: the 30d read model on a store of 1M events beside a plain GROUP BY scan.

python bench/readmodel.py [--events 1000000] [--days 30] [--repeat 7] [--db PATH]

Builds a real store (the store's own Writer: events, quarter-hour and day rollups, breakdowns and
sessions exactly as the daemon writes them) of EVENTS events over the last DAYS days: three
accounts, six models, ~1,500 sessions, 25 projects, tool calls with MCP servers. Then times, in the
same run and on the same file, openusage.store.readmodel.build(conn, "30d", ...) as the daemon
calls it (read-only connection, every account) and a plain scan of the event rows: their sums
`WHERE occurred_at >= ?` by place, then by the places' model (event rows name their model by a
place id since schema 6); the median of REPEAT runs of each. Goal: the read model <= 1/40 of the scan.
With --db an existing file is reused (built there first if missing).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from openusage.core.events import UsageEvent  # noqa: E402
from openusage.store import db, readmodel  # noqa: E402
from openusage.store.writer import Writer  # noqa: E402

GOAL = 40
CHUNK = 20_000
ACCOUNTS = (("claude_code", "claude_code"), ("codex", "codex"), ("openrouter", "personal"))
MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001",
          "gpt-5-codex", "gpt-5", "deepseek/deepseek-chat")
TOOLS = ("Read", "Edit", "Bash", "Grep", "Write", "mcp__github__search_code", "mcp__linear__create_issue")
PROJECTS = tuple(f"project-{i:02d}" for i in range(25))
SESSIONS_PER_DAY = 50


def generate(count: int, days: int, now: float, seed: int = 1):
    """Chunks of events spread over the last `days` days, in time order like a day of real use."""
    rnd = random.Random(seed)
    span = days * 86400.0
    step = span / count
    chunk = []
    for i in range(count):
        at = now - span + i * step + rnd.random() * step
        provider, account = ACCOUNTS[0] if rnd.random() < 0.6 else rnd.choice(ACCOUNTS[1:])
        day_index = int((at - now + span) // 86400)
        slot = rnd.randrange(SESSIONS_PER_DAY)
        session = f"s-{day_index}-{slot}"
        project = PROJECTS[(day_index * 7 + slot) % len(PROJECTS)]
        if rnd.random() < 0.25:
            tool = rnd.choice(TOOLS)
            ev = UsageEvent(source=provider, provider_id=provider, account_id=account, event_type="tool_usage",
                            occurred_at=at, session_id=session, tool_call_id=f"toolu_{i}", tool_name=tool,
                            project=project, mcp_server=tool.split("__")[1] if tool.startswith("mcp__") else None)
        else:
            inp, out = rnd.randrange(1, 5000), rnd.randrange(1, 3000)
            cache_read, cache_write = rnd.randrange(0, 60000), rnd.randrange(0, 8000)
            cost = round((inp * 3 + out * 15 + cache_read * 0.3 + cache_write * 3.75) / 1e6, 6)
            ev = UsageEvent(source=provider, provider_id=provider, account_id=account, event_type="message_usage",
                            occurred_at=at, session_id=session, message_id=f"msg_{i}", model=rnd.choice(MODELS),
                            input_tokens=inp, output_tokens=out, cache_read_tokens=cache_read,
                            cache_write_tokens=cache_write, reasoning_tokens=out // 4, cost_usd=cost,
                            cost_computed_usd=cost, requests=1, project=project)
        chunk.append(ev)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def build_store(path: str, count: int, days: int, now: float) -> float:
    """Write the events through the store's writer; seconds taken."""
    started = time.perf_counter()
    writer = Writer(path)
    writer.start()
    try:
        for chunk in generate(count, days, now):
            writer.submit_events(chunk).wait(600)
    finally:
        writer.stop()
    return time.perf_counter() - started


def time_runs(fn, repeat: int) -> list:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--db", help="reuse (or build) the store at this path")
    args = parser.parse_args()

    tmp = None if args.db else tempfile.mkdtemp(prefix="oubench")
    path = args.db or os.path.join(tmp, "telemetry.db")
    now = time.time()
    try:
        if not os.path.exists(path):
            took = build_store(path, args.events, args.days, now)
            print(f"store: {args.events} events over {args.days} days written by the store's writer in {took:.1f} s "
                  f"({os.path.getsize(path) / 2**20:.0f} MiB)")
        conn = db.connect(path, readonly=True)
        stored = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        refs = [readmodel.AccountRef(p, a) for p, a in ACCOUNTS]
        at = time.time()  # one clock for both, so they sum the same window
        start = readmodel.WindowRange("30d", at).start

        def model() -> dict:
            return readmodel.build(conn, "30d", now=at, accounts=refs, provider_names={})

        def scan() -> list:
            # Grouped by the rows' place id first, then by the places' model: the cheapest plain query
            # since event rows name their model by place (schema 6), no lookup per row.
            return conn.execute(
                "SELECT p.model, SUM(i), SUM(o), SUM(cr), SUM(cw), SUM(r), SUM(c), SUM(q) FROM ("
                "SELECT place, SUM(input_tokens) AS i, SUM(output_tokens) AS o, SUM(cache_read_tokens) AS cr, "
                "SUM(cache_write_tokens) AS cw, SUM(reasoning_tokens) AS r, SUM(cost_usd) AS c, SUM(requests) AS q "
                "FROM events WHERE occurred_at >= ? GROUP BY place) AS s JOIN counted_place AS p ON p.id = s.place "
                "GROUP BY p.model", (start,)).fetchall()

        model()
        scan()  # both with a warm page cache
        model_runs = time_runs(model, args.repeat)
        scan_runs = time_runs(scan, args.repeat)
        result = model()
        rows = scan()
        plan = "; ".join(r[-1] for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT place, SUM(input_tokens) FROM events WHERE occurred_at >= ? GROUP BY place",
            (start,)))
        conn.close()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    tokens_model = sum(s.get("tokens", {}).get("total", 0) for s in result["snapshots"].values())
    tokens_scan = sum((r[1] or 0) + (r[2] or 0) + (r[3] or 0) + (r[4] or 0) for r in rows)
    m, s = statistics.median(model_runs), statistics.median(scan_runs)
    print(f"read model 30d over {stored} stored events, {len(result['snapshots'])} accounts, "
          f"median of {args.repeat} runs")
    for label, value in (("query", "ms"), ('readmodel.build(conn, "30d")', f"{m * 1000:.1f}"),
                         ("SELECT model, SUM(...) GROUP BY", f"{s * 1000:.1f}")):
        print(f"{label:<34} {value:>8}")
    print(f"scan plan: {plan}")
    print(f"ratio: read model = 1/{s / m:.1f} of the scan (goal <= 1/{GOAL}) {'ok' if s / m >= GOAL else 'MISSED'}")
    if tokens_model != tokens_scan:
        print(f"note: token totals differ (read model {tokens_model}, scan {tokens_scan})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
