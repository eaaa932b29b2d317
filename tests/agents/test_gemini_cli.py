import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
import support
from support import tools, usage

from openusage.agents import gemini_cli as gc
from openusage.core import pricing
from openusage.daemon import pipeline
from openusage.providers import REGISTRY
from openusage.providers.base import AccountConfig

FIXTURE_HOME = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "gemini_cli", "home")
MAIN_SID = "7f3c2a91-5d4e-4b1a-9c3f-0e8d6b2a1c47"
SUB_SID = "c0ffee00-1111-4222-8333-444455556666"
LEGACY_SID = "1b2c3d4e-8a9b-4c0d-9e1f-2a3b4c5d6e7f"
MAIN_FILE = os.path.join("webapp", "chats", "session-2026-06-15T10-00-7f3c2a91.jsonl")

PROVIDER = gc.GeminiCLIProvider()
ACCOUNT = AccountConfig(id="gemini_cli", provider="gemini_cli")


# --- helpers -------------------------------------------------------------------------------------


Poller = functools.partial(support.Poller, PROVIDER, ACCOUNT)


def by_key(events):
    return {e.dedup_key(): e for e in events}


def line(obj):
    """One record as Gemini CLI appends it (JSON.stringify: compact)."""
    return json.dumps(obj, separators=(",", ":")) + "\n"


def meta(sid="s1", project_hash="ab" * 32, **extra):
    return dict({"sessionId": sid, "projectHash": project_hash, "startTime": "2026-06-01T09:00:00.000Z",
                 "lastUpdated": "2026-06-01T09:00:00.000Z"}, **extra)


def user(mid, ts="2026-06-01T09:00:01.000Z"):
    return {"id": mid, "timestamp": ts, "type": "user", "content": [{"text": "secret prompt"}]}


def tokens(inp=1000, out=100, cached=0, thoughts=0, tool=0):
    return {"input": inp, "output": out, "cached": cached, "thoughts": thoughts, "tool": tool,
            "total": inp + out + thoughts + tool}


def gemini(mid, tok=None, ts="2026-06-01T09:00:05.000Z", model="gemini-2.5-pro", calls=None):
    rec = {"id": mid, "timestamp": ts, "type": "gemini", "content": "secret answer", "thoughts": [],
           "tokens": tok, "model": model}
    if calls is not None:
        rec["toolCalls"] = calls
    return rec


def call(cid, name="read_file", status="success", ts="2026-06-01T09:00:04.000Z"):
    return {"id": cid, "name": name, "args": {"absolute_path": "/secret/path"}, "status": status, "timestamp": ts,
            "displayName": name, "description": "", "renderOutputAsMarkdown": False}


def chats_dir(home, project="proj"):
    path = os.path.join(str(home), ".gemini", "tmp", project, "chats")
    os.makedirs(path, exist_ok=True)
    return path


def write(path, records, mode="w"):
    with open(path, mode, encoding="utf-8") as fh:
        fh.write("".join(r if isinstance(r, str) else line(r) for r in records))


def copy_fixture_home(home):
    shutil.copytree(os.path.join(FIXTURE_HOME, ".gemini"), os.path.join(str(home), ".gemini"))


def summary(events):
    """What the store keeps of each event, by dedup key."""
    return {e.dedup_key(): (e.occurred_at, e.session_id, e.model, e.input_tokens, e.output_tokens,
                            e.cache_read_tokens, e.reasoning_tokens, e.cost_usd, e.requests, e.tool_name,
                            e.project)
            for e in events}


# --- registry, roots, detection ------------------------------------------------------------------


def test_registered_and_hook_sources_map_to_it():
    assert REGISTRY["gemini_cli"] is not None
    assert REGISTRY["gemini_cli"].name == "Gemini CLI"
    assert pipeline.SOURCE_PROVIDERS["gemini"] == pipeline.SOURCE_PROVIDERS["gemini-cli"] == "gemini_cli"
    desc = PROVIDER.describe()
    assert desc["source_modes"] == ["local"] and desc["env_vars"] == ["GEMINI_CLI_HOME", "GEMINI_DATA_DIR"]
    assert PROVIDER.emits_events
    assert desc["widgets"]["figures"] == ["spend.total", "tokens.total", "tool_calls"]


def test_roots_default_home_and_data_dir(tmp_path):
    env = {}
    assert gc.gemini_roots(env.get, "/h") == ["/h/.gemini/tmp"]
    env = {"GEMINI_CLI_HOME": "/alt"}
    assert gc.gemini_roots(env.get, "/h") == ["/alt/.gemini/tmp"]
    env = {"GEMINI_CLI_HOME": "/alt", "GEMINI_DATA_DIR": " /a/tmp, ~/b ,/a/tmp,"}
    assert gc.gemini_roots(env.get, "/h") == ["/a/tmp", "/h/b"]


def test_detect(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    assert PROVIDER.detect({}, str(home), lambda _: None) == []
    (home / ".gemini").mkdir()
    found = PROVIDER.detect({}, str(home), lambda _: None)
    assert [(a.id, a.provider, a.detected_by) for a in found] == [("gemini_cli", "gemini_cli",
                                                                    str(home / ".gemini"))]
    data = tmp_path / "data"
    data.mkdir()
    found = PROVIDER.detect({"GEMINI_DATA_DIR": f"{tmp_path}/missing,{data}"}, str(tmp_path / "none"),
                            lambda _: None)
    assert [a.detected_by for a in found] == [str(data)]
    alt = tmp_path / "alt"
    (alt / ".gemini").mkdir(parents=True)
    found = PROVIDER.detect({"GEMINI_CLI_HOME": str(alt)}, str(tmp_path / "none"), lambda _: None)
    assert [a.detected_by for a in found] == [str(alt / ".gemini")]


def test_no_root_is_unknown(tmp_path):
    events, snap = Poller(tmp_path).poll()
    assert events == [] and snap.status == "UNKNOWN"
    assert str(tmp_path / ".gemini" / "tmp") in snap.message


def test_data_dir_roots_are_all_read(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write(_chat(a, "p1", "s.jsonl"), [meta("s1"), gemini("g1", tokens())])
    write(_chat(b, "p2", "s.jsonl"), [meta("s2"), gemini("g1", tokens())])
    events, snap = Poller(tmp_path / "home", {"GEMINI_DATA_DIR": f"{a},{b}"}).poll()
    assert sorted(e.message_id for e in usage(events)) == ["s1:g1", "s2:g1"]
    assert sorted(e.project for e in events) == ["p1", "p2"]
    assert snap.extras["roots"] == [str(a), str(b)]


def _chat(root, project, name):
    path = os.path.join(str(root), project, "chats")
    os.makedirs(path, exist_ok=True)
    return os.path.join(path, name)


# --- the hand-written fixture tree ----------------------------------------------------------------


def test_fixture_tree(tmp_path):
    copy_fixture_home(tmp_path)
    events, snap = Poller(tmp_path).poll()
    msgs = {e.message_id: e for e in usage(events)}
    assert len(msgs) == len(usage(events)) == 10
    main = {k for k in msgs if k.startswith(MAIN_SID + ":")}
    sub = {k for k in msgs if k.startswith(SUB_SID + ":")}
    legacy = {k for k in msgs if k.startswith(LEGACY_SID + ":")}
    # Main: g1..g6 with the rewound g3 kept; the checkpoint's synthetic summary has no tokens.
    assert (len(main), len(sub), len(legacy)) == (6, 2, 2)
    assert {msgs[k].session_id for k in main | sub} == {MAIN_SID}  # subagent usage books to its parent
    assert {msgs[k].session_id for k in legacy} == {LEGACY_SID}
    assert {msgs[k].project for k in main | sub} == {"webapp"}  # slug folder with a .project_root marker
    assert {msgs[k].project for k in legacy} == {"legacy-api"}  # legacy sha256 folder, via projects.json
    assert all(msgs[k].raw["kind"] == "subagent" and msgs[k].raw["parentSessionId"] == MAIN_SID for k in sub)

    g1 = msgs[MAIN_SID + ":3e5b7c90-1a2b-4c3d-8e4f-5a6b7c8d9e01"]
    assert (g1.input_tokens, g1.cache_read_tokens, g1.output_tokens, g1.reasoning_tokens) == (8421, 0, 496, 384)
    assert g1.cost_usd == pytest.approx(8421 * 1.25e-6 + 496 * 10e-6)
    g3 = msgs[MAIN_SID + ":6b8eafc3-4d5e-4f60-b172-8d9e0f1a2b34"]  # rewound after its tokens arrived
    assert (g3.input_tokens, g3.cache_read_tokens, g3.output_tokens) == (9800 - 8192, 8192, 1310 + 512)
    g6 = msgs[MAIN_SID + ":c2e40529-a3b4-45c6-97d8-4d5e6f708192"]
    assert (g6.model, g6.input_tokens, g6.output_tokens) == ("gemini-3-pro-preview", 4200 + 57, 310 + 220)
    assert g6.total_tokens() == g6.raw["tokens"]["total"] == 4787
    assert all(e.total_tokens() == e.raw["tokens"]["total"] for e in msgs.values())
    assert all(e.cost_usd is not None and e.cost_usd == e.cost_computed_usd and e.requests == 1
               for e in msgs.values())

    assert sorted((e.tool_name, e.session_id) for e in tools(events)) == [
        ("glob", MAIN_SID), ("google_web_search", MAIN_SID), ("read_file", MAIN_SID), ("replace", MAIN_SID),
        ("run_shell_command", MAIN_SID), ("write_file", LEGACY_SID)]
    shell = next(e for e in tools(events) if e.tool_name == "run_shell_command")
    assert shell.tool_call_id == "run_shell_command-1781517609771-3f9a1c" and shell.requests == 0
    assert snap.status == "OK" and snap.message == "10 messages from 3 files"
    assert snap.extras["checkpoints_read"] == 1 and snap.extras["rewinds_read"] == 1
    assert snap.extras["tool_calls_new"] == 6 and snap.extras["lines_skipped"] == 0
    # Nothing a prompt, answer, path or tool output said is kept.
    blob = json.dumps([e.to_dict() for e in events])
    for secret in ("failing tests", "npm test", "src/cart.ts", "Working out", "FAIL"):
        assert secret not in blob

    poller = Poller(tmp_path)  # a second poll of the same state reads nothing
    poller.poll()
    again, snap2 = poller.poll()
    assert again == [] and snap2.extras["bytes_read"] == 0 and snap2.extras["messages_total"] == 10


# --- parsing and token mapping ---------------------------------------------------------------------


def test_token_mapping():
    t = gc.parse_tokens({"input": 12, "output": 71, "cached": 4, "thoughts": 89, "tool": 65, "total": 237})
    msg = gc.GeminiMessage(id="m", occurred_at=0.0, model="gemini-2.5-flash", tokens=t)
    ev = gc.message_event(msg, "gemini_cli", gc.Scope("s", "s", "p", False))
    # input includes cached; tool-use prompt tokens are counted apart from it; thoughts are output.
    assert (ev.input_tokens, ev.cache_read_tokens, ev.cache_write_tokens) == (12 - 4 + 65, 4, 0)
    assert (ev.output_tokens, ev.reasoning_tokens) == (71 + 89, 89)
    assert ev.total_tokens() == 237
    assert ev.cost_usd == pytest.approx(pricing.compute_cost("gemini-2.5-flash", 73, 160, 4))
    assert ev.message_id == "s:m" and ev.session_id == "s" and ev.requests == 1
    clamped = gc.parse_tokens({"input": 5, "output": -3, "cached": 9, "thoughts": "x", "total": 5})
    assert (clamped.fresh_input, clamped.billed_output, clamped.cached) == (0, 0, 9)
    assert gc.parse_tokens(None) is None and gc.parse_tokens([1]) is None


def test_prices_resolve_and_long_context_tier_applies():
    for model in ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-3-pro-preview"):
        assert pricing.resolve(model) is not None, model
    big = gc.parse_tokens({"input": 250_000, "output": 1_000, "cached": 0, "thoughts": 0, "total": 251_000})
    small = gc.parse_tokens({"input": 150_000, "output": 1_000, "cached": 0, "thoughts": 0, "total": 151_000})
    big_cost = gc.compute_message_cost("gemini-2.5-pro", big)
    assert big_cost == pytest.approx(pricing.compute_cost("gemini-2.5-pro", 250_000, 1_000))
    assert big_cost > gc.compute_message_cost("gemini-2.5-pro", small) * 250 / 150 * 1.5
    assert gc.compute_message_cost(None, big) is None


def test_parse_message_ignores_what_carries_no_usage():
    assert gc.parse_message(user("u")) is None
    assert gc.parse_message(gemini("g", None)) is None  # tokens not there yet
    assert gc.parse_message({"type": "gemini", "tokens": tokens()}) is None  # no id
    with pytest.raises(gc.SkippedLine) as exc:
        gc.parse_message(gemini("g", tokens(), ts="yesterday"))
    assert exc.value.reason == "bad_timestamp"
    msg = gc.parse_message(gemini("g", None, calls=[call("c1"), {"id": "c2"}, "x"]))
    assert [c.id for c in msg.tool_calls] == ["c1"] and msg.tokens is None


# --- JSONL semantics -------------------------------------------------------------------------------


def test_repeated_ids_emit_once_when_tokens_arrive(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-a.jsonl")
    write(path, [meta(), user("u1"), gemini("g1", None), {"$set": {"lastUpdated": "2026-06-01T09:00:06Z"}}])
    poller = Poller(tmp_path)
    events, _ = poller.poll()
    assert events == []
    write(path, [gemini("g1", tokens(2000, 50, 1024, 10))], "a")
    events, _ = poller.poll()
    assert [(e.message_id, e.input_tokens, e.cache_read_tokens, e.output_tokens) for e in usage(events)] == [
        ("s1:g1", 976, 1024, 60)]
    # Tool calls added later re-append g1 with the same tokens: only the new tool call is an event.
    write(path, [gemini("g1", tokens(2000, 50, 1024, 10), calls=[call("c1", status="executing")]),
                 gemini("g1", tokens(2000, 50, 1024, 10), calls=[call("c1")])], "a")
    events, snap = poller.poll()
    assert [(e.event_type, e.tool_call_id, e.raw["status"]) for e in events] == [("tool_usage", "c1", "executing")]
    assert snap.extras["messages_total"] == 1


def test_tokens_queued_onto_a_tool_call_message(tmp_path):
    """recordToolCalls makes a new gemini message that carries the queued tokens in its first record."""
    path = os.path.join(chats_dir(tmp_path), "session-a.jsonl")
    rec = {"id": "g1", "timestamp": "2026-06-01T09:00:05.000Z", "type": "gemini", "content": "",
           "toolCalls": [call("c1", "run_shell_command", "executing")], "thoughts": [], "model": "gemini-2.5-pro",
           "tokens": tokens(300, 20)}
    write(path, [meta(), user("u1"), rec])
    events, _ = Poller(tmp_path).poll()
    assert [(e.event_type, e.message_id or e.tool_call_id) for e in events] == [
        ("tool_usage", "c1"), ("message_usage", "s1:g1")]


def test_later_tokens_win_through_the_store(tmp_path, store):
    writer, reader = store
    path = os.path.join(chats_dir(tmp_path), "session-a.jsonl")
    write(path, [meta(), gemini("g1", tokens(1000, 100, 200)), gemini("g2", tokens(500, 5))])
    poller = Poller(tmp_path)
    writer.submit_events(poller.poll()[0]).wait(10)
    # Not something Gemini CLI writes today, but if an id comes back with other numbers the last one counts:
    # g1 shrinks its input and grows its output, g2 moves to another model.
    write(path, [gemini("g1", tokens(1200, 90, 400, 30)), gemini("g2", tokens(400, 5), model="gemini-2.5-flash"),
                 gemini("g1", tokens(1200, 90, 400, 30), calls=[call("c1")])], "a")
    events, snap = poller.poll()
    assert sorted(e.message_id for e in usage(events)) == ["s1:g1#r1", "s1:g2#r1", "s1:g2#r1-"]
    assert all(e.requests == 0 for e in usage(events)) and snap.extras["corrections_new"] == 2
    writer.submit_events(events).wait(10)
    # Read again from the start (a cleared cache): the same keys with the same numbers, all duplicates.
    again = Poller(tmp_path).poll()[0]
    assert summary(again) == summary(poller_events_so_far(tmp_path, path))
    writer.submit_events(again).wait(10)

    final = [gc.parse_tokens(tokens(1200, 90, 400, 30)), gc.parse_tokens(tokens(400, 5))]
    conn = reader()
    row = conn.execute("SELECT SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), "
                       "SUM(reasoning_tokens), SUM(requests), SUM(cost_usd), COUNT(*) FROM event_detail "
                       "WHERE event_type='message_usage'").fetchone()
    assert row[:5] == (sum(t.fresh_input for t in final), sum(t.billed_output for t in final),
                       sum(t.cached for t in final), 30, 2)
    assert row[5] == pytest.approx(gc.compute_message_cost("gemini-2.5-pro", final[0])
                                   + gc.compute_message_cost("gemini-2.5-flash", final[1]))
    assert row[6] == 5
    per_model = dict(conn.execute("SELECT model, SUM(input_tokens) FROM event_detail WHERE event_type='message_usage' "
                                  "GROUP BY model").fetchall())
    assert per_model == {"gemini-2.5-pro": final[0].fresh_input, "gemini-2.5-flash": final[1].fresh_input}


def poller_events_so_far(home, path):
    """The events of two polls split at the first version, as the test above produced them."""
    with open(path, "rb") as fh:
        data = fh.read()
    cut = data.index(b'{"id":"g1"', data.index(b'{"id":"g2"'))
    with open(path, "wb") as fh:
        fh.write(data[:cut])
    poller = Poller(home)
    events = poller.poll()[0]
    with open(path, "ab") as fh:
        fh.write(data[cut:])
    return events + poller.poll()[0]


def test_state_saved_in_the_positional_form_of_version_1_reads_on(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-a.jsonl")
    write(path, [meta(), gemini("g1", tokens(1000, 100, 200)), gemini("g2", tokens(500, 5))])
    poller = Poller(tmp_path)
    poller.poll()
    cursor = poller.state["files"][path]
    # What openusage saved before the state had a version: the project hash as `ph`, each message as
    # [input, output, cached, thoughts, tool, model, revision].
    old_form = json.loads(json.dumps(poller.state))
    del old_form["version"]
    old_form["files"][path]["ctx"]["ph"] = old_form["files"][path]["ctx"].pop("project_hash")
    old_form["files"][path]["ctx"]["emitted"] = {"g1": [1000, 100, 200, 0, 0, "gemini-2.5-pro", 2],
                                                 "g2": [500, 5, 0, 0, 0, "gemini-2.5-pro", 0]}
    assert cursor["ctx"]["emitted"]["g2"] == {"input": 500, "output": 5, "cached": 0, "thoughts": 0, "tool": 0,
                                              "model": "gemini-2.5-pro", "rev": 0}
    write(path, [gemini("g1", tokens(1200, 90, 400, 30)), gemini("g2", tokens(500, 5))], "a")
    upgraded = Poller(tmp_path)
    upgraded.state = old_form
    events, snap = upgraded.poll()
    # g1 was corrected twice before: the next correction is the third, against the numbers saved; g2 is unchanged.
    assert [e.message_id for e in usage(events)] == ["s1:g1#r3"]
    assert (usage(events)[0].input_tokens, usage(events)[0].output_tokens) == (
        gc.parse_tokens(tokens(1200, 90, 400, 30)).fresh_input - 800, 20)
    assert snap.extras["corrections_new"] == 1
    assert upgraded.state["version"] == 2
    assert upgraded.state["files"][path]["ctx"]["emitted"]["g1"]["rev"] == 3
    assert upgraded.state["files"][path]["ctx"]["project_hash"] == "ab" * 32
    assert "ph" not in upgraded.state["files"][path]["ctx"]


def test_state_of_a_newer_form_is_read_again_from_the_start(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-a.jsonl")
    write(path, [meta(), gemini("g1", tokens(1000, 100))])
    poller = Poller(tmp_path)
    first = poller.poll()[0]
    poller.state["version"] = 99
    again = poller.poll()[0]
    assert summary(again) == summary(first) and poller.state["version"] == 2


def test_set_checkpoint_replays_the_same_ids(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-a.jsonl")
    g1 = gemini("g1", tokens(1000, 10), calls=[call("c1")])
    g2 = gemini("g2", tokens(2000, 20))
    write(path, [meta(), user("u1"), g1, user("u2"), g2, {"$set": {"summary": "only metadata"}},
                 {"$set": {"messages": [user("sum"), g1, g2, gemini("g0", tokens(70, 7)), "junk"],
                           "lastUpdated": "2026-06-01T09:10:00.000Z"}},
                 user("u3"), gemini("g3", tokens(3000, 30))])
    events, snap = Poller(tmp_path).poll()
    # The checkpoint repeats g1, g2 and c1 (counted once); a message only it holds is counted.
    assert sorted(e.message_id for e in usage(events)) == ["s1:g0", "s1:g1", "s1:g2", "s1:g3"]
    assert [e.tool_call_id for e in tools(events)] == ["c1"]
    assert snap.extras["checkpoints_read"] == 1


def test_rewind_keeps_spent_tokens(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-a.jsonl")
    write(path, [meta(), user("u1"), gemini("g1", tokens(100, 1)), user("u2"), gemini("g2", None)])
    poller = Poller(tmp_path)
    first, _ = poller.poll()
    write(path, [gemini("g2", tokens(200, 2)), {"$rewindTo": "u2"}, user("u2b"), gemini("g2b", tokens(300, 3))],
          "a")
    second, snap = poller.poll()
    assert [e.message_id for e in usage(first)] == ["s1:g1"]
    assert [e.message_id for e in usage(second)] == ["s1:g2", "s1:g2b"]
    assert snap.extras["rewinds_read"] == 1 and snap.extras["messages_total"] == 3


def test_subagent_file(tmp_path):
    chats = chats_dir(tmp_path, "slug")
    write(os.path.join(chats, "session-2026-06-01T09-00-parent00.jsonl"),
          [meta("parent00-full"), gemini("g1", tokens(100, 1))])
    os.makedirs(os.path.join(chats, "parent00-full"))
    # Subagent message ids may repeat the parent's: keys are scoped by the file's own session id.
    write(os.path.join(chats, "parent00-full", "child-1.jsonl"),
          [meta("child-1", kind="subagent", directories=["/w/slug"]), user("t"),
           gemini("g1", tokens(40, 4), model="gemini-2.5-flash", calls=[call("cc1", "glob")])])
    events, _ = Poller(tmp_path).poll()
    assert sorted((e.message_id, e.session_id, e.model) for e in usage(events)) == [
        ("child-1:g1", "parent00-full", "gemini-2.5-flash"), ("parent00-full:g1", "parent00-full", "gemini-2.5-pro")]
    [tool] = tools(events)
    assert (tool.session_id, tool.raw["sessionId"], tool.raw["kind"]) == ("parent00-full", "child-1", "subagent")


def test_missing_metadata_falls_back_to_the_file_name(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-2026-06-01T09-00-abcd1234.jsonl")
    write(path, ['{"sessionId": broken\n', gemini("g1", tokens())])
    poller = Poller(tmp_path)
    events, snap = poller.poll()
    assert [e.message_id for e in usage(events)] == ["session-2026-06-01T09-00-abcd1234:g1"]
    assert snap.extras["skipped_reasons"] == {"bad_json": 1}
    write(path, [gemini("g2", tokens())], "a")
    events, _ = poller.poll()
    assert [e.message_id for e in events] == ["session-2026-06-01T09-00-abcd1234:g2"]  # stays stable


# --- legacy JSON -----------------------------------------------------------------------------------


def legacy_doc(messages, sid="L1"):
    return json.dumps({"sessionId": sid, "projectHash": "cd" * 32, "startTime": "2025-09-01T08:00:00.000Z",
                       "lastUpdated": "2025-09-01T08:05:00.000Z", "messages": messages}, indent=2)


def test_legacy_json_rewritten_in_place(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-2025-09-01T08-00-L1.json")
    with open(path, "w") as fh:
        fh.write(legacy_doc([user("u1"), gemini("g1", None, calls=[call("c1")])]))
    poller = Poller(tmp_path)
    events, _ = poller.poll()
    assert [e.event_type for e in events] == ["tool_usage"]
    ino = os.stat(path).st_ino
    with open(path, "r+") as fh:  # writeFileSync: same file, new content
        fh.truncate(0)
        fh.write(legacy_doc([user("u1"), gemini("g1", tokens(900, 9), calls=[call("c1")]), user("u2"),
                             gemini("g2", tokens(800, 8))]))
    assert os.stat(path).st_ino == ino
    events, snap = poller.poll()
    assert sorted(e.message_id for e in events) == ["L1:g1", "L1:g2"]
    assert snap.extras["messages_total"] == 2
    events, snap = poller.poll()
    assert events == [] and snap.extras["bytes_read"] == 0 and snap.extras["files_read"] == 0
    with open(path, "w") as fh:  # only the current copy is on disk: a change is the same key again
        fh.write(legacy_doc([user("u1"), gemini("g1", tokens(900, 9), calls=[call("c1")]), user("u2"),
                             gemini("g2", tokens(800, 80))]))
    events, snap = poller.poll()
    assert [(e.message_id, e.output_tokens) for e in events] == [("L1:g2", 80)]
    assert snap.extras["corrections_new"] == 1 and snap.extras["messages_total"] == 2


def test_legacy_json_with_a_jsonl_continuation_is_read_once(tmp_path):
    chats = chats_dir(tmp_path)
    legacy = os.path.join(chats, "session-2025-09-01T08-00-L1.json")
    with open(legacy, "w") as fh:
        fh.write(legacy_doc([user("u1"), gemini("g1", tokens(900, 9))]))
    poller = Poller(tmp_path)
    first, _ = poller.poll()
    # Resumed: the CLI copies the whole record into `<name>l` and appends there from then on.
    write(legacy + "l", [meta("L1", "cd" * 32), user("u1"), gemini("g1", tokens(900, 9)), user("u2"),
                         gemini("g2", tokens(100, 1))])
    second, snap = poller.poll()
    assert [e.dedup_key() for e in usage(first)] == [e.dedup_key() for e in usage(second)][:1]
    assert [e.message_id for e in usage(second)] == ["L1:g1", "L1:g2"]  # g1 again: the store drops it
    assert snap.extras["files"] == 1 and list(poller.state["files"]) == [legacy + "l"]


def test_bad_legacy_json_is_counted_and_retried_only_when_changed(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-x.json")
    with open(path, "w") as fh:
        fh.write('{"sessionId": "L1", "messages": [')
    poller = Poller(tmp_path)
    events, snap = poller.poll()
    assert events == [] and snap.extras["skipped_reasons"] == {"bad_json": 1}
    _, snap = poller.poll()
    assert snap.extras["lines_skipped"] == 0
    with open(path, "w") as fh:
        fh.write(json.dumps({"not": "a session"}))
    _, snap = poller.poll()
    assert snap.extras["skipped_reasons"] == {"not_a_session": 1}


# --- incremental reading ---------------------------------------------------------------------------


def test_incremental_growth_equals_one_shot(tmp_path):
    """The fixture session appended in odd-sized pieces (cut mid-line) ends as one full read does."""
    with open(os.path.join(FIXTURE_HOME, ".gemini", "tmp", MAIN_FILE), "rb") as fh:
        data = fh.read()
    whole_home, grow_home = tmp_path / "whole", tmp_path / "grow"
    for home in (whole_home, grow_home):
        os.makedirs(os.path.dirname(os.path.join(str(home), ".gemini", "tmp", MAIN_FILE)))
    with open(os.path.join(str(whole_home), ".gemini", "tmp", MAIN_FILE), "wb") as fh:
        fh.write(data)
    once, _ = Poller(whole_home).poll()

    target = os.path.join(str(grow_home), ".gemini", "tmp", MAIN_FILE)
    poller = Poller(grow_home)
    grown = []
    polls = 0
    for start in range(0, len(data), 397):
        with open(target, "ab") as fh:
            fh.write(data[start:start + 397])
        events, _ = poller.poll()
        grown.extend(events)
        polls += 1
    assert polls > 20
    assert len(grown) == len(once) == len(by_key(grown))
    assert summary(grown) == summary(once)


def test_partial_last_line_waits(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-a.jsonl")
    record = line(gemini("g1", tokens()))
    write(path, [meta(), record[:40]])
    poller = Poller(tmp_path)
    events, snap = poller.poll()
    assert events == [] and snap.extras["lines_skipped"] == 0
    offset = poller.state["files"][path]["offset"]
    assert offset == len(line(meta()))
    write(path, [record[40:]], "a")
    events, _ = poller.poll()
    assert [e.message_id for e in events] == ["s1:g1"]


def test_truncated_or_replaced_file_is_read_again(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-a.jsonl")
    write(path, [meta(), gemini("g1", tokens()), gemini("g2", tokens(5000, 50))])
    poller = Poller(tmp_path)
    poller.poll()
    write(path, [meta(), gemini("g1", tokens())])  # shorter: truncated and rewritten
    events, _ = poller.poll()
    assert [e.message_id for e in usage(events)] == ["s1:g1"]  # same key again: the store drops it
    os.replace(_replacement(path), path)  # another inode
    events, _ = poller.poll()
    assert [e.message_id for e in usage(events)] == ["s1:g1", "s1:g9"]


def _replacement(path):
    other = path + ".new"
    write(other, [meta(), gemini("g1", tokens()), gemini("g9", tokens(10, 1))])
    return other


def test_bad_lines_are_counted_never_fatal(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-a.jsonl")
    write(path, [meta(), '{"id":"gx","type":"gemini","tok\n', '["gemini"]\n', '\n', '   \n',
                 gemini("g1", tokens(), ts="not a time")])
    with open(path, "ab") as fh:
        fh.write(b'{"id":"g\xff\xfe","type":"gemini"}\n')  # not UTF-8
    write(path, [user("u1"), gemini("g2", tokens()), '{"$rewindTo": 5}\n', '{"$set": "x"}\n',
                 {"unknown": "record", "gemini": True}], "a")
    events, snap = Poller(tmp_path).poll()
    assert [e.message_id for e in events] == ["s1:g2"]
    assert snap.extras["skipped_reasons"] == {"bad_json": 2, "not_an_object": 1, "bad_timestamp": 1}
    assert snap.status == "OK"


def test_vanished_file_is_forgotten(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-a.jsonl")
    write(path, [meta(), gemini("g1", tokens())])
    poller = Poller(tmp_path)
    poller.poll()
    os.remove(path)
    events, snap = poller.poll()
    assert events == [] and poller.state["files"] == {} and snap.extras["messages_total"] == 0


def test_cold_file_drops_its_carry_over_and_starts_over(tmp_path):
    path = os.path.join(chats_dir(tmp_path), "session-a.jsonl")
    write(path, [meta(), gemini("g1", tokens(), calls=[call("c1")])])
    poller = Poller(tmp_path)
    poller.poll()
    mtime = os.stat(path).st_mtime
    poller.poll(now=mtime + gc.COLD_AFTER_SECONDS + 10)
    assert poller.state["files"][path]["ctx"] == {"n": 1, "cold": True}
    write(path, [gemini("g2", tokens())], "a")
    events, _ = poller.poll(now=mtime + gc.COLD_AFTER_SECONDS + 20)
    # Read from the start: the earlier keys come again (the store keeps one of each).
    assert sorted(e.dedup_key() for e in events) == sorted(
        ["gemini_cli|tool_usage|tc:c1", "gemini_cli|message_usage|msg:s1:g1", "gemini_cli|message_usage|msg:s1:g2"])


# --- project names ---------------------------------------------------------------------------------


def test_project_names(tmp_path):
    gem = tmp_path / ".gemini"
    root = gem / "tmp"
    (root / "shop").mkdir(parents=True)
    (root / "marked").mkdir()
    (root / "marked" / ".project_root").write_text("/src/marked-app\n")
    (gem / "projects.json").write_text(json.dumps({"projects": {"/src/shop-app": "shop", "/src/old": "old",
                                                                 7: "bad"}}))
    names = gc.ProjectNames([str(root)])
    old_hash = hashlib.sha256(b"/src/old").hexdigest()
    assert names.name(str(root), "shop") == "shop-app"
    assert names.name(str(root), old_hash) == "old"
    assert names.name(str(root), "marked") == "marked-app"
    assert names.name(str(root), "unknown-slug") == "unknown-slug"
    assert names.name(str(root), "f" * 64) == "f" * 12
    assert names.name(str(root), "f" * 64, project_hash=old_hash) == "old"
    (gem / "projects.json").write_text("{not json")
    assert gc.ProjectNames([str(root)]).name(str(root), "shop") == "shop"


# --- end to end through the CLI --------------------------------------------------------------------


def _run(args, home):
    env = dict(os.environ, HOME=str(home))
    done = subprocess.run([sys.executable, "-m", "openusage", *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _fixture_totals():
    events, _ = Poller(FIXTURE_HOME).poll()
    msgs = usage(events)
    return {
        "input": sum(e.input_tokens for e in msgs), "output": sum(e.output_tokens for e in msgs),
        "cache_read": sum(e.cache_read_tokens for e in msgs), "reasoning": sum(e.reasoning_tokens for e in msgs),
        "total": sum(e.raw["tokens"]["total"] for e in msgs), "cost": sum(e.cost_usd for e in msgs),
        "requests": len(msgs), "tools": len(tools(events)),
    }


def test_cli_usage_end_to_end(isolated_home):
    copy_fixture_home(isolated_home)
    expected = _fixture_totals()
    assert expected["total"] == 76325 and expected["requests"] == 10
    snap = _run(["usage", "--provider", "gemini_cli", "--json", "--window", "all"], isolated_home)["snapshots"][
        "gemini_cli"]
    assert snap["status"] == "OK" and snap["message"] == "10 messages from 3 files"
    tok = snap["tokens"]
    assert (tok["input"], tok["output"], tok["cache_read"], tok["reasoning"], tok["total"]) == (
        expected["input"], expected["output"], expected["cache_read"], expected["reasoning"], expected["total"])
    assert snap["spend"]["total"] == pytest.approx(expected["cost"], abs=1e-5)
    assert snap["tool_calls"] == expected["tools"] == 6
    assert {m["model"] for m in snap["models"]} == {"gemini-2.5-pro", "gemini-2.5-flash", "gemini-3-pro-preview"}
    assert sum(m["requests"] for m in snap["models"]) == 10
    assert {p["name"] for p in snap["projects"]} == {"webapp", "legacy-api"}
    assert {s["name"] for s in snap["sessions"]} == {MAIN_SID, LEGACY_SID}


def test_cli_daily_report_direct(isolated_home):
    copy_fixture_home(isolated_home)
    expected = _fixture_totals()
    report = _run(["daily", "--source", "direct", "--provider", "gemini_cli", "--json", "--timezone", "UTC"],
                  isolated_home)
    assert [d["date"] for d in report["daily"]] == ["2025-09-01", "2026-06-15"]
    totals = report["totals"]
    assert (totals["input_tokens"], totals["output_tokens"], totals["cache_read_tokens"],
            totals["total_tokens"]) == (expected["input"], expected["output"], expected["cache_read"],
                                        expected["total"])
    assert totals["cost_usd"] == pytest.approx(expected["cost"], abs=1e-5)
    # A second run reads only what was appended (nothing): same report.
    assert _run(["daily", "--source", "direct", "--provider", "gemini_cli", "--json", "--timezone", "UTC"],
                isolated_home)["totals"] == totals
