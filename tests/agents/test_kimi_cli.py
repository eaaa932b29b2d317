"""Kimi CLI: its wire logs (fixture: tests/fixtures/kimi_cli)."""
import json
import os

from agentcase import install, poller
from support import tools, usage

from openusage.agents import kimi_cli

SID = "4e0a9b1c-2d3f-4a5b-8c7d-6e5f4a3b2c1d"


def test_status_updates_subagents_and_tool_calls():
    step = {"timestamp": 1796074803.9, "message": {"type": "StatusUpdate", "payload": {
        "token_usage": {"input_other": 10, "output": 2, "input_cache_read": 30, "input_cache_creation": 4},
        "message_id": "m1"}}}
    (u,) = kimi_cli.parse_wire_record(step, "S", "kimi-k2", "infra")
    assert (u.key, u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == ("S:m1", 10, 2, 30, 4)
    nested = {"timestamp": 5.0,
              "message": {"type": "SubagentEvent", "payload": {"agent_id": "a", "event": step["message"]}}}
    assert kimi_cli.parse_wire_record(nested, "S", None, None)[0].key == "S:m1"
    quiet = {"timestamp": 5.0, "message": {"type": "StatusUpdate", "payload": {"token_usage": None, "plan_mode": True}}}
    assert kimi_cli.parse_wire_record(quiet, "S", None, None) == []
    call = {"timestamp": 6.0, "message": {"type": "ToolCall", "payload": {"id": "t1", "function": {"name": "Shell"}}}}
    assert kimi_cli.parse_wire_record(call, "S", None, None)[0].name == "Shell"


def test_fixture_project_from_kimi_json_model_from_config_and_a_growing_wire(isolated_home):
    home = install("kimi_cli", isolated_home)
    p = poller("kimi_cli", home)
    events, snap = p.poll()
    assert [e.message_id for e in usage(events)] == [f"{SID}:chatcmpl-k1{s}" for s in ("a", "sub", "b", "c")]
    assert {(e.project, e.model, e.session_id) for e in usage(events)} == {("infra", "kimi-k2-turbo-preview", SID)}
    assert [t.tool_name for t in tools(events)] == ["Shell"]
    (bucket,) = os.listdir(os.path.join(home, ".kimi", "sessions"))
    wire = os.path.join(home, ".kimi", "sessions", bucket, SID, "wire.jsonl")
    with open(wire, "a", encoding="utf-8") as fh:  # completes the half-written last line, then one more step
        fh.write('e", "payload": {"token_usage": {"input_other": 1, "output": 1}, "message_id": "chatcmpl-k1d"}}}\n')
        fh.write(json.dumps({"timestamp": 1796083400.0, "message": {"type": "StatusUpdate", "payload": {
            "token_usage": {"input_other": 3, "output": 3}, "message_id": "chatcmpl-k1e"}}}) + "\n")
    events, _ = p.poll()
    assert [e.message_id.split(":")[1] for e in usage(events)] == ["chatcmpl-k1d", "chatcmpl-k1e"]


def test_the_share_dir_variable_replaces_the_default(isolated_home, tmp_path):
    install("kimi_cli", tmp_path / "other")
    share = str(tmp_path / "other" / ".kimi")
    events, snap = poller("kimi_cli", isolated_home, environ={"KIMI_SHARE_DIR": share}).poll()
    assert snap.extras["roots"] == [os.path.join(share, "sessions")] and len(usage(events)) == 4
