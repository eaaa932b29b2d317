"""Qwen Code: its chat recordings (fixture: tests/fixtures/qwen_code)."""
import os

from agentcase import install, poller
from support import tools, usage

from openusage.agents import qwen_code
from openusage.agents.files import Found

FOUND = Found("/x/c.jsonl", "/x", (), "c.jsonl")


def test_gemini_usage_metadata_is_split_as_design_says():
    rec = {"uuid": "u1", "sessionId": "S", "timestamp": "2026-11-30T10:00:00Z", "type": "assistant",
           "cwd": "/home/dev/api", "model": "qwen3-coder-plus",
           "usageMetadata": {"promptTokenCount": 1000, "cachedContentTokenCount": 800, "candidatesTokenCount": 50,
                             "thoughtsTokenCount": 20, "toolUsePromptTokenCount": 5, "totalTokenCount": 1075}}
    (u,) = qwen_code.parse_record(rec, {}, FOUND)
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.reasoning_tokens) == (205, 800, 70, 20)
    assert u.total_tokens() == 1075 and u.key == "S:u1" and u.project == "api"
    assert qwen_code.parse_record(dict(rec, type="system", subtype="ui_telemetry"), {}, FOUND) == []


def test_fixture_skips_a_bad_timestamp_and_the_telemetry_copy_and_waits_for_the_last_line(isolated_home, zone):
    zone("UTC")
    home = install("qwen_code", isolated_home)
    events, snap = poller("qwen_code", home).poll()
    assert [e.message_id.split(":")[1] for e in usage(events)] == ["u-0002", "u-0005", "u-0006"]
    assert snap.extras["skipped_reasons"] == {"bad_timestamp": 1}
    assert [t.tool_call_id for t in tools(events)] == ["call_q1"]
    offset = next(e for e in usage(events) if e.message_id.endswith("u-0005"))
    assert offset.occurred_at == 1796043609.0  # 18:30:09+05:30 is 13:00:09Z
    assert {e.cost_usd for e in usage(events)} == {None}  # no Qwen price in the table: unpriced, not zero


def test_a_session_that_grows_is_read_from_where_it_stopped(isolated_home):
    home = install("qwen_code", isolated_home)
    chats = os.path.join(home, ".qwen", "projects", "-home-dev-api", "chats")
    (name,) = os.listdir(chats)
    p = poller("qwen_code", home)
    p.poll()
    with open(os.path.join(chats, name), "a", encoding="utf-8") as fh:
        fh.write('"}\n{"uuid":"u-0009","sessionId":"S2","timestamp":"2026-12-01T01:00:00Z","type":"assistant",'
                 '"cwd":"/w","model":"qwen3-coder-plus","usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1}}\n')
    events, snap = p.poll()
    assert [e.message_id for e in usage(events)] == ["S2:u-0009"] and snap.extras["lines_read"] == 2
