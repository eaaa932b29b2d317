import functools
import inspect
import json
import os
import shutil

import pytest
import support
from support import tools, usage

from openusage.agents import claude_code as cc
from openusage.agents import workers as agent_workers
from openusage.agents.claude_code import collect as cc_collect
from openusage.core import pricing
from openusage.core.timeutil import parse_rfc3339
from openusage.daemon import pipeline
from openusage.providers.base import AccountConfig

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "claude_code", "transcripts")
SHOWCASE = os.path.join(FIXTURES, "claude-code-log", "minimal_showcase")
SHOWCASE_SESSION = "55550000-0000-4000-8000-000000000001"

PROVIDER = cc.ClaudeCodeProvider()
ACCOUNT = AccountConfig(id="claude_code", provider="claude_code")


# --- helpers -------------------------------------------------------------------------------------


Poller = functools.partial(support.Poller, PROVIDER, ACCOUNT)


def assistant(mid, rid, ts="2026-03-01T10:00:00.000Z", out=10, inp=5, cache_read=0, cache_write=0,
              content=None, session="s1", cwd="/home/u/work/my-app", sidechain=False,
              model="claude-sonnet-4-5", cache_creation=None, **extra):
    """One assistant line in the compact form Claude Code writes."""
    use = {"input_tokens": inp, "cache_creation_input_tokens": cache_write,
           "cache_read_input_tokens": cache_read, "output_tokens": out, "service_tier": "standard"}
    if cache_creation is not None:
        use["cache_creation"] = cache_creation
    message = {"model": model, "type": "message", "role": "assistant",
               "content": content or [{"type": "text", "text": "secret answer text"}], "usage": use}
    if mid is not None:
        message["id"] = mid
    obj = {"parentUuid": None, "isSidechain": sidechain, "userType": "external", "cwd": cwd,
           "sessionId": session, "version": "2.1.2", "message": message, "type": "assistant",
           "uuid": f"u-{mid}-{rid}-{out}", "timestamp": ts}
    if rid is not None:
        obj["requestId"] = rid
    obj.update(extra)
    return json.dumps(obj, separators=(",", ":"))


def tool_use(tool_id, name):
    return {"type": "tool_use", "id": tool_id, "name": name, "input": {"command": "ls"}}


def user_line(text="hello", session="s1"):
    return json.dumps({"type": "user", "sessionId": session, "timestamp": "2026-03-01T09:59:00.000Z",
                       "message": {"role": "user", "content": text}}, separators=(",", ":"))


def write(path, lines, mode="a", newline=True):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode, encoding="utf-8") as fh:
        fh.write("\n".join(lines) + ("\n" if newline and lines else ""))


def session_file(root, session="s1", project="-home-u-work-my-app"):
    return os.path.join(str(root), "projects", project, session + ".jsonl")


# --- roots, files, detection -------------------------------------------------------------------


def test_default_roots_are_both_claude_dirs(tmp_path):
    assert cc.claude_roots(lambda name: None, "/h") == ["/h/.claude", "/h/.config/claude"]


def test_config_dir_entries_replace_the_defaults(tmp_path):
    env = {"CLAUDE_CONFIG_DIR": " /a/one , ~/two,,/a/one"}
    assert cc.claude_roots(env.get, "/h") == ["/a/one", "/h/two"]


def test_detect_finds_a_root_with_projects(tmp_path):
    home = tmp_path / "h"
    assert PROVIDER.detect({}, str(home), lambda p: None) == []
    (home / ".config" / "claude" / "projects").mkdir(parents=True)
    found = PROVIDER.detect({}, str(home), lambda p: None)
    assert [(a.id, a.provider, a.detected_by) for a in found] == [
        ("claude_code", "claude_code", str(home / ".config" / "claude"))]
    other = tmp_path / "custom"
    (other / "projects").mkdir(parents=True)
    found = PROVIDER.detect({"CLAUDE_CONFIG_DIR": str(other)}, str(home), lambda p: None)
    assert [a.detected_by for a in found] == [str(other)]
    assert PROVIDER.detect({"CLAUDE_CONFIG_DIR": str(tmp_path / "none")}, str(home), lambda p: None) == []


def test_transcript_files_list_parents_before_subagents(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(SHOWCASE, root / "projects" / "-workspace-example-app")
    write(str(root / "projects" / "-p" / "agent-old.jsonl"), [user_line()])
    write(str(root / "projects" / "stray.jsonl"), [user_line()])
    files = list(cc.iter_transcript_files([str(root)]))
    base = str(root / "projects" / "-workspace-example-app" / SHOWCASE_SESSION)
    assert files == [
        (str(root / "projects" / "-p" / "agent-old.jsonl"), "agent-old"),
        (base + ".jsonl", SHOWCASE_SESSION),
        (base + "/subagents/agent-showcol1.jsonl", SHOWCASE_SESSION),
    ]


def test_project_names():
    assert cc.project_from_cwd("/home/u/work/my-app/") == "my-app"
    assert cc.project_from_dir("project-alpha", "/home/u") == "project-alpha"
    assert cc.project_from_dir("-home-u-my-app", "/home/u") == "my-app"
    assert cc.project_from_dir("-srv-build-x", "/home/u") == "srv-build-x"


def test_no_root_is_unknown(tmp_path):
    events, snap = Poller(tmp_path).poll()
    assert events == [] and snap.status == "UNKNOWN"
    assert str(tmp_path / ".claude") in snap.message


# --- real fixtures -------------------------------------------------------------------------------


def test_ccusage_fixture_uses_logged_cost_and_folder_names(tmp_path):
    root = os.path.join(FIXTURES, "ccusage")
    events, snap = Poller(tmp_path, {"CLAUDE_CONFIG_DIR": root}).poll()
    got = [(e.message_id, e.model, e.input_tokens, e.output_tokens, e.cache_write_tokens, e.cache_read_tokens,
            e.cost_usd, e.session_id, e.project, e.requests) for e in events]
    assert got == [
        ("msg-alpha-1:req-alpha-1", "claude-sonnet-4-20250514", 100, 50, 25, 10, 0.12, "session-alpha",
         "project-alpha", 1),
        ("msg-alpha-2:req-alpha-2", "claude-opus-4-20250514", 200, 75, 50, 20, 0.34, "session-alpha",
         "project-alpha", 1),
        ("msg-alpha-3:req-alpha-3", "claude-sonnet-4-20250514", 300, 125, 0, 40, 0.56, "session-alpha",
         "project-alpha", 1),
    ]
    first = events[0]
    assert first.cost_logged_usd == 0.12
    assert first.cost_computed_usd == pytest.approx(
        pricing.compute_cost("claude-sonnet-4-20250514", 100, 50, 10, 25, 0))
    assert first.occurred_at == parse_rfc3339("2026-01-09T10:00:00.000Z")
    assert events[1].raw["usage"]["speed"] == "fast"
    assert snap.status == "OK" and snap.message == "3 messages from 1 file"
    assert snap.extras["messages_new"] == 3 and snap.extras["lines_skipped"] == 0


def test_showcase_fixture_with_subagent_and_mcp_tools(tmp_path):
    root = tmp_path / ".claude"
    shutil.copytree(SHOWCASE, root / "projects" / "-workspace-example-app")
    events, snap = Poller(tmp_path).poll()
    msgs = usage(events)
    assert [e.message_id for e in msgs] == ["msg_sc-a1", "msg_sc-a2", "msg_sc-a3", "msg_sc-a4", "msg_sc-a5",
                                            "msg_showcol1-a1"]
    assert {e.session_id for e in events} == {SHOWCASE_SESSION}
    assert {e.project for e in events} == {"example-app"}
    assert [e.raw["isSidechain"] for e in msgs] == [False] * 5 + [True]
    assert sum(e.input_tokens for e in msgs) == 720 and sum(e.output_tokens for e in msgs) == 240
    mcp = "plugin_showcase_example"
    assert [(e.tool_call_id, e.tool_name, e.mcp_server) for e in tools(events)] == [
        ("toolu_sc_inspect", f"mcp__{mcp}__inspect_repository_structure", mcp),
        ("toolu_sc_refresh", f"mcp__{mcp}__refresh_search_index", mcp),
        ("toolu_sc_wake", "ScheduleWakeup", None),
        ("toolu_sc_showcol1", "Agent", None),
        ("toolu_sc_showcol2", "Agent", None),
    ]
    assert all(e.requests == 0 and e.total_tokens() == 0 for e in tools(events))
    assert snap.message == "6 messages from 2 files"


def test_claude_code_log_fixtures(tmp_path):
    project = tmp_path / ".claude" / "projects" / "-tmp"
    project.mkdir(parents=True)
    for name in ("representative_messages", "edge_cases", "todowrite_examples", "session_b"):
        shutil.copy(os.path.join(FIXTURES, "claude-code-log", name + ".jsonl"), project)
    shutil.copy(os.path.join(FIXTURES, "sessions-chronicle", "sample-session.jsonl"), project)
    events, snap = Poller(tmp_path).poll()
    keys = [e.message_id for e in usage(events)]
    assert keys == [
        "edge_002:req_edge_001", "edge_004:req_edge_002", "edge_009:req_edge_003", "msg_004:req_004",
        "msg_002:req_001", "msg_004:req_002", "msg_006:req_003", "msg_008:req_004", "msg_010:req_005",
        "session_b_002:req_b_001", "msg_001:req_001", "msg_002:req_002", "msg_003:req_003",
        "msg_004:req_004", "msg_005:req_005", "msg_006:req_006"]
    # edge_cases.jsonl carries a copy of a todowrite line: same key, so the store keeps one.
    assert len({e.dedup_key() for e in usage(events)}) == len(keys) - 1
    assert sorted(e.tool_call_id for e in tools(events)) == [
        "tool_001", "tool_002", "tool_edge_001", "tool_edge_002",
        "toolu_todowrite_001", "toolu_todowrite_002", "toolu_todowrite_003"]
    assert {e.project for e in events} == {"tmp"}
    assert {e.session_id for e in events} == {"edge_cases", "todowrite_session", "test_session", "session_b"}
    assert snap.extras["lines_skipped"] == 0 and snap.extras["files"] == 5


def test_raw_keeps_ids_and_usage_never_content(tmp_path):
    line = json.loads(assistant("m1", "r1", content=[{"type": "text", "text": "secret answer text"},
                                                      tool_use("toolu_1", "Bash")], agentId="a7"))
    parsed = cc.parse_line(line)
    blob = json.dumps(parsed.raw)
    assert "secret" not in blob and "command" not in blob
    assert parsed.raw["uuid"] == line["uuid"] and parsed.raw["requestId"] == "r1"
    assert (parsed.raw["message_id"], parsed.raw["version"], parsed.raw["agentId"]) == ("m1", "2.1.2", "a7")
    event = cc.tool_event(parsed, "toolu_1", "Bash", "acc", None, "p")
    assert "command" not in json.dumps(event.raw)


# --- parsing -------------------------------------------------------------------------------------


def test_cache_write_split_and_cost():
    split = {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 6604}
    line = cc.parse_line(json.loads(assistant("m", "r", inp=1, out=7, cache_read=60988, cache_write=6704,
                                              cache_creation=split)))
    assert (line.cache_write_5m_tokens, line.cache_write_1h_tokens) == (100, 6604)
    assert line.cache_write_tokens == 6704
    expected = pricing.compute_cost("claude-sonnet-4-5", 1, 7, 60988, 100, 6604)
    ev = cc.usage_event(line, "acc", None, "p")
    assert ev.cost_usd == pytest.approx(expected) and ev.cost_computed_usd == pytest.approx(expected)
    assert ev.cost_logged_usd is None and ev.cache_write_tokens == 6704


def test_legacy_cache_total_counts_as_5m_when_the_split_is_empty():
    empty = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
    line = cc.parse_line(json.loads(assistant("m", "r", cache_write=500, cache_creation=empty)))
    assert (line.cache_write_5m_tokens, line.cache_write_1h_tokens) == (500, 0)


def test_fast_mode_costs_the_models_multiplier():
    plain = cc.parse_line(json.loads(assistant("m", "r", model="claude-opus-4-6", inp=1000, out=1000)))
    fast_obj = json.loads(assistant("m", "r", model="claude-opus-4-6", inp=1000, out=1000))
    fast_obj["message"]["usage"]["speed"] = "fast"
    fast = cc.parse_line(fast_obj)
    multiplier = pricing.resolve("claude-opus-4-6").price.fast_multiplier
    assert multiplier
    assert cc.compute_line_cost(fast) == pytest.approx(cc.compute_line_cost(plain) * multiplier)


def test_message_key_shapes():
    assert cc.parse_line(json.loads(assistant("m", "r"))).key == "m:r"
    assert cc.parse_line(json.loads(assistant("m", None))).key == "m"
    assert cc.parse_line(json.loads(assistant(None, "r"))).key is None


@pytest.mark.parametrize("raw", [
    b'{"type":"user","message":{"role":"user","content":"what is usage?"}}',
    b'{"type":"summary","summary":"x","leafUuid":"u"}',
    b'"assistant usage"',
    b'{"type":"progress","data":{"message":{"type":"assistant","message":{"usage":{"output_tokens":3}}}}}',
])
def test_lines_that_are_not_usage_are_ignored(raw):
    assert cc.parse_raw_line(raw) is None


def test_rejected_lines_name_their_reason():
    with pytest.raises(cc.SkippedLine) as info:
        cc.parse_raw_line(assistant("m", "r", ts="yesterday").encode())
    assert info.value.reason == "bad_timestamp"
    with pytest.raises(cc.SkippedLine) as info:
        cc.parse_raw_line(assistant("m", "r").encode()[:-20])
    assert info.value.reason == "bad_json"
    with pytest.raises(cc.SkippedLine) as info:
        cc.parse_raw_line(b'{"type":"assistant","message":{"usage":{}}, "x":"\xff\xfe"}')
    assert info.value.reason == "bad_json"


def test_strange_counts_become_zero():
    obj = json.loads(assistant("m", "r"))
    obj["message"]["usage"].update(input_tokens=True, output_tokens=-4, cache_read_input_tokens="9")
    line = cc.parse_line(obj)
    assert (line.input_tokens, line.output_tokens, line.cache_read_tokens) == (0, 0, 0)


# --- polling: dedup, replays, skipped lines ------------------------------------------------------


def test_streaming_copies_emit_the_largest_once(tmp_path):
    path = session_file(tmp_path / ".claude")
    write(path, [
        user_line(),
        assistant("m1", "r1", out=1, cache_read=900, content=[{"type": "thinking", "thinking": "hm"}]),
        assistant("m1", "r1", out=1, cache_read=900, content=[tool_use("toolu_a", "Bash")]),
        assistant("m1", "r1", out=1130, cache_read=900, content=[tool_use("toolu_a", "Bash")]),
        assistant("m1", "r1", out=1, cache_read=900),
        assistant("m2", "r2", out=3),
    ])
    events, snap = Poller(tmp_path).poll()
    assert [(e.message_id, e.output_tokens, e.cache_read_tokens) for e in usage(events)] == [
        ("m1:r1", 1130, 900), ("m2:r2", 3, 0)]
    assert [e.tool_call_id for e in tools(events)] == ["toolu_a"]
    assert snap.message == "2 messages from 1 file"


def test_later_larger_copy_is_emitted_again_on_the_next_poll(tmp_path):
    path = session_file(tmp_path / ".claude")
    poller = Poller(tmp_path)
    write(path, [assistant("m1", "r1", out=1)])
    first, _ = poller.poll()
    write(path, [assistant("m1", "r1", out=400)])
    second, snap = poller.poll()
    assert [(e.message_id, e.output_tokens) for e in first] == [("m1:r1", 1)]
    assert [(e.message_id, e.output_tokens) for e in second] == [("m1:r1", 400)]
    assert first[0].dedup_key() == second[0].dedup_key()
    assert snap.message == "1 message from 1 file"


def test_replayed_message_id_under_a_new_request_is_dropped(tmp_path):
    path = session_file(tmp_path / ".claude")
    poller = Poller(tmp_path)
    write(path, [assistant("m1", "r1", out=50), assistant("m1", "r-btw", out=60, sidechain=True),
                 assistant("m2", "r2")])
    first, snap = poller.poll()
    assert [e.message_id for e in usage(first)] == ["m1:r1", "m2:r2"]
    assert snap.extras["replays_dropped"] == 1
    # A later poll remembers which request came first.
    write(path, [assistant("m1", "r-btw", out=70, sidechain=True), assistant("m1", "r1", out=55)])
    second, snap = poller.poll()
    assert [(e.message_id, e.output_tokens) for e in usage(second)] == [("m1:r1", 55)]
    assert snap.extras["replays_dropped"] == 1 and snap.message == "2 messages from 1 file"


def test_subagent_replay_of_parent_messages_is_dropped(tmp_path):
    root = tmp_path / ".claude"
    parent = session_file(root, "s1")
    side = os.path.join(os.path.dirname(parent), "s1", "subagents", "agent-btw.jsonl")
    poller = Poller(tmp_path)
    write(parent, [assistant("m1", "r1", out=50)])
    poller.poll()
    write(side, [assistant("m1", "r-btw", out=50, sidechain=True), assistant("m9", "r9", sidechain=True)])
    events, snap = poller.poll()
    got = [(e.message_id, e.session_id, e.raw["isSidechain"]) for e in usage(events)]
    assert got == [("m9:r9", "s1", True)]
    assert snap.extras["replays_dropped"] == 1


def test_bad_timestamp_and_bad_json_are_counted_not_fatal(tmp_path):
    path = session_file(tmp_path / ".claude")
    write(path, [
        assistant("m1", "r1", ts="2026-13-45T99:00:00Z"),
        assistant("m2", "r2", ts="not a time"),
        '{"type":"assistant","message":{"usage":{"input_tokens":1',
        "garbage without the words",
        "\x00\x01 binary noise",
        assistant("m3", "r3"),
    ])
    events, snap = Poller(tmp_path).poll()
    assert [e.message_id for e in events] == ["m3:r3"]
    assert snap.extras["skipped_reasons"] == {"bad_timestamp": 2, "bad_json": 1}
    assert snap.extras["lines_skipped"] == 3 and snap.status == "OK"


def test_synthetic_error_lines_are_not_requests(tmp_path):
    path = session_file(tmp_path / ".claude")
    write(path, [assistant("m1", "r1", model="<synthetic>", inp=0, out=0, isApiErrorMessage=True),
                 assistant("m2", "r2")])
    events, _ = Poller(tmp_path).poll()
    assert [e.message_id for e in events] == ["m2:r2"]


def test_lines_without_message_id_use_the_fingerprint(tmp_path):
    path = session_file(tmp_path / ".claude")
    write(path, [assistant(None, "r1", out=5), assistant(None, "r1", out=5, ts="2026-03-01T10:00:01.000Z")])
    events, _ = Poller(tmp_path).poll()
    again, _ = Poller(tmp_path).poll()
    assert [e.message_id for e in events] == [None, None]
    assert len({e.dedup_key() for e in events}) == 2
    assert [e.dedup_key() for e in events] == [e.dedup_key() for e in again]


def test_tool_event_has_the_hook_paths_dedup_key(tmp_path):
    path = session_file(tmp_path / ".claude")
    write(path, [assistant("m1", "r1", content=[tool_use("toolu_01X", "mcp__github__create_issue")])])
    events, _ = Poller(tmp_path).poll()
    hook = {"session_id": "s1", "transcript_path": path, "cwd": "/home/u/work/my-app",
            "hook_event_name": "PostToolUse", "tool_name": "mcp__github__create_issue",
            "tool_input": {}, "tool_use_id": "toolu_01X"}
    from_hook = pipeline.normalize("claude-code", hook, None, 1.0, {})
    tool = tools(events)[0]
    assert tool.dedup_key() == from_hook.dedup_key()
    assert (tool.session_id, tool.project) == (from_hook.session_id, from_hook.project)
    assert tool.mcp_server == from_hook.mcp_server == "github"


# --- polling: incremental reading ----------------------------------------------------------------


def test_growing_file_emits_only_new_messages(tmp_path):
    path = session_file(tmp_path / ".claude")
    poller = Poller(tmp_path)
    write(path, [user_line(), assistant("m1", "r1", content=[tool_use("t1", "Read")]), assistant("m2", "r2")])
    first, _ = poller.poll()
    write(path, [user_line(), assistant("m3", "r3", content=[tool_use("t2", "Edit")])])
    second, snap = poller.poll()
    third, snap3 = poller.poll()
    assert [e.message_id or e.tool_call_id for e in first] == ["t1", "m1:r1", "m2:r2"]
    assert [e.message_id or e.tool_call_id for e in second] == ["t2", "m3:r3"]
    assert snap.message == "3 messages from 1 file" and snap.extras["messages_new"] == 1
    assert third == [] and snap3.extras["files_read"] == 0 and snap3.message == "3 messages from 1 file"


def test_partial_last_line_waits_for_the_next_poll(tmp_path):
    path = session_file(tmp_path / ".claude")
    poller = Poller(tmp_path)
    done, half = assistant("m1", "r1"), assistant("m2", "r2", out=77)
    write(path, [done, half[:40]], newline=False)
    first, snap = poller.poll()
    assert [e.message_id for e in first] == ["m1:r1"] and snap.extras["lines_skipped"] == 0
    write(path, [half[40:]])
    second, snap = poller.poll()
    assert [(e.message_id, e.output_tokens) for e in second] == [("m2:r2", 77)]


def test_replaced_file_is_read_again(tmp_path):
    path = session_file(tmp_path / ".claude")
    poller = Poller(tmp_path)
    write(path, [assistant("m1", "r1"), assistant("m2", "r2")])
    poller.poll()
    tmp = path + ".new"
    write(tmp, [assistant("m1", "r1"), assistant("m5", "r5")], mode="w")
    os.replace(tmp, path)
    events, snap = poller.poll()
    assert [e.message_id for e in events] == ["m1:r1", "m5:r5"]
    assert snap.message == "2 messages from 1 file"


def test_truncated_file_is_read_again_with_fresh_carry_over(tmp_path):
    path = session_file(tmp_path / ".claude")
    poller = Poller(tmp_path)
    write(path, [assistant("m1", "r1"), assistant("m2", "r2"), assistant("m3", "r3")])
    poller.poll()
    # Rewritten shorter in place (same inode): m1 now legitimately under another request.
    write(path, [assistant("m1", "r9")], mode="w")
    events, _ = poller.poll()
    assert [e.message_id for e in events] == ["m1:r9"]


def test_deleted_files_leave_the_state(tmp_path):
    root = tmp_path / ".claude"
    poller = Poller(tmp_path)
    write(session_file(root, "a"), [assistant("m1", "r1")])
    write(session_file(root, "b"), [assistant("m2", "r2")])
    poller.poll()
    os.remove(session_file(root, "a"))
    _, snap = poller.poll()
    assert list(poller.state["files"]) == [session_file(root, "b")]
    assert snap.message == "1 message from 1 file"


def test_cold_file_drops_carry_over_and_is_reread_when_it_grows(tmp_path):
    path = session_file(tmp_path / ".claude")
    poller = Poller(tmp_path)
    write(path, [assistant("m1", "r1"), assistant("m2", "r2")])
    poller.poll()
    later = os.stat(path).st_mtime + cc.COLD_AFTER_SECONDS + 60
    assert poller.poll(now=later)[0] == []
    assert poller.state["files"][path]["ctx"] == {"n": 2, "cold": True}
    write(path, [assistant("m1", "r-btw", sidechain=True), assistant("m3", "r3")])
    events, snap = poller.poll(now=later)
    assert [e.message_id for e in events] == ["m1:r1", "m2:r2", "m3:r3"]
    assert snap.message == "3 messages from 1 file" and snap.extras["replays_dropped"] == 1


def test_state_changed_tells_whether_a_poll_moved_anything(tmp_path):
    root = tmp_path / ".claude"
    poller = Poller(tmp_path)

    def changed(now=None):
        result = poller.fetch(now)
        list(result.events)
        return result.state_changed()

    write(session_file(root, "a"), [assistant("m1", "r1")])
    write(session_file(root, "b"), [assistant("m2", "r2")])
    assert changed() is True  # first read of both files
    assert changed() is False  # nothing appended
    write(session_file(root, "a"), [assistant("m3", "r3")])
    assert changed() is True
    assert changed() is False
    later = os.stat(session_file(root, "a")).st_mtime + cc.COLD_AFTER_SECONDS + 60
    assert changed(later) is True  # idle files cooled
    assert changed(later) is False
    os.remove(session_file(root, "b"))
    assert changed(later) is True  # a file gone from the state


@pytest.mark.parametrize("workers", [False, True])
def test_without_keep_raw_only_id_less_events_carry_a_payload(tmp_path, monkeypatch, workers):
    from openusage.providers.base import make_context

    root = tmp_path / ".claude"
    write(session_file(root, "a"), [assistant("m1", "r1", content=[tool_use("toolu_1", "Bash")]),
                                    assistant(None, None, out=3)])
    if workers:
        monkeypatch.setattr(agent_workers, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(agent_workers, "worker_count", lambda: 1)
    ctx = make_context(PROVIDER, ACCOUNT, {}, home=str(tmp_path), keep_raw=False)
    events = list(PROVIDER.fetch(ACCOUNT, ctx).events)
    by_kind = {(e.event_type, e.message_id is not None): e for e in events}
    assert by_kind[("tool_usage", False)].raw is None
    assert by_kind[("message_usage", True)].raw is None and by_kind[("message_usage", True)].message_id == "m1:r1"
    id_less = by_kind[("message_usage", False)]
    assert id_less.raw["usage"]["output_tokens"] == 3  # its dedup key is its payload's fingerprint
    kept = list(Poller(tmp_path).fetch().events)
    assert all(e.raw is not None for e in kept)


def test_abandoned_poll_does_not_lose_events(tmp_path):
    root = tmp_path / ".claude"
    poller = Poller(tmp_path)
    write(session_file(root, "a"), [assistant("m1", "r1")])
    write(session_file(root, "b"), [assistant("m2", "r2")])
    result = poller.fetch()
    next(result.events)
    result.events.close()  # the consumer failed after the first event
    events, _ = poller.poll()
    # The file being handed over is read again (the store drops the repeat); nothing is skipped.
    assert [e.message_id for e in events] == ["m1:r1", "m2:r2"]


# --- roots ---------------------------------------------------------------------------------------


def test_two_config_dirs_and_nothing_else(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    write(session_file(one, "a"), [assistant("m1", "r1", session="a")])
    write(session_file(two, "b", project="-x-other"), [assistant("m2", "r2", session="b", cwd="/x/other")])
    write(session_file(tmp_path / ".claude", "c"), [assistant("m3", "r3", session="c")])
    events, snap = Poller(tmp_path, {"CLAUDE_CONFIG_DIR": f"{one},{two}"}).poll()
    assert [(e.message_id, e.session_id, e.project) for e in events] == [
        ("m1:r1", "a", "my-app"), ("m2:r2", "b", "other")]
    assert snap.extras["roots"] == [str(one), str(two)] and snap.message == "2 messages from 2 files"


def test_default_roots_read_both_and_a_symlinked_one_once(tmp_path):
    write(session_file(tmp_path / ".claude", "a"), [assistant("m1", "r1")])
    write(session_file(tmp_path / ".config" / "claude", "b"), [assistant("m2", "r2")])
    events, _ = Poller(tmp_path).poll()
    assert [e.message_id for e in events] == ["m1:r1", "m2:r2"]
    shutil.rmtree(tmp_path / ".config" / "claude")
    os.symlink(tmp_path / ".claude", tmp_path / ".config" / "claude")
    events, snap = Poller(tmp_path).poll()
    assert [e.message_id for e in events] == ["m1:r1"] and snap.extras["files"] == 1


def test_events_are_lazy_and_fill_the_snapshot_at_the_end(tmp_path):
    write(session_file(tmp_path / ".claude"), [assistant("m1", "r1"), assistant("m2", "r2")])
    result = Poller(tmp_path).fetch()
    assert inspect.isgenerator(result.events)
    assert result.snapshot.message is None and result.snapshot.status == "OK"
    assert len(list(result.events)) == 2
    extras = result.snapshot.extras
    assert result.snapshot.message == "2 messages from 1 file"
    counts = (extras["files"], extras["files_read"], extras["messages_new"], extras["lines_read"])
    assert counts == (1, 1, 2, 2)
    assert extras["bytes_read"] == os.path.getsize(session_file(tmp_path / ".claude"))


def test_provider_declaration():
    assert (PROVIDER.id, PROVIDER.name, tuple(PROVIDER.source_modes), tuple(PROVIDER.env_vars)) == (
        "claude_code", "Claude Code", ("local",), ("CLAUDE_CONFIG_DIR",))
    assert PROVIDER.emits_events and PROVIDER.default_interval == 30.0
    assert "tools" in PROVIDER.widgets["sections"] and "spend.total" in PROVIDER.widgets["figures"]


# --- through the real store ----------------------------------------------------------------------


def test_store_keeps_one_row_per_message_and_tool_call(tmp_path, store):
    writer, reader = store
    path = session_file(tmp_path / ".claude")
    poller = Poller(tmp_path)
    hook = {"session_id": "s1", "cwd": "/home/u/work/my-app", "hook_event_name": "PostToolUse",
            "tool_name": "Bash", "tool_input": {}, "tool_use_id": "toolu_b"}
    writer.submit_events([pipeline.normalize("claude-code", hook, "claude_code", 1.0, {})]).wait(10)
    write(path, [assistant("m1", "r1", out=1, content=[tool_use("toolu_b", "Bash")])])
    writer.submit_events(list(poller.fetch().events)).wait(10)
    write(path, [assistant("m1", "r1", out=900), assistant("m2", "r2", out=5)])
    writer.submit_events(list(poller.fetch().events)).wait(10)
    rows = reader().execute("SELECT event_type, message_id, tool_call_id, output_tokens FROM event_detail "
                            "ORDER BY event_type, message_id").fetchall()
    assert rows == [("message_usage", "m1:r1", None, 900), ("message_usage", "m2:r2", None, 5),
                    ("tool_usage", None, "toolu_b", 0)]


def test_state_saved_by_a_newer_openusage_is_read_again_and_counted_once(tmp_path, store):
    """A downgrade: cursors of a form this openusage does not know (agents/saved.py) are not trusted."""
    writer, reader = store
    path = session_file(tmp_path / ".claude")
    write(path, [assistant("m1", "r1", out=7, content=[tool_use("toolu_a", "Bash")]), assistant("m2", "r2", out=5)])
    poller = Poller(tmp_path)
    writer.submit_events(list(poller.fetch().events)).wait(10)
    assert poller.state["version"] == 1 and list(poller.fetch().events) == []
    poller.state["version"] = 4
    again = list(poller.fetch().events)
    assert sorted(e.message_id or e.tool_call_id for e in again) == ["m1:r1", "m2:r2", "toolu_a"]
    assert poller.state["version"] == 1
    writer.submit_events(again).wait(10)
    assert reader().execute("SELECT COUNT(*), SUM(output_tokens) FROM event_detail").fetchone() == (3, 12)


# --- large reads on worker processes ---------------------------------------------------------------


def test_a_large_read_on_workers_equals_a_read_in_process(tmp_path, monkeypatch):
    """Same events (in order), cursors and counters whether sessions are parsed here or on workers."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
    import gen_claude

    homes = []
    for name in ("one", "two"):
        home = tmp_path / name
        root = home / ".claude"
        gen_claude.generate(str(root), 1.5, seed=5, now=1_795_000_000.0)
        shutil.copytree(SHOWCASE, root / "projects" / "showcase")  # a subagent file, MCP tools
        # A resumed session repeats tool calls of another file: counted once either way.
        first = sorted((root / "projects").rglob("*.jsonl"))[0]
        (root / "projects" / "showcase" / "resumed.jsonl").write_bytes(first.read_bytes())
        homes.append(home)
    monkeypatch.setattr(agent_workers, "worker_count", lambda: 2)
    grouped = []
    real_groups = cc_collect._session_groups
    monkeypatch.setattr(cc_collect, "_session_groups", lambda *a: grouped.append(1) or real_groups(*a))
    results = []
    for home, threshold in zip(homes, (1 << 40, 0)):  # in process, then on workers
        monkeypatch.setattr(agent_workers, "PARALLEL_MIN_BYTES", threshold)
        poller = Poller(home)
        events, snapshot = poller.poll(now=1_795_000_000.0)
        extras = {k: v for k, v in snapshot.extras.items() if k != "roots"}
        state = json.loads(json.dumps(poller.state).replace(str(home), "HOME"))
        for cursor in state["files"].values():
            del cursor["dev"], cursor["ino"]  # two copies of the data: other inodes
        keys = [(e.dedup_key(), e.occurred_at, e.total_tokens(), e.cost_usd, e.project) for e in events]
        results.append((keys, extras, state, [e.to_dict() for e in events]))  # every field, raw too
        # Nothing new: the next poll reads nothing, in either mode.
        assert list(poller.fetch(now=1_795_000_100.0).events) == []
    assert grouped == [1]  # the second home was read on workers, and only its first poll
    assert results[0][0] == results[1][0]
    assert results[0][1] == results[1][1]
    assert results[0][2] == results[1][2]
    assert results[0][3] == results[1][3]
    assert results[0][1]["tool_calls_new"] > 100 and results[0][1]["messages_new"] > 400
