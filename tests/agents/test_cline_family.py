"""Cline, Roo Code and Kilo Code: a task's ui_messages.json, rewritten as requests finish."""
import json
import os

import pytest
from agentcase import install, poller, store_events, totals
from support import tools, usage

from openusage.agents import cline_family

TASK = os.path.join(".config", "Code", "User", "globalStorage", "saoudrizwan.claude-dev", "tasks", "1796079600000")


def api(ts, body, **extra):
    return dict({"ts": ts, "type": "say", "say": "api_req_started", "text": json.dumps(body)}, **extra)


def test_protocols_models_and_unfinished_requests():
    history = [(0, "gpt-5"), (2000, "claude-haiku-4-5")]
    found = cline_family.parse_ui_messages([
        api(1000, {"apiProtocol": "openai", "tokensIn": 100, "tokensOut": 5, "cacheReads": 60, "cacheWrites": 0}),
        api(3000, {"tokensIn": 7, "tokensOut": 5, "cacheReads": 60, "cacheWrites": 9, "cost": 0.5}),
        api(4000, {"request": "still running"}),
        {"ts": 5000, "type": "ask", "ask": "tool", "text": json.dumps({"tool": "readFile"}), "partial": True},
    ], "T", history)
    (a, b) = found
    assert (a.key, a.model, a.input_tokens, a.cache_read_tokens) == ("T:1000", "gpt-5", 40, 60)
    assert (b.model, b.input_tokens, b.cache_write_tokens, b.cost_logged) == ("claude-haiku-4-5", 7, 9, 0.5)


def test_a_request_counts_once_its_numbers_are_written(isolated_home, store, zone):
    zone("UTC")
    writer, reader = store
    home = install("cline", isolated_home)
    path = os.path.join(home, TASK, "ui_messages.json")
    p = poller("cline", home)
    events, _ = p.poll()
    assert len(usage(events)) == 2 and [t.tool_name for t in tools(events)] == ["readFile", "newFileCreated"]
    store_events(writer, events)
    with open(path, encoding="utf-8") as fh:
        messages = json.load(fh)
    messages[-1]["text"] = json.dumps({"request": "[write_to_file] Result", "tokensIn": 4, "tokensOut": 96,
                                       "cacheWrites": 0, "cacheReads": 15200, "cost": 0.005})
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(messages, fh)
    events, _ = p.poll()
    assert "1796079600000:1796083202000" in [e.message_id for e in usage(events)]  # the whole file again
    store_events(writer, events)
    assert totals(reader(), "cline") == {("2026-11-30", "claude-sonnet-4-5-20250929"): (30501, 0.080406),
                                         ("2026-12-01", "claude-sonnet-4-5-20250929"): (15300, 0.005)}


@pytest.mark.parametrize("agent", ["roo_code", "kilo_code"])
def test_forks_read_their_own_extension_folder(agent, isolated_home):
    home = install(agent, isolated_home)
    events, snap = poller(agent, home).poll()
    assert snap.status == "OK" and usage(events)
    assert all(agent.split("_")[0] in root.replace("-", "").lower() or "kilocode" in root
               for root in snap.extras["roots"])
    assert poller("cline", home).poll()[1].status == "UNKNOWN"  # another extension's tasks are not Cline's
