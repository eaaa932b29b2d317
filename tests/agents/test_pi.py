"""pi: its session files as pi writes them (fixture: tests/fixtures/pi)."""
import json
import os

import pytest
from agentcase import FIXTURES, event_totals, install, poller
from support import tools, usage

from openusage.agents import pi
from openusage.agents.files import Found
from openusage.agents.records import Skip

SID = "6f1d2c3a-5b7e-4c1d-9a2e-1f0b3c4d5e6f"
SESSION = os.path.join(".pi", "agent", "sessions", "--home-dev-webapp--", f"2026-11-30T22-58-01-000Z_{SID}.jsonl")
FOUND = Found("/x/s.jsonl", "/x", (), "s.jsonl")


def assistant(entry_id, stamp, usage_, model="claude-sonnet-4-5", content=()):
    return {"type": "message", "id": entry_id, "parentId": None, "timestamp": stamp,
            "message": {"role": "assistant", "content": list(content), "provider": "anthropic", "model": model,
                        "usage": usage_, "stopReason": "stop", "timestamp": 0}}


def test_entries_become_usage_with_fresh_input_and_the_logged_cost():
    ctx = {}
    assert pi.parse_entry({"type": "session", "id": "S", "cwd": "/home/dev/app"}, ctx, FOUND) == []
    u = {"input": 10, "output": 5, "cacheRead": 100, "cacheWrite": 7, "cost": {"total": 0.25}}
    (rec, call) = pi.parse_entry(assistant("e1", "2026-11-30T10:00:00Z", u,
                                           content=[{"type": "toolCall", "id": "t1", "name": "bash"}]), ctx, FOUND)
    assert (rec.key, rec.input_tokens, rec.cache_read_tokens, rec.cache_write_tokens) == ("S:e1", 10, 100, 7)
    assert rec.cost_logged == 0.25 and rec.project == "app" and (call.call_id, call.name) == ("t1", "bash")
    zero = dict(u, cost={"total": 0})
    (rec,) = pi.parse_entry(assistant("e2", "2026-11-30T10:00:01Z", zero, model="mine"), ctx, FOUND)
    assert rec.cost_logged is None  # pi knew no price: the price table is asked
    with pytest.raises(Skip):
        pi.parse_entry(dict(assistant("e3", "garbage", u), timestamp="garbage"), ctx, FOUND)


def test_a_truncated_last_line_waits_then_counts_and_growth_is_read_alone(isolated_home, zone):
    zone("UTC")
    home = install("pi", isolated_home)
    path = os.path.join(home, SESSION)
    p = poller("pi", home)
    events, snap = p.poll()
    assert len(usage(events)) == 3 and [t.tool_call_id for t in tools(events)] == ["toolu_01PiRead", "toolu_01PiEdit"]
    with open(os.path.join(FIXTURES, "pi", "home", SESSION), encoding="utf-8") as fh:
        partial = fh.read().rsplit("\n", 1)[1]
    whole = json.dumps({"type": "message", "id": "a1b2c309", "parentId": "a1b2c308",
                        "timestamp": "2026-12-01T00:03:00.000Z",
                        "message": {"role": "assistant", "content": [], "usage": {"input": 9}}}, separators=(",", ":"))
    assert whole.startswith(partial)  # the fixture ends mid-line, as a file caught mid-write does
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(whole[len(partial):] + "\n")
    events, _ = p.poll()
    assert [e.message_id for e in usage(events)] == [f"{SID}:a1b2c309"] and usage(events)[0].input_tokens == 9


def test_day_boundaries_follow_the_local_zone(isolated_home, zone):
    zone("Asia/Kolkata")  # +05:30: the 23:59:59Z request is on the next local day
    events, _ = poller("pi", install("pi", isolated_home)).poll()
    assert event_totals(events) == {("2026-12-01", "claude-sonnet-4-5"): (5606 + 5781, pytest.approx(0.0280263)),
                                    ("2026-12-01", "acme-coder-9000"): (682, None)}


def test_the_agent_dir_variable_replaces_the_defaults(isolated_home, tmp_path):
    install("pi", tmp_path / "elsewhere")
    agent_dir = str(tmp_path / "elsewhere" / ".pi" / "agent")
    p = poller("pi", isolated_home, environ={"PI_CODING_AGENT_DIR": agent_dir})
    events, snap = p.poll()
    assert snap.extras["roots"] == [agent_dir] and len(usage(events)) == 3
