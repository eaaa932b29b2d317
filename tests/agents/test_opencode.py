import functools
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest
import support
from support import tools, usage, wait_for

from openusage.agents import opencode as oc
from openusage.core import pricing
from openusage.daemon import client, pipeline
from openusage.providers import REGISTRY
from openusage.providers.base import AccountConfig
from openusage.store import db

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "opencode", "storage")
TOKSCALE = os.path.join(FIXTURES, "tokscale")
SESSION_TUI = os.path.join(FIXTURES, "opencode-session-tui")

PROVIDER = oc.OpenCodeProvider()
ACCOUNT = AccountConfig(id="opencode", provider="opencode")

# OpenCode's tables as its drizzle migrations create them (FORMATS-REFERENCE.md section E).
SCHEMA = """
CREATE TABLE `project` (`id` text PRIMARY KEY, `worktree` text NOT NULL, `vcs` text, `name` text,
  `time_created` integer NOT NULL, `time_updated` integer NOT NULL, `sandboxes` text NOT NULL);
CREATE TABLE `session` (`id` text PRIMARY KEY, `project_id` text NOT NULL, `parent_id` text, `slug` text NOT NULL,
  `directory` text NOT NULL, `title` text NOT NULL, `version` text NOT NULL, `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL);
CREATE TABLE `message` (`id` text PRIMARY KEY, `session_id` text NOT NULL, `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL, `data` text NOT NULL);
CREATE TABLE `part` (`id` text PRIMARY KEY, `message_id` text NOT NULL, `session_id` text NOT NULL,
  `time_created` integer NOT NULL, `time_updated` integer NOT NULL, `data` text NOT NULL);
CREATE INDEX `message_session_time_created_id_idx` ON `message` (`session_id`,`time_created`,`id`);
CREATE INDEX `part_message_id_id_idx` ON `part` (`message_id`,`id`);
CREATE INDEX `part_session_idx` ON `part` (`session_id`);
CREATE INDEX `session_project_idx` ON `session` (`project_id`);
"""


# --- helpers -------------------------------------------------------------------------------------


class OpenCodeDB:
    """An OpenCode database written as OpenCode writes it: WAL mode, the writer kept open."""

    def __init__(self, path):
        self.path = str(path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        assert self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        self.conn.executescript(SCHEMA)
        self.clock = 1_764_000_000_000

    def tick(self):
        self.clock += 1
        return self.clock

    def session(self, sid, directory, project="proj_1"):
        now = self.tick()
        self.conn.execute("INSERT OR REPLACE INTO session VALUES (?,?,?,?,?,?,?,?,?)",
                          (sid, project, None, sid, directory, "title", "1.2.0", now, now))

    def message(self, info, updated=None):
        """Insert or update a message row; the data column holds the JSON without the ids."""
        data = {k: v for k, v in info.items() if k not in ("id", "sessionID")}
        created = (info.get("time") or {}).get("created") or self.clock
        self.upsert("message", (info["id"], info["sessionID"], created, updated or self.tick(),
                                json.dumps(data, separators=(",", ":"))))

    def part(self, part, message_id, session_id, updated=None):
        data = {k: v for k, v in part.items() if k not in ("id", "sessionID", "messageID")}
        self.upsert("part", (part["id"], message_id, session_id, self.clock, updated or self.tick(),
                             json.dumps(data, separators=(",", ":"))))

    def raw_message(self, mid, sid, data, updated=None):
        self.upsert("message", (mid, sid, self.clock, updated or self.tick(), data))

    def upsert(self, table, values):
        cols = "(id, session_id, time_created, time_updated, data)" if table == "message" else \
            "(id, message_id, session_id, time_created, time_updated, data)"
        marks = ",".join("?" * len(values))
        self.conn.execute(f"INSERT INTO {table} {cols} VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET "
                          "time_updated=excluded.time_updated, data=excluded.data", values)

    def close(self):
        self.conn.close()


Poller = functools.partial(support.Poller, PROVIDER, ACCOUNT)


def fixture(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as fh:
        return json.load(fh)


def assistant(mid, session="ses_1", created=1_764_000_000_000, completed=1_764_000_005_000, inp=100, out=50,
              reasoning=0, cache_read=0, cache_write=0, cost=0.0, model="claude-sonnet-4-5", root="/w/my-app",
              **extra):
    info = {"id": mid, "sessionID": session, "role": "assistant", "parentID": "msg_user",
            "modelID": model, "providerID": "anthropic", "mode": "build", "path": {"cwd": root, "root": root},
            "cost": cost, "time": {"created": created},
            "tokens": {"input": inp, "output": out, "reasoning": reasoning,
                       "cache": {"read": cache_read, "write": cache_write}}}
    if completed is not None:
        info["time"]["completed"] = completed
    info.update(extra)
    return info


def tool_part(pid, call_id, tool="bash", status="completed", start=1_764_000_001_000):
    return {"id": pid, "type": "tool", "tool": tool, "callID": call_id,
            "state": {"status": status, "input": {"command": "ls"}, "output": "secret output",
                      "time": {"start": start, "end": start + 500}}}


def legacy_tree(data_dir, *sources):
    storage = os.path.join(str(data_dir), "storage")
    for source in sources:
        shutil.copytree(source, storage, dirs_exist_ok=True)
    return storage


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh)


def env_for(data_dir):
    return {"OPENCODE_DATA_DIR": str(data_dir)}


# --- declaration, directories, detection --------------------------------------------------------


def test_provider_declaration():
    assert (PROVIDER.id, PROVIDER.name, tuple(PROVIDER.source_modes)) == ("opencode", "OpenCode", ("local",))
    assert PROVIDER.env_vars[0] == "OPENCODE_DATA_DIR"
    assert PROVIDER.emits_events and REGISTRY["opencode"] is not None
    assert "tools" in PROVIDER.widgets["sections"] and "spend.total" in PROVIDER.widgets["figures"]


def test_data_dirs_follow_the_environment(tmp_path):
    home = str(tmp_path)
    base = os.path.join(home, ".local", "share", "opencode")
    assert oc.data_dirs({}.get, home)[:4] == [base, base + "-canary", base + "-beta", base + "-nightly"]
    xdg = oc.data_dirs({"XDG_DATA_HOME": "/x/data"}.get, home)
    assert xdg[0] == "/x/data/opencode" and xdg[1] == "/x/data/opencode-canary"
    assert oc.data_dirs({"OPENCODE_DATA_DIR": "~/oc", "XDG_DATA_HOME": "/x"}.get, home) == [os.path.join(home, "oc")]


def test_detect_finds_a_data_dir_or_a_channel_sibling(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "share")}
    assert PROVIDER.detect(env, str(tmp_path), lambda _: None) == []
    os.makedirs(tmp_path / "share" / "opencode-beta")
    found = PROVIDER.detect(env, str(tmp_path), lambda _: None)
    assert [(a.id, a.provider, a.detected_by) for a in found] == [
        ("opencode", "opencode", str(tmp_path / "share" / "opencode-beta"))]


def test_no_data_dir_is_unknown(tmp_path):
    events, snap = Poller(tmp_path, env_for(tmp_path / "missing")).poll()
    assert events == [] and snap.status == "UNKNOWN" and "missing" in snap.message


def test_default_dir_under_xdg_data_home(tmp_path):
    share = tmp_path / "share"
    legacy_tree(share / "opencode", TOKSCALE)
    events, snap = Poller(tmp_path, {"XDG_DATA_HOME": str(share)}).poll()
    assert [e.message_id for e in events] == ["msg_test001"] and snap.status == "OK"


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tokens, expected", [
    # OpenCode (since #21047) keeps reasoning beside output: both count as output, once
    ({"input": 10, "output": 5, "reasoning": 3, "cache": {"read": 100, "write": 7}}, (10, 8, 3, 100, 7)),
    ({"total": 125, "input": 10, "output": 5, "reasoning": 3, "cache": {"read": 100, "write": 7}},
     (10, 8, 3, 100, 7)),
    # older OpenAI-style records: total = input + cache + output, reasoning already inside output
    ({"total": 122, "input": 10, "output": 5, "reasoning": 3, "cache": {"read": 100, "write": 7}},
     (10, 5, 3, 100, 7)),
    ({"input": 10, "output": 5, "reasoning": 0, "cache": {"read": 1}}, (10, 5, 0, 1, 0)),
    # what OpenCode sometimes stores: negative output (provider reported reasoning > completion), floats
    ({"input": -1, "output": -46, "reasoning": 60, "cache": None}, (0, 60, 60, 0, 0)),
    ({"input": 2.5, "output": "9", "reasoning": True, "cache": {"read": float("nan")}}, (3, 0, 0, 0, 0)),
])
def test_token_mapping(tokens, expected):
    assert oc.normalize_tokens(tokens) == expected


def test_parse_message_fields_and_raw_keep_no_content():
    info = assistant("msg_1", inp=10, out=5, reasoning=2, cost=0.25, finish="stop", variant="max",
                     error={"name": "MessageAbortedError", "data": {"message": "secret"}}, summary={"body": "x"})
    msg = oc.parse_message(info)
    assert (msg.id, msg.session_id, msg.parent_id, msg.model, msg.upstream_provider, msg.project) == (
        "msg_1", "ses_1", "msg_user", "claude-sonnet-4-5", "anthropic", "my-app")
    assert (msg.output_tokens, msg.reasoning_tokens, msg.cost_logged, msg.final) == (7, 2, 0.25, True)
    assert msg.occurred_at == 1_764_000_005.0
    raw = json.dumps(msg.raw)
    assert "secret" not in raw and "MessageAbortedError" in raw and '"mode": "build"' in raw
    assert oc.parse_message({"role": "user", "id": "msg_u", "time": {"created": 1}}) is None


def test_parse_message_takes_ids_from_the_row_and_the_project_from_cwd():
    data = {"role": "assistant", "time": {"created": 5}, "tokens": {}, "path": {"root": "/", "cwd": "C:\\w\\app"}}
    msg = oc.parse_message(data, "msg_row", "ses_row")
    assert (msg.id, msg.session_id, msg.project, msg.final, msg.has_usage()) == (
        "msg_row", "ses_row", "app", False, False)


@pytest.mark.parametrize("obj, reason", [
    ([], "bad_record"),
    ({"role": "assistant", "time": {"created": 1}}, "no_id"),
    ({"role": "assistant", "id": "m", "time": {"created": 1, "completed": "soon"}}, "bad_timestamp"),
    ({"role": "assistant", "id": "m"}, "bad_timestamp"),
])
def test_rejected_messages_name_their_reason(obj, reason):
    with pytest.raises(oc.SkippedRecord) as info:
        oc.parse_message(obj)
    assert info.value.reason == reason


def test_tool_parts():
    call = oc.parse_tool_part(tool_part("prt_1", "call_1", tool="mcp__github__search"))
    assert (call.call_id, call.name, call.status, call.part_id, call.started_ms) == (
        "call_1", "mcp__github__search", "completed", "prt_1", 1_764_000_001_000)
    assert oc.parse_tool_part(tool_part("prt_1", "call_1", status="running")) is None
    assert oc.parse_tool_part({"type": "text", "text": "hi"}) is None
    legacy = fixture(SESSION_TUI, "part", "msg_assistant_01", "part_tool_01.json")
    assert oc.parse_tool_part(legacy).call_id == "part_tool_01"  # no callID in that fixture: the part id


# --- legacy JSON files ---------------------------------------------------------------------------


def test_tokscale_fixture_maps_tokens_and_prices_the_model(tmp_path):
    legacy_tree(tmp_path / "oc", TOKSCALE)
    events, snap = Poller(tmp_path, env_for(tmp_path / "oc")).poll()
    (ev,) = events
    assert (ev.provider_id, ev.account_id, ev.source, ev.event_type) == ("opencode", "opencode", "opencode",
                                                                          "message_usage")
    assert (ev.message_id, ev.session_id, ev.model, ev.occurred_at) == (
        "msg_test001", "ses_test001", "claude-3-5-sonnet-20241022", 1733011260.0)
    assert (ev.input_tokens, ev.output_tokens, ev.cache_read_tokens, ev.cache_write_tokens, ev.reasoning_tokens) == (
        1000, 500, 200, 100, 0)
    computed = pricing.compute_cost("claude-3-5-sonnet-20241022", 1000, 500, 200, 100)
    assert computed and ev.cost_computed_usd == computed and ev.cost_usd == computed and ev.cost_logged_usd is None
    assert ev.raw["providerID"] == "anthropic" and ev.raw["source"] == "file" and ev.requests == 1
    assert snap.status == "OK" and snap.message == "1 message in 1 session (1 new)"
    assert (snap.extras["files"], snap.extras["files_read"], snap.extras["messages_new"]) == (1, 1, 1)


def test_session_tui_fixture_waits_for_completion_then_counts_message_and_tool(tmp_path):
    storage = legacy_tree(tmp_path / "oc", SESSION_TUI)
    poller = Poller(tmp_path, env_for(tmp_path / "oc"))
    events, snap = poller.poll()
    assert events == [] and snap.extras["messages_waiting"] == 1  # streamed, no time.completed yet
    assert snap.message == "2 messages in 1 session; 1 in progress"
    assert poller.poll()[0] == []
    # OpenCode rewrites the message file while streaming; the last write has time.completed
    path = os.path.join(storage, "message", "session_add_tests", "msg_assistant_01.json")
    info = fixture(path)
    info["time"]["completed"] = info["time"]["created"] + 4000
    write_json(path, info)
    events, snap = poller.poll()
    (msg,), (tool,) = usage(events), tools(events)
    assert (msg.message_id, msg.turn_id, msg.session_id, msg.occurred_at) == (
        "msg_assistant_01", "msg_user_01", "session_add_tests", 1704240204.0)
    assert (msg.input_tokens, msg.output_tokens, msg.reasoning_tokens, msg.cache_read_tokens,
            msg.cache_write_tokens) == (150, 85, 10, 50, 25)
    assert msg.project == "my-present-project"  # no path in the message: the session's directory
    assert msg.model is None and msg.cost_usd is None
    assert (tool.tool_call_id, tool.tool_name, tool.session_id, tool.project, tool.occurred_at) == (
        "part_tool_01", "Read", "session_add_tests", "my-present-project", 1704240204.0)
    assert snap.extras["messages_waiting"] == 0 and snap.extras["files_read"] == 1
    assert poller.poll()[0] == []


def test_legacy_message_superseded_by_a_later_one_counts(tmp_path):
    storage = legacy_tree(tmp_path / "oc")
    poller = Poller(tmp_path, env_for(tmp_path / "oc"))
    first = assistant("msg_a", completed=None, inp=30, out=3)
    write_json(os.path.join(storage, "message", "ses_1", "msg_a.json"), first)
    assert poller.poll()[0] == []
    write_json(os.path.join(storage, "message", "ses_1", "msg_b.json"),
               assistant("msg_b", created=1_764_000_009_000, completed=1_764_000_010_000))
    events, snap = poller.poll()
    assert sorted(e.message_id for e in events) == ["msg_a", "msg_b"]
    stale = next(e for e in events if e.message_id == "msg_a")
    assert stale.occurred_at == 1_764_000_000.0 and stale.input_tokens == 30
    assert snap.extras["messages_superseded"] == 1 and snap.extras["messages_waiting"] == 0


def test_bad_and_vanishing_legacy_files_are_counted_not_fatal(tmp_path):
    storage = legacy_tree(tmp_path / "oc", TOKSCALE)
    broken = os.path.join(storage, "message", "ses_x", "msg_half.json")
    os.makedirs(os.path.dirname(broken))
    with open(broken, "w") as fh:
        fh.write('{"id": "msg_half", "role": "assis')
    poller = Poller(tmp_path, env_for(tmp_path / "oc"))
    events, snap = poller.poll()
    assert [e.message_id for e in events] == ["msg_test001"]
    assert snap.extras["skipped_reasons"] == {"bad_json": 1}
    # a half-written file is not remembered: once complete it is read
    write_json(broken, assistant("msg_half", session="ses_x"))
    events, snap = poller.poll()
    assert [e.message_id for e in events] == ["msg_half"] and snap.extras["skipped"] == 0
    os.remove(broken)
    assert poller.poll()[0] == [] and broken not in poller.state["files"]


# --- SQLite --------------------------------------------------------------------------------------


def fixture_database(path):
    """The fixture messages and parts as rows of a database OpenCode is writing."""
    store = OpenCodeDB(path)
    store.session("session_add_tests", "/work/my-present-project")
    store.message(fixture(TOKSCALE, "message", "test-project", "msg_test001.json"))
    done = fixture(SESSION_TUI, "message", "session_add_tests", "msg_assistant_01.json")
    done["time"]["completed"] = done["time"]["created"] + 4000
    store.message(done)
    store.message(fixture(SESSION_TUI, "message", "session_add_tests", "msg_user_01.json"))
    for name in ("part_tool_01", "part_subtask_01", "part_text_02"):
        store.part(fixture(SESSION_TUI, "part", "msg_assistant_01", name + ".json"), "msg_assistant_01",
                   "session_add_tests")
    return store


def test_database_in_wal_mode_is_read_without_touching_its_directory(tmp_path):
    data_dir = tmp_path / "oc"
    store = fixture_database(data_dir / "opencode.db")
    assert os.path.exists(store.path + "-wal")  # OpenCode is "running"
    before = sorted(os.listdir(data_dir))
    events, snap = Poller(tmp_path, env_for(data_dir)).poll()
    assert sorted(os.listdir(data_dir)) == before
    assert sorted(e.message_id for e in usage(events)) == ["msg_assistant_01", "msg_test001"]
    (tool,) = tools(events)
    assert (tool.tool_call_id, tool.tool_name, tool.project) == ("part_tool_01", "Read", "my-present-project")
    tui = next(e for e in events if e.message_id == "msg_assistant_01")
    assert tui.raw["source"] == "db" and (tui.session_id, tui.output_tokens) == ("session_add_tests", 85)
    assert snap.extras["dbs"] == [store.path] and snap.extras["rows_read"] == 3
    store.close()


def test_closed_database_is_opened_immutable_and_no_file_is_created(tmp_path):
    data_dir = tmp_path / "oc"
    fixture_database(data_dir / "opencode.db").close()  # the last connection checkpoints and drops the -wal
    assert sorted(os.listdir(data_dir)) == ["opencode.db"]
    events, snap = Poller(tmp_path, env_for(data_dir)).poll()
    assert len(usage(events)) == 2 and snap.extras["dbs_failed"] == 0
    assert sorted(os.listdir(data_dir)) == ["opencode.db"]


def test_incremental_polls_read_only_new_rows(tmp_path):
    store = OpenCodeDB(tmp_path / "oc" / "opencode.db")
    store.message(assistant("msg_1"))
    poller = Poller(tmp_path, env_for(tmp_path / "oc"))
    events, snap = poller.poll()
    assert [e.message_id for e in events] == ["msg_1"] and snap.extras["rows_read"] == 1
    events, snap = poller.poll()
    assert events == [] and snap.extras["rows_read"] == 0
    store.message({"id": "msg_u2", "sessionID": "ses_1", "role": "user", "time": {"created": 1}})
    store.message(assistant("msg_2", created=1_764_000_010_000, completed=1_764_000_011_000))
    events, snap = poller.poll()
    assert [e.message_id for e in events] == ["msg_2"] and snap.extras["rows_read"] == 2
    assert poller.poll()[0] == []
    store.close()


def test_state_saved_by_a_newer_openusage_is_read_again_and_counted_once(tmp_path, store):
    """A downgrade: cursors of a form this openusage does not know (agents/saved.py) are not trusted."""
    writer, reader = store
    db = OpenCodeDB(tmp_path / "oc" / "opencode.db")
    db.message(assistant("msg_1"))
    db.message(assistant("msg_2", created=1_764_000_010_000, completed=1_764_000_011_000))
    poller = Poller(tmp_path, env_for(tmp_path / "oc"))
    writer.submit_events(poller.poll()[0]).wait(10)
    assert poller.state["version"] == 1 and poller.poll()[0] == []
    poller.state["version"] = 3
    again, snap = poller.poll()
    assert sorted(e.message_id for e in again) == ["msg_1", "msg_2"] and snap.extras["rows_read"] == 2
    assert poller.state["version"] == 1
    writer.submit_events(again).wait(10)
    assert reader().execute("SELECT COUNT(*) FROM event_detail").fetchone() == (2,)
    db.close()


def test_rows_sharing_the_cursor_millisecond_are_each_read_once(tmp_path):
    store = OpenCodeDB(tmp_path / "oc" / "opencode.db")
    store.message(assistant("msg_1"), updated=500)
    poller = Poller(tmp_path, env_for(tmp_path / "oc"))
    assert [e.message_id for e in poller.poll()[0]] == ["msg_1"]
    store.message(assistant("msg_2"), updated=500)  # committed later within the same millisecond
    assert [e.message_id for e in poller.poll()[0]] == ["msg_2"]
    assert poller.poll()[0] == []
    store.close()


def test_message_completed_later_is_emitted_once_with_its_tools(tmp_path):
    store = OpenCodeDB(tmp_path / "oc" / "opencode.db")
    store.session("ses_1", "/w/my-app")
    streaming = assistant("msg_1", completed=None, inp=100, out=0)
    store.message(streaming)
    store.part(tool_part("prt_1", "call_1", status="running"), "msg_1", "ses_1")
    poller = Poller(tmp_path, env_for(tmp_path / "oc"))
    events, snap = poller.poll()
    assert events == [] and snap.extras["messages_waiting"] == 1
    assert poller.state["pending"]["msg_1"]["db"] == store.path
    store.part(tool_part("prt_1", "call_1"), "msg_1", "ses_1")
    store.part(tool_part("prt_2", "call_2", tool="read"), "msg_1", "ses_1")
    store.message(assistant("msg_1", inp=100, out=80, reasoning=20, cache_read=5000, cost=0.5))
    events, snap = poller.poll()
    (msg,) = usage(events)
    assert (msg.output_tokens, msg.reasoning_tokens, msg.cache_read_tokens) == (100, 20, 5000)
    assert (msg.cost_usd, msg.cost_logged_usd) == (0.5, 0.5) and msg.cost_computed_usd is not None
    assert sorted((t.tool_call_id, t.tool_name) for t in tools(events)) == [("call_1", "bash"), ("call_2", "read")]
    assert snap.extras["messages_waiting"] == 0 and snap.extras["tool_calls_new"] == 2
    assert poller.poll()[0] == []
    store.close()


def test_completion_is_found_even_when_time_updated_did_not_move(tmp_path):
    store = OpenCodeDB(tmp_path / "oc" / "opencode.db")
    store.message(assistant("msg_1", completed=None), updated=700)
    poller = Poller(tmp_path, env_for(tmp_path / "oc"))
    assert poller.poll()[0] == []
    store.message(assistant("msg_1"), updated=700)
    assert [e.message_id for e in poller.poll()[0]] == ["msg_1"]
    store.close()


def test_database_message_superseded_by_a_later_one_counts(tmp_path):
    store = OpenCodeDB(tmp_path / "oc" / "opencode.db")
    store.message(assistant("msg_a", completed=None, inp=9))
    poller = Poller(tmp_path, env_for(tmp_path / "oc"))
    assert poller.poll()[0] == []
    store.message(assistant("msg_b", created=1_764_000_020_000, completed=1_764_000_021_000))
    events, snap = poller.poll()
    assert sorted(e.message_id for e in events) == ["msg_a", "msg_b"] and snap.extras["messages_superseded"] == 1
    assert poller.poll()[0] == []
    store.close()


def test_bad_rows_are_counted_and_the_rest_is_read(tmp_path):
    store = OpenCodeDB(tmp_path / "oc" / "opencode.db")
    store.raw_message("msg_bad", "ses_1", "{not json")
    store.raw_message("msg_list", "ses_1", "[1, 2]")
    store.raw_message("msg_time", "ses_1", json.dumps({"role": "assistant", "time": {"completed": "x"}}))
    store.raw_message("msg_bytes", "ses_1", b"\xff\xfe")
    store.message(assistant("msg_ok"))
    store.part({"id": "prt_bad", "type": "tool"}, "msg_ok", "ses_1")
    store.conn.execute("UPDATE part SET data = '{\"tool\"' WHERE id = 'prt_bad'")
    events, snap = Poller(tmp_path, env_for(tmp_path / "oc")).poll()
    assert [e.message_id for e in events] == ["msg_ok"]
    assert snap.extras["skipped_reasons"] == {"bad_json": 2, "bad_record": 1, "bad_timestamp": 1,
                                              "part_bad_json": 1}
    store.close()


def test_a_database_that_is_not_opencodes_is_counted_and_kept_for_later(tmp_path):
    data_dir = tmp_path / "oc"
    os.makedirs(data_dir)
    sqlite3.connect(str(data_dir / "opencode.db")).close()  # created, migrations not run yet
    legacy_tree(data_dir, TOKSCALE)
    events, snap = Poller(tmp_path, env_for(data_dir)).poll()
    assert [e.message_id for e in events] == ["msg_test001"]
    assert snap.extras["dbs_failed"] == 1 and snap.extras["dbs"] == [] and snap.status == "OK"


def test_reverted_turn_deletes_the_newest_rows_without_a_full_reread(tmp_path):
    store = OpenCodeDB(tmp_path / "oc" / "opencode.db")
    store.message(assistant("msg_1"))
    store.message(assistant("msg_2"))
    poller = Poller(tmp_path, env_for(tmp_path / "oc"))
    assert len(poller.poll()[0]) == 2
    store.conn.execute("DELETE FROM message WHERE id = 'msg_2'")  # /undo removes the last turn
    events, snap = poller.poll()
    assert events == [] and snap.extras["rows_read"] == 0
    store.message(assistant("msg_3"))
    assert [e.message_id for e in poller.poll()[0]] == ["msg_3"]
    store.close()


def test_replaced_database_is_read_from_the_start(tmp_path):
    path = tmp_path / "oc" / "opencode.db"
    store = OpenCodeDB(path)
    store.message(assistant("msg_1"), updated=900)
    store.close()
    poller = Poller(tmp_path, env_for(tmp_path / "oc"))
    assert len(poller.poll()[0]) == 1
    os.remove(path)
    store = OpenCodeDB(path)
    store.message(assistant("msg_9"), updated=10)  # older than the old cursor, but a new file
    store.close()
    assert [e.message_id for e in poller.poll()[0]] == ["msg_9"]


def test_channel_databases_and_sibling_dirs_are_all_read(tmp_path):
    share = tmp_path / "share"
    stores = [OpenCodeDB(share / "opencode" / "opencode.db"), OpenCodeDB(share / "opencode" / "opencode-dev.db"),
              OpenCodeDB(share / "opencode-canary" / "opencode.db")]
    for i, store in enumerate(stores):
        store.message(assistant(f"msg_{i}"))
    events, snap = Poller(tmp_path, {"XDG_DATA_HOME": str(share)}).poll()
    assert sorted(e.message_id for e in events) == ["msg_0", "msg_1", "msg_2"] and len(snap.extras["dbs"]) == 3
    for store in stores:
        store.close()


def test_database_row_wins_over_a_legacy_file_with_the_same_id(tmp_path):
    data_dir = tmp_path / "oc"
    store = OpenCodeDB(data_dir / "opencode.db")
    store.message(assistant("msg_1", out=70))
    storage = legacy_tree(data_dir)
    write_json(os.path.join(storage, "message", "ses_1", "msg_1.json"), assistant("msg_1", out=60))
    write_json(os.path.join(storage, "message", "ses_1", "msg_2.json"), assistant("msg_2"))
    poller = Poller(tmp_path, env_for(data_dir))
    events, snap = poller.poll()
    assert sorted((e.message_id, e.output_tokens, e.raw["source"]) for e in events) == [
        ("msg_1", 70, "db"), ("msg_2", 50, "file")]
    assert snap.extras["legacy_in_db"] == 1
    assert poller.poll()[0] == []
    store.close()


def test_the_tile_line_counts_what_the_database_holds_after_the_first_poll(tmp_path):
    data_dir = tmp_path / "oc"
    store = fixture_database(data_dir / "opencode.db")
    poller = Poller(tmp_path, env_for(data_dir))
    _, snap = poller.poll()
    assert snap.message == "3 messages in 2 sessions (2 new)"
    _, snap = poller.poll()
    assert snap.message == "3 messages in 2 sessions"  # not "0 new messages": nothing changed
    assert (snap.extras["messages_total"], snap.extras["sessions_total"], snap.extras["messages_new"]) == (3, 2, 0)
    store.message(assistant("msg_more", session="ses_new"))
    _, snap = poller.poll()
    assert snap.message == "4 messages in 3 sessions (1 new)"
    store.close()


def test_abandoned_poll_does_not_advance_the_cursor(tmp_path):
    store = OpenCodeDB(tmp_path / "oc" / "opencode.db")
    store.message(assistant("msg_1"))
    store.message(assistant("msg_2"))
    poller = Poller(tmp_path, env_for(tmp_path / "oc"))
    stream = poller.fetch().events
    next(stream)
    stream.close()
    assert poller.state == {"version": 1}  # its form only: no cursor moved
    assert len(poller.poll()[0]) == 2
    store.close()


def test_hook_payload_and_collector_event_share_the_dedup_key():
    info = assistant("msg_1", cost=0.2)
    payload = {"event_type": "message_usage", "provider_id": "opencode", "upstream_provider": "anthropic",
               "message_id": "msg_1", "session_id": "ses_1", "model": "claude-sonnet-4-5",
               "input_tokens": 100, "output_tokens": 50, "occurred_at": 1_764_000_005_000}
    hook = pipeline.normalize("opencode", payload, None, 1.0, {"anthropic": "claude_code"})
    msg = oc.parse_message(info)
    ev = oc.usage_event(msg, "opencode", msg.project, "db")
    assert (hook.provider_id, hook.account_id) == ("opencode", "opencode")
    assert hook.dedup_key() == ev.dedup_key() == "opencode|message_usage|msg:msg_1"
    tool_hook = pipeline.normalize("opencode", {"event_type": "tool_usage", "provider_id": "opencode",
                                                "tool_call_id": "call_1", "tool_name": "bash"}, None, 1.0, {})
    call = oc.parse_tool_part(tool_part("prt_1", "call_1"))
    assert tool_hook.dedup_key() == oc.tool_event(call, msg, "opencode", "my-app").dedup_key()


# --- end to end ----------------------------------------------------------------------------------


def test_hook_and_collector_count_a_message_once_in_the_daemon(daemon_factory, tmp_path, monkeypatch):
    data_dir = tmp_path / "oc"
    store = OpenCodeDB(data_dir / "opencode.db")
    store.session("ses_1", "/w/my-app")
    store.message(assistant("msg_1", inp=100, out=50, reasoning=7, cache_read=1000, cost=0.0123))
    store.part(tool_part("prt_1", "call_1"), "msg_1", "ses_1")
    store.message(assistant("msg_2", created=1_764_000_030_000, completed=1_764_000_031_000))
    monkeypatch.setenv("OPENCODE_DATA_DIR", str(data_dir))
    # The messages are of November 2025: keep their event rows (the daemon prunes past retention at start).
    settings = tmp_path / "home" / ".config" / "openusage" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"data": {"retention_days": 3650}}))
    d = daemon_factory().start()
    # what the plugin sends for msg_1 and its tool call (tests/integrations runs the real plugin)
    hook = [{"event_type": "message_usage", "provider_id": "opencode", "upstream_provider": "anthropic",
             "model": "claude-sonnet-4-5", "session_id": "ses_1", "turn_id": "msg_user", "message_id": "msg_1",
             "input_tokens": 100, "output_tokens": 57, "reasoning_tokens": 7, "cache_read_tokens": 1000,
             "cache_write_tokens": 0, "cost_usd": 0.0123, "project": "my-app", "occurred_at": 1_764_000_005_000},
            {"event_type": "tool_usage", "provider_id": "opencode", "tool_name": "bash", "tool_call_id": "call_1",
             "session_id": "ses_1", "occurred_at": 1_764_000_002_000}]
    status, _ = client.request(d.socket_path, "POST", "/v1/hook/opencode", json.dumps(hook).encode())
    assert status == 200
    dbfile = os.path.join(d.state_dir, "telemetry.db")

    def rows():
        conn = db.connect(dbfile, readonly=True)
        try:
            return conn.execute("SELECT provider_id, event_type, COALESCE(message_id, tool_call_id), source, "
                                "output_tokens FROM event_detail ORDER BY 2, 3").fetchall()
        finally:
            conn.close()

    # msg_2 only the collector knows: once it is stored, the collector has read msg_1 and call_1 too
    assert wait_for(lambda: any(r[2] == "msg_2" for r in rows()), 30)
    assert wait_for(lambda: client.call_json(d.socket_path, "GET", "/healthz")["duplicates_dropped"] >= 2, 30)
    assert [tuple(r) for r in rows()] == [("opencode", "message_usage", "msg_1", "opencode", 57),
                                          ("opencode", "message_usage", "msg_2", "opencode", 50),
                                          ("opencode", "tool_usage", "call_1", "opencode", 0)]
    model = client.call_json(d.socket_path, "POST", "/v1/read-model", {"window": "all"})
    snap = model["snapshots"]["opencode"]
    assert snap["tool_calls"] == 1 and snap["tokens"]["output"] == 107
    store.close()


def test_usage_command_reads_opencode_end_to_end(tmp_path):
    data_dir = tmp_path / "oc"
    store = OpenCodeDB(data_dir / "opencode.db")
    store.session("ses_1", "/w/my-app")
    store.message(assistant("msg_1", inp=100, out=50, reasoning=7, cache_read=1000, cache_write=20, cost=0.0123))
    store.part(tool_part("prt_1", "call_1", tool="mcp__github__search"), "msg_1", "ses_1")
    store.close()
    legacy_tree(data_dir, TOKSCALE)
    env = dict(os.environ, OPENCODE_DATA_DIR=str(data_dir))
    proc = subprocess.run([sys.executable, "-m", "openusage", "usage", "--provider", "opencode", "--json",
                           "--window", "all"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    snap = json.loads(proc.stdout)["snapshots"]["opencode"]
    assert snap["status"] == "OK" and snap["display_name"] == "OpenCode"
    assert snap["tokens"]["input"] == 1100 and snap["tokens"]["output"] == 557
    assert snap["tokens"]["cache_read"] == 1200 and snap["tokens"]["cache_write"] == 120
    assert snap["tool_calls"] == 1 and snap["mcp_servers"] == [{"name": "github", "calls": 1}]
    assert sorted(m["model"] for m in snap["models"]) == ["claude-3-5-sonnet-20241022", "claude-sonnet-4-5"]
    assert snap["extras"]["messages_new"] == 2 and snap["extras"]["dbs"] == [str(data_dir / "opencode.db")]
