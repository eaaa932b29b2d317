"""Mux: each workspace's chat files as Mux writes them (fixture: tests/fixtures/mux, PROVENANCE.md there)."""
import json
import os
import shutil
import subprocess
import sys

import pytest
from agentcase import FIXTURES, event_totals, install, poller, store_events, totals
from support import usage

from openusage.agents import mux
from openusage.agents.files import Found
from openusage.agents.records import Skip
from openusage.providers import REGISTRY

A, B, CHILD = "a1b2c3d4e5", "9f8e7d6c5b", "f0e1d2c3b4"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FOUND = Found(f"/h/.mux/sessions/{A}/chat.jsonl", "/h/.mux", ("sessions", A), "chat.jsonl")
# The rest of the fixture chat's last line, the message Mux was writing when the fixture was taken.
REST = ('thropic:claude-sonnet-4-5","usage":{"inputTokens":900,"outputTokens":90,"totalTokens":990,'
        '"cachedInputTokens":0},"duration":4210,"mode":"exec","thinkingLevel":"medium"}}')
# The fixture per UTC day and model: (tokens, cost in USD; None = unpriced), worked out by hand from the
# chat lines (PROVENANCE.md lists them; costs are the table's list prices of them); session-usage.json
# adds nothing.
EXPECTED = {
    ("2026-11-30", "claude-sonnet-4-5"): (12600 + 5400 + 20800 + 4000 + 2000, 0.1149),
    ("2026-11-30", "gpt-5-mini"): (3500, 0.001525),
    ("2026-11-30", "claude-haiku-4-5"): (4250, 0.00525),
    ("2026-11-30", "qwen3:30b-a3b"): (2620, None),
    ("2026-12-01", "claude-sonnet-4-5"): (21300 + 7, 0.0135021),
    ("2026-12-01", "claude-haiku-4-5"): (920, 0.001),
    ("2026-12-01", "gpt-5-codex"): (10900, 0.01475),
}


@pytest.fixture(autouse=True)
def utc(zone):
    zone("UTC")


def sessions(home, *parts):
    return os.path.join(str(home), ".mux", "sessions", *parts)


def assistant(mid, stamp, model, usage_, **metadata):
    return {"id": mid, "role": "assistant", "parts": [],
            "metadata": dict({"timestamp": stamp, "model": model, "usage": usage_}, **metadata)}


def test_model_keys_lose_their_provider_only():
    assert mux.model_name("anthropic:claude-sonnet-4-5") == "claude-sonnet-4-5"
    assert mux.model_name("claude-sonnet-4-5") == "claude-sonnet-4-5"
    assert mux.model_name("ollama:qwen3:30b-a3b") == "qwen3:30b-a3b"  # split once, on the first ":"
    assert mux.model_name("openai: ") is None and mux.model_name("") is None and mux.model_name(7) is None


def test_usage_is_fresh_input_and_output_with_reasoning_inside():
    got = mux.tokens({"inputTokens": 20000, "cachedInputTokens": 15000, "outputTokens": 800, "reasoningTokens": 200},
                     {"anthropic": {"cacheCreationInputTokens": 1000}})
    assert got == {"input_tokens": 4000, "output_tokens": 800, "cache_read_tokens": 15000,
                   "cache_write_tokens": 1000, "reasoning_tokens": 200}
    # OpenAI's reasoning from provider metadata when the usage has none; reasoning never above output.
    assert mux.tokens({"outputTokens": 5}, {"openai": {"reasoningTokens": 9}})["output_tokens"] == 9
    # Negative, string, boolean and missing counts are no tokens; input never below 0.
    assert mux.tokens({"inputTokens": -50, "outputTokens": "12", "cachedInputTokens": True}, "junk") == \
        {"input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0}
    assert mux.tokens({"inputTokens": 100, "cachedInputTokens": 300}, None)["input_tokens"] == 0


def test_chat_lines_become_usage_keyed_by_workspace_and_message(tmp_path):
    ctx = {}
    tool = {"model": "openai:gpt-5-mini", "usage": {"inputTokens": 30, "outputTokens": 3}}
    line = assistant("m1", 1796083190000, "anthropic:claude-sonnet-4-5", {"inputTokens": 10, "outputTokens": 2},
                     toolModelUsages=[tool, "junk"])
    own, called = mux.parse_message(line, ctx, FOUND)
    assert (own.key, own.model, own.session_id, own.occurred_at) == ("m1", "claude-sonnet-4-5", A, 1796083190.0)
    assert (called.key, called.model, called.total_tokens()) == ("m1:tool0", "gpt-5-mini", 33)
    assert own.cost_logged is None and ctx == {"project": ""}  # no metadata.json beside /h: no project
    (paid,) = mux.parse_message(dict(line, metadata=dict(line["metadata"], costsIncluded=True, toolModelUsages=[])),
                                {}, FOUND)
    assert paid.cost_logged is None and paid.raw["costs_included"]  # Mux shows $0: priced from the table
    dated = dict(line, createdAt="2026-11-30T10:00:00.000Z", metadata=dict(line["metadata"], timestamp=None))
    assert mux.parse_message(dated, {}, FOUND)[0].occurred_at == 1796032800.0
    with pytest.raises(Skip):
        mux.parse_message(dict(line, metadata=dict(line["metadata"], timestamp="yesterday")), {}, FOUND)
    assert mux.parse_message({"id": "u1", "role": "user", "metadata": {"usage": {"inputTokens": 5}}}, {}, FOUND) == []
    assert mux.parse_message(dict(line, metadata={"model": "x"}), {}, FOUND) == []  # streaming: no usage yet
    head = {"timestamp": 1796083212000, "source": "workspace-title", "model": "anthropic:claude-haiku-4-5",
            "usage": {"inputTokens": 900, "outputTokens": 20}, "providerMetadata": {"mux": {"costsIncluded": True}}}
    (title,) = mux.parse_headless(head, {}, FOUND)
    assert title.key == "headless:1796083212000:workspace-title:anthropic:claude-haiku-4-5"
    assert (title.model, title.cost_logged, title.raw["costs_included"]) == ("claude-haiku-4-5", None, True)
    with pytest.raises(Skip):
        mux.parse_headless(dict(head, timestamp=0), {}, FOUND)


def test_the_project_is_config_jsons_else_metadata_jsons_else_the_parents(tmp_path):
    root = tmp_path / ".mux"
    for wid in ("w1", "w2", os.path.join("w3", "subagent-transcripts", "c1")):
        os.makedirs(root / "sessions" / wid)
    (root / "config.json").write_text(json.dumps({"projects": [
        ["/src/shop", {"workspaces": [{"id": "w1"}, {"id": "w3"}, "junk"]}], ["bad"], "junk"]}))
    (root / "sessions" / "w1" / "metadata.json").write_text('{"projectPath": "/src/ignored"}')
    (root / "sessions" / "w2" / "metadata.json").write_text('{"projectPath": "C:\\\\src\\\\legacy-app"}')

    def found(*parts):
        return Found(os.path.join(str(root), *parts, "chat.jsonl"), str(root), parts, "chat.jsonl")

    assert mux.project(found("sessions", "w1"), {}) == "shop"
    assert mux.project(found("sessions", "w2"), {}) == "legacy-app"
    assert mux.project(found("sessions", "w3", "subagent-transcripts", "c1"), {}) == "shop"
    ctx = {}
    assert mux.project(found("sessions", "w9"), ctx) is None and ctx == {"project": ""}  # looked up once
    (root / "config.json").write_text("{not json")
    assert mux.project(found("sessions", "w1"), {}) == "ignored"


def test_fixture_totals_per_day_and_model_through_the_store(isolated_home, store):
    writer, reader = store
    home = install("mux", isolated_home)
    p = poller("mux", home)
    events, snap = p.poll()
    assert snap.status == "OK" and snap.message == "12 messages from 6 files"
    assert event_totals(events) == EXPECTED
    store_events(writer, events)
    assert totals(reader(), "mux") == EXPECTED
    assert all(e.reasoning_tokens <= e.output_tokens for e in usage(events))
    # The bad line and the undated message are skipped and counted; the files after them are read.
    assert snap.extras["skipped_reasons"] == {"bad_json": 1, "bad_timestamp": 1}
    assert snap.extras["sessions_new"] == 3 and snap.extras["projects_new"] == 2
    by_key = {e.message_id: e for e in usage(events)}
    assert by_key["assistant-1796083500000-g4rb4g"].total_tokens() == 7  # -50 and "12" clamped to 0
    assert (by_key["assistant-1796050830000-bb22cc"].project, by_key["assistant-1796083210000-v4b5n6"]
            .project) == ("api-server", "webapp")
    assert p.poll()[0] == []  # nothing new, nothing read again


def test_two_workspaces_with_one_model_are_two_sessions(isolated_home):
    events, _ = poller("mux", install("mux", isolated_home)).poll()
    sonnet = {e.session_id for e in usage(events) if e.model == "claude-sonnet-4-5"}
    assert sonnet == {A, B}
    assert len({e.message_id for e in usage(events)}) == len(usage(events)) == 12


def test_the_ledger_is_never_read_so_a_workspace_counts_once(isolated_home, store):
    writer, reader = store
    home = install("mux", isolated_home)
    p = poller("mux", home)
    store_events(writer, p.poll()[0])
    ledger = sessions(home, A, "session-usage.json")
    with open(ledger, encoding="utf-8") as fh:
        doc = json.load(fh)
    doc["byModel"]["anthropic:claude-sonnet-4-5"]["output"]["tokens"] += 5000  # Mux's ledger grows...
    with open(ledger, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    assert p.poll()[0] == []  # ...and adds nothing: its requests are the chat's
    os.remove(ledger)
    fresh = poller("mux", home)
    assert event_totals(fresh.poll()[0]) == EXPECTED  # without the ledger, the same totals


def test_a_growing_chat_rewritten_and_rotated_counts_each_message_once(isolated_home, store):
    writer, reader = store
    home = install("mux", isolated_home)
    chat = sessions(home, A, "chat.jsonl")
    p = poller("mux", home)
    store_events(writer, p.poll()[0])
    with open(os.path.join(FIXTURES, "mux", "home", ".mux", "sessions", A, "chat.jsonl"), encoding="utf-8") as fh:
        partial = fh.read().rsplit("\n", 1)[1]
    with pytest.raises(ValueError):
        json.loads(partial)  # the fixture ends mid-line, as a file caught mid-write does: it waits
    whole = json.loads(partial + REST)
    assert whole["id"] == "assistant-1796083800000-l4st01" and whole["metadata"]["usage"]["totalTokens"] == 990
    with open(chat, "a", encoding="utf-8") as fh:
        fh.write(REST + "\n")
    events, _ = p.poll()
    assert [e.message_id for e in usage(events)] == ["assistant-1796083800000-l4st01"]
    store_events(writer, events)
    grown = dict(EXPECTED)
    grown[("2026-12-01", "claude-sonnet-4-5")] = (21307 + 990, pytest.approx(0.0135021 + 0.00405))
    assert totals(reader(), "mux") == grown
    # Mux rewrites chat.jsonl at a stream end, and moves a sealed epoch into chat-archive.jsonl at a
    # compaction boundary: the same messages under the same keys (read again), nothing new in the store...
    with open(chat, encoding="utf-8") as fh:
        lines = fh.read().splitlines(True)
    with open(chat + ".new", "w", encoding="utf-8") as fh:
        fh.writelines(lines[3:])
    os.replace(chat + ".new", chat)
    with open(sessions(home, A, "chat-archive.jsonl"), "a", encoding="utf-8") as fh:
        fh.writelines(lines[:2])
    store_events(writer, p.poll()[0])
    assert totals(reader(), "mux") == grown
    # ...and a copy of a message with more tokens (a rewritten row) grows the one already counted.
    moved = json.loads(lines[2])
    assert moved["id"] == "assistant-1796083210000-v4b5n6"
    moved["metadata"]["usage"]["outputTokens"] += 300
    with open(sessions(home, A, "chat-archive.jsonl"), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(moved, separators=(",", ":")) + "\n")
    events, _ = p.poll()
    assert [e.message_id for e in usage(events)] == ["assistant-1796083210000-v4b5n6"]
    store_events(writer, events)
    grown[("2026-12-01", "claude-sonnet-4-5")] = (21307 + 990 + 300, pytest.approx(0.0135021 + 0.00405 + 0.0045))
    assert totals(reader(), "mux") == grown


def test_an_archived_sub_agent_is_its_own_session_counted_once(isolated_home):
    home = install("mux", isolated_home)
    p = poller("mux", home)
    child = [e for e in usage(p.poll()[0]) if e.session_id == CHILD]
    assert [(e.message_id, e.project) for e in child] == [("assistant-1796040000000-ch1ld1", "webapp")]
    shutil.rmtree(sessions(home, CHILD))  # Mux deletes the finished child; its copy stays in the parent
    config = os.path.join(home, ".mux", "config.json")
    with open(config, encoding="utf-8") as fh:
        doc = json.load(fh)
    workspaces = doc["projects"][0][1]["workspaces"]
    workspaces[:] = [w for w in workspaces if w["id"] != CHILD]  # ...and from config.json
    with open(config, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    assert p.poll()[0] == []
    archived = poller("mux", home)  # a first read after the deletion finds it once, in the parent's project
    child = [e for e in usage(archived.poll()[0]) if e.session_id == CHILD]
    assert [(e.message_id, e.project) for e in child] == [("assistant-1796040000000-ch1ld1", "webapp")]


def test_a_fork_copies_its_parents_history_and_adds_only_its_own(isolated_home, store):
    writer, reader = store
    home = install("mux", isolated_home)
    p = poller("mux", home)
    store_events(writer, p.poll()[0])
    fork = sessions(home, "77aa88bb99")
    os.makedirs(fork)
    for name in ("chat.jsonl", "chat-archive.jsonl", "headless-usage.jsonl"):  # as Mux's fork copies them
        shutil.copy2(sessions(home, A, name), os.path.join(fork, name))
    with open(os.path.join(fork, "session-usage.json"), "w", encoding="utf-8") as fh:
        json.dump({"byModel": {}, "version": 1}, fh)  # Mux resets only the fork's ledger
    store_events(writer, p.poll()[0])
    assert totals(reader(), "mux") == EXPECTED
    own = assistant("assistant-1796120000000-f0rk01", 1796120000000, "anthropic:claude-sonnet-4-5",
                    {"inputTokens": 100, "outputTokens": 10})
    with open(os.path.join(fork, "chat.jsonl"), "a", encoding="utf-8") as fh:
        fh.write("\n" + json.dumps(own) + "\n")  # the cut line copied from the parent stays a bad line
    events = [e for e in usage(p.poll()[0]) if e.session_id == "77aa88bb99"]
    assert [(e.message_id, e.total_tokens()) for e in events] == [("assistant-1796120000000-f0rk01", 110)]


def test_a_replaced_or_unreadable_file_is_counted_once_and_the_poll_goes_on(isolated_home, store):
    writer, reader = store
    home = install("mux", isolated_home)
    p = poller("mux", home)
    first, _ = p.poll()
    store_events(writer, first)
    for top, _dirs, names in os.walk(home):
        for name in names:
            if name.endswith(".jsonl"):
                path = os.path.join(top, name)
                shutil.copy2(path, path + ".new")
                os.replace(path + ".new", path)  # another inode, the same content
    again, _ = p.poll()
    assert sorted(e.dedup_key() for e in usage(again)) == sorted(e.dedup_key() for e in usage(first))
    store_events(writer, again)
    assert totals(reader(), "mux") == EXPECTED
    with open(sessions(home, B, "chat.jsonl"), "wb") as fh:
        fh.write(b'{"role":"assistant","metadata":\x00\xff\n' * 3)  # truncated and overwritten with junk
    events, snap = p.poll()
    assert snap.status == "OK" and snap.extras["skipped_reasons"].get("bad_json") == 3 and usage(events) == []
    assert totals(reader(), "mux") == EXPECTED  # what was counted stays counted


def test_detection_and_the_mux_root_variable(isolated_home, tmp_path):
    provider = REGISTRY["mux"]
    assert provider.detect(dict(os.environ), str(isolated_home), shutil.which) == []
    events, snap = poller("mux", isolated_home).poll()
    assert events == [] and snap.status == "UNKNOWN"
    assert snap.message == f"no Mux sessions found (looked in {os.path.join(str(isolated_home), '.mux')})"
    home = install("mux", isolated_home)
    (account,) = provider.detect(dict(os.environ), home, shutil.which)
    assert account.id == "mux" and account.detected_by == os.path.join(home, ".mux")
    os.replace(os.path.join(home, ".mux"), str(tmp_path / "muxroot"))
    events, snap = poller("mux", home, environ={"MUX_ROOT": str(tmp_path / "muxroot")}).poll()
    assert snap.extras["roots"] == [str(tmp_path / "muxroot")] and len(usage(events)) == 12
    assert provider.env_vars == ("MUX_ROOT",)


def test_daily_report_from_a_direct_scan_in_a_fresh_process(isolated_home):
    install("mux", isolated_home)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENUSAGE_", "XDG_", "MUX_"))}
    env.update(HOME=str(isolated_home), XDG_STATE_HOME=str(isolated_home / ".local" / "state"),
               XDG_CONFIG_HOME=str(isolated_home / ".config"), XDG_CACHE_HOME=str(isolated_home / ".cache"),
               PYTHONPATH=REPO)
    argv = [sys.executable, "-m", "openusage", "daily", "--json", "--source", "direct", "--provider", "mux",
            "--timezone", "UTC"]

    def run():
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr
        return {d["date"]: d for d in json.loads(proc.stdout)["daily"]}

    days = run()
    assert sorted(days) == ["2026-11-30", "2026-12-01"]
    assert days["2026-11-30"]["total_tokens"] == 44800 + 3500 + 4250 + 2620
    assert days["2026-12-01"]["total_tokens"] == 21307 + 920 + 10900
    assert days["2026-11-30"]["cost_usd"] == pytest.approx(0.1149 + 0.001525 + 0.00525, abs=1e-6)
    assert days["2026-12-01"]["cost_usd"] == pytest.approx(0.0135021 + 0.001 + 0.01475, abs=1e-6)
    assert run() == days  # a second run reads nothing new and reports the same
    assert os.listdir(str(isolated_home / ".local" / "state"))  # its cache lived in the tmp home
