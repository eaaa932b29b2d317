"""Droid: a session's running totals in its settings file (fixture: tests/fixtures/droid)."""
import json
import os

from agentcase import install, poller, store_events, totals
from support import usage

from openusage.agents import droid

SID = "c0ffee00-1234-4abc-9def-00000000d001"


def test_thinking_is_output_and_the_session_is_one_record():
    (u,) = droid.parse_settings({"model": "m", "tokenUsage": {"inputTokens": 1, "outputTokens": 10,
                                                              "thinkingTokens": 4, "cacheReadTokens": 2}},
                                "S", 100.0, "/home/dev/shop")
    assert (u.key, u.output_tokens, u.reasoning_tokens, u.cache_read_tokens, u.project) == ("S", 14, 4, 2, "shop")
    assert droid.parse_settings({"model": "m"}, "S", 1.0, None) == []


def test_a_rewritten_settings_file_grows_the_session_it_counted(isolated_home, store, zone):
    zone("UTC")
    writer, reader = store
    home = install("droid", isolated_home)
    path = os.path.join(home, ".factory", "sessions", "-home-dev-shop", SID + ".settings.json")
    p = poller("droid", home)
    events, _ = p.poll()
    first = {e.message_id: e for e in usage(events)}[SID]
    assert first.occurred_at == 1796081400.0 and first.project == "shop"  # the first message's time
    store_events(writer, events)
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    doc["tokenUsage"]["outputTokens"] += 500
    doc["tokenUsage"]["cacheReadTokens"] += 20000
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    events, _ = p.poll()
    assert [e.message_id for e in usage(events)] == [SID]
    store_events(writer, events)
    assert totals(reader(), "droid")[("2026-11-30", "claude-opus-4-1-20250805")][0] == 249110 + 20500
