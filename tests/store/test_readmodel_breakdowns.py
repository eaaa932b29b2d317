"""The read model's breakdowns (sessions, projects, tools, MCP servers) against a brute-force sum of the
events kept, on every window and at clocks that cut a day, a quarter-hour and sessions in two.

Sessions come from two places (the whole-life sums of a session that began inside the window, the day
and quarter rows of one that began before it): the sums, the ranking and the first TOP_N must be
those of the events whatever the mix, with messages whose later, larger copy moves them to another
quarter-hour (across the window's start too) and sessions that hold only turns without usage.
"""
import random
from collections import defaultdict

import pytest

from openusage.core.events import UsageEvent
from openusage.core.timeutil import format_rfc3339
from openusage.core.windows import window_start
from openusage.store import readmodel
from openusage.store.settle import BULK_ROLLUP_MIN

NOW = 1_795_300_000.0  # 2026-11-21T23:06:40Z
CLOCKS = (NOW, NOW + 8 * 3600 + 421.5, NOW + 13 * 3600 + 1799.25)
PROJECTS = ("web", "api", "cli", "docs")
TOOLS = ("Bash", "Edit", "Read", "mcp__github__search", "mcp__linear__create")


def make_events(sessions, seed=3, days=34):
    """The copy of each event kept, and every copy written in order (a growing message's earlier copies first)."""
    rnd = random.Random(seed)
    written = []
    final = {}
    for s in range(sessions):
        name = f"s{s:03d}"
        project = PROJECTS[s % len(PROJECTS)]
        start = NOW + 14 * 3600 - rnd.uniform(0, days * 86400)
        length = rnd.choice([600, 3600, 6 * 3600, 30 * 3600, 4 * 86400])
        for i in range(rnd.randrange(2, 14)):
            at = round(start + rnd.uniform(0, length), 3)
            if rnd.random() < 0.3:
                tool = rnd.choice(TOOLS)
                ev = UsageEvent(source="claude_code", provider_id="claude_code", account_id="claude_code",
                                event_type="tool_usage", occurred_at=at, tool_call_id=f"t-{name}-{i}", tool_name=tool,
                                mcp_server=tool.split("__")[1] if tool.startswith("mcp__") else None,
                                session_id=name, project=project)
                written.append(ev)
                final[ev.dedup_key()] = ev
                continue
            inp, out, cache = rnd.randrange(1, 900), rnd.randrange(1, 400), rnd.randrange(0, 3000)
            cost = rnd.randrange(1, 90000)  # micro-dollars
            copies = [(at, out, cost)]
            if rnd.random() < 0.25:  # a later copy, larger, dated up to two hours on
                copies.append((round(at + rnd.uniform(0, 7200), 3), out + rnd.randrange(1, 300), cost + 1234))
            for at_copy, o_tokens, micros in copies:
                ev = UsageEvent(source="claude_code", provider_id="claude_code", account_id="claude_code",
                                event_type="message_usage", occurred_at=at_copy, message_id=f"m-{name}-{i}",
                                model="claude-sonnet-4-5", input_tokens=inp, output_tokens=o_tokens,
                                cache_read_tokens=cache, cost_usd=micros / 1e6, requests=1, session_id=name,
                                project=project)
                written.append(ev)
                final[ev.dedup_key()] = ev
    for z in range(6):  # sessions with only turns and no usage: they are in the window, with nothing in it
        at = NOW - rnd.uniform(0, days * 86400)
        ev = UsageEvent(source="claude_code", provider_id="claude_code", account_id="claude_code",
                        event_type="turn_completed", occurred_at=at, turn_id=f"turn-{z}", session_id=f"z{z}",
                        project="web")
        written.append(ev)
        final[ev.dedup_key()] = ev
    return list(final.values()), written


def expected(final, written, window, now):
    start = window_start(window, now)
    inside = [e for e in final if start is None or e.occurred_at >= start]
    sums = {"sessions": defaultdict(lambda: [0, 0, 0, 0.0]), "projects": defaultdict(lambda: [0, 0, 0, 0.0]),
            "tools": defaultdict(lambda: [0, 0, 0, 0.0]), "mcp_servers": defaultdict(lambda: [0, 0, 0, 0.0])}
    for e in inside:
        values = (1 if e.event_type == "tool_usage" else 0, e.requests, e.total_tokens(), e.cost_usd or 0.0)
        for attr, name in (("sessions", e.session_id), ("projects", e.project), ("tools", e.tool_name),
                           ("mcp_servers", e.mcp_server)):
            if name:
                acc = sums[attr][name]
                for i, v in enumerate(values):
                    acc[i] += v
    times = defaultdict(list)
    for e in written:
        times[e.session_id].append(e.occurred_at)
    out = {}
    for attr, rows in sums.items():
        if attr in ("tools", "mcp_servers"):
            ranked = sorted(rows.items(), key=lambda r: (-r[1][0], r[0]))
        else:
            ranked = sorted(rows.items(), key=lambda r: (-round(r[1][3], 6), -r[1][2], r[0]))
        listed = []
        for name, (calls, requests, tokens, cost) in ranked[:readmodel.TOP_N]:
            row = {"name": name}
            for key, value in (("calls", calls), ("requests", requests), ("tokens", tokens),
                               ("cost", round(cost, 6))):
                if value:
                    row[key] = value
            if attr == "sessions":
                row.update(project=PROJECTS[int(name[1:]) % len(PROJECTS)] if name[0] == "s" else "web",
                           first_at=format_rfc3339(min(times[name])), last_at=format_rfc3339(max(times[name])))
            listed.append(row)
        out[attr] = listed
    return out


def check(reader, final, seen):
    """`seen`: the copies the store saw (a session's first and last times are theirs)."""
    conn = reader()
    straddling = empty = 0  # listed sessions that began before the window; that hold nothing in it
    for now in CLOCKS:
        for window in ("1d", "3d", "7d", "30d", "all"):
            snap = readmodel.build(conn, window, now=now)["snapshots"]["claude_code"]
            want = expected(final, seen, window, now)
            for attr in ("sessions", "projects", "tools", "mcp_servers"):
                assert snap.get(attr, []) == want[attr], (window, now, attr)
            start = window_start(window, now)
            straddling += sum(start is not None and format_rfc3339(start) > s["first_at"] for s in want["sessions"])
            empty += sum("tokens" not in s and "calls" not in s for s in want["sessions"])
    return straddling, empty


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kathmandu"])
@pytest.mark.parametrize("sessions", [40, 400])
def test_breakdowns_equal_a_brute_force_sum(store, zone, tz, sessions):
    zone(tz)
    writer, reader = store
    final, written = make_events(sessions)
    writer.submit_events(written).wait(60)  # one write: rollups summed by SQLite, the largest copy kept
    assert len(written) >= BULK_ROLLUP_MIN
    if sessions > 100:
        assert len({e.session_id for e in final}) > 2 * readmodel.TOP_N
    straddling, empty = check(reader, final, final)
    assert straddling > 0 and (empty > 0 or sessions > 100)


def test_breakdowns_written_one_by_one_equal_the_brute_force_sum(store):
    writer, reader = store
    final, written = make_events(60, seed=5)
    for ev in written:  # hook-sized writes: rollups summed in Python, growth settled against stored rows
        writer.submit_events([ev]).wait(30)
    straddling, empty = check(reader, final, written)
    assert straddling > 0 and empty > 0
