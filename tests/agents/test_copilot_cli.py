"""Copilot CLI: its session event logs (fixture: tests/fixtures/copilot_cli)."""
import os

import pytest
from agentcase import install, poller
from support import tools, usage

from openusage.agents import copilot_cli
from openusage.agents.files import Found
from openusage.core import pricing

SID = "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
FOUND = Found(f"/r/session-state/{SID}/events.jsonl", "/r", ("session-state", SID), "events.jsonl")


def test_usage_is_fresh_input_and_the_premium_multiplier_is_not_money():
    ev = {"type": "assistant.usage", "id": "e1", "timestamp": "2026-11-30T20:00:13Z",
          "data": {"model": "gpt-5", "inputTokens": 1000, "outputTokens": 10, "cacheReadTokens": 600, "cost": 1}}
    (u,) = copilot_cli.parse_event(ev, {}, FOUND)
    assert (u.key, u.input_tokens, u.cache_read_tokens, u.cost_logged) == (f"{SID}:e1", 400, 600, None)


def test_fixture_models_tools_and_the_shutdown_summary_not_counted_again(isolated_home):
    home = install("copilot_cli", isolated_home)
    p = poller("copilot_cli", home)
    events, snap = p.poll()
    assert [(e.model, e.project) for e in usage(events)] == [("claude-sonnet-4.5", "mobile"), ("gpt-5-mini", "mobile")]
    assert usage(events)[0].cost_usd == pytest.approx(pricing.compute_cost("claude-sonnet-4.5", 2500, 380, 18900))
    assert [(t.tool_name, t.mcp_server) for t in tools(events)] == [("view", None),
                                                                      ("github-mcp-server-list_issues", None)]
    path = os.path.join(home, ".copilot", "session-state", SID, "events.jsonl")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('":"ev-11","timestamp":"2026-11-30T20:04:00.000Z","parentId":null}\n')  # the half line, finished
    events, _ = p.poll()
    (late,) = usage(events)
    assert (late.message_id, late.model, late.total_tokens(), late.cost_usd) == (f"{SID}:ev-11", "x", 0, None)


def test_copilot_home_replaces_the_default(isolated_home, tmp_path):
    install("copilot_cli", tmp_path / "o")
    environ = {"COPILOT_HOME": str(tmp_path / "o" / ".copilot")}
    events, snap = poller("copilot_cli", isolated_home, environ=environ).poll()
    assert len(usage(events)) == 2 and snap.extras["roots"] == [str(tmp_path / "o" / ".copilot")]
