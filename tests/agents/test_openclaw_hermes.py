"""OpenClaw (pi's session files in its own folders) and Hermes Agent (its state database)."""
import os
import sqlite3

from agentcase import install, poller, store_events, totals
from support import tools, usage

from openusage.agents import hermes
from openusage.agents.files import Found


def test_openclaw_reads_each_agents_sessions_as_pi_writes_them(isolated_home):
    home = install("openclaw", isolated_home)
    os.makedirs(os.path.join(home, ".openclaw", "agents", "work", "sessions"))
    p = poller("openclaw", home)
    events, snap = p.poll()
    assert [t.tool_name for t in tools(events)] == ["gmail_search"]
    by_model = {e.model: e for e in usage(events)}
    assert by_model["moonshotai/kimi-k2"].cost_usd is None  # OpenClaw's 0 is no price, and the table has none
    assert by_model["claude-opus-4-5"].cost_logged_usd == 0.078765
    with open(os.path.join(home, ".openclaw", "agents", "work", "sessions", "w.jsonl"), "w") as fh:
        fh.write('{"type":"session","version":3,"id":"W","timestamp":"2026-12-01T09:00:00Z","cwd":"/w"}\n'
                 '{"type":"message","id":"x1","timestamp":"2026-12-01T09:00:01Z","message":{"role":"assistant",'
                 '"model":"gpt-5","usage":{"input":5,"output":5,"cacheRead":0,"cacheWrite":0}}}\n')
    events, _ = p.poll()
    assert [e.message_id for e in usage(events)] == ["W:x1"]  # another agent's folder, read alone


def test_hermes_rows_cost_and_schema():
    row = {"id": "s", "started_at": 100.0, "input_tokens": 10, "output_tokens": 4, "reasoning_tokens": 9,
           "cache_read_tokens": 50, "actual_cost_usd": None, "estimated_cost_usd": 0.2, "api_call_count": 3}
    (u,) = hermes.parse_session_row(row, Found("/h/state.db", "/h", (), "state.db"))
    assert (u.input_tokens, u.cache_read_tokens, u.reasoning_tokens, u.cost_logged, u.requests) == (10, 50, 4, 0.2, 3)
    assert hermes.select({"id", "started_at", "input_tokens", "output_tokens"}) is None  # no activity column


def test_hermes_session_grows_as_its_activity_moves(isolated_home, store, zone):
    zone("UTC")
    writer, reader = store
    home = install("hermes", isolated_home)
    p = poller("hermes", home)
    events, _ = p.poll()
    store_events(writer, events)
    conn = sqlite3.connect(os.path.join(home, ".hermes", "state.db"))
    conn.execute("UPDATE sessions SET input_tokens = input_tokens + 100, output_tokens = output_tokens + 50, "
                 "estimated_cost_usd = 0.002, last_activity_at = 1796120000.0 WHERE id = '20261201_080000_cd34'")
    conn.commit()
    conn.close()
    events, _ = p.poll()
    assert [e.message_id for e in usage(events)] == ["20261201_080000_cd34"]
    store_events(writer, events)
    assert totals(reader(), "hermes")[("2026-12-01", "gpt-5-mini")] == (2550, 0.002)


def test_hermes_home_replaces_the_default(isolated_home, tmp_path):
    install("hermes", tmp_path / "o")
    events, snap = poller("hermes", isolated_home, environ={"HERMES_HOME": str(tmp_path / "o" / ".hermes")}).poll()
    assert len(usage(events)) == 3 and snap.extras["roots"] == [str(tmp_path / "o" / ".hermes")]
