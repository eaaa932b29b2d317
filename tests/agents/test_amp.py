"""Amp: its thread files, rewritten as a thread goes on (fixture: tests/fixtures/amp)."""
import json
import os

from agentcase import install, poller, store_events, totals
from support import tools, usage

from openusage.agents import amp
from openusage.agents.files import Found

THREAD = "T-5e2c9f1a-3b4d-4e6f-8a7b-9c0d1e2f3a4b"


def path_of(home):
    return os.path.join(home, ".local", "share", "amp", "threads", THREAD + ".json")


def test_message_and_ledger_copies_of_a_request_are_one():
    doc = {"id": "T-1", "created": 1796070000000,
           "messages": [{"role": "assistant", "messageId": 1, "usage": {
               "model": "m", "inputTokens": 5, "outputTokens": 10, "cacheReadInputTokens": 100,
               "cacheCreationInputTokens": 20, "timestamp": "2026-11-30T10:00:00Z"}}],
           "usageLedger": {"events": [{"toMessageId": 1, "tokens": {"input": 125, "output": 12}},
                                      {"toMessageId": 2, "tokens": {"input": 50, "output": 5}, "model": "m"}]}}
    one, two = amp.parse_thread(doc, Found("/t", "/", (), "T-1.json"))
    assert (one.key, one.input_tokens, one.cache_read_tokens, one.cache_write_tokens, one.output_tokens) == \
        ("T-1:1", 5, 100, 20, 12)  # the ledger's whole input matches the split; its larger output stands
    assert (two.key, two.input_tokens, two.occurred_at) == ("T-1:2", 50, 1796070000.0)


def test_a_streaming_message_counts_once_it_has_usage_and_a_rewrite_grows_it(isolated_home, store, zone):
    zone("UTC")
    writer, reader = store
    home = install("amp", isolated_home)
    p = poller("amp", home)
    events, _ = p.poll()
    assert [e.message_id.split(":")[1] for e in usage(events)] == ["1", "3", "900"]
    assert [(t.tool_name, t.mcp_server) for t in tools(events)] == [
        ("Grep", None), ("edit_file", None), ("mcp__linear__create_issue", "linear")]
    store_events(writer, events)
    with open(path_of(home), encoding="utf-8") as fh:
        doc = json.load(fh)
    doc["messages"][4]["state"] = {"type": "complete", "stopReason": "end_turn"}
    doc["messages"][4]["usage"] = {"model": "claude-sonnet-4-5-20250929", "inputTokens": 4, "outputTokens": 60,
                                   "cacheReadInputTokens": 10440, "cacheCreationInputTokens": 0,
                                   "timestamp": "2026-11-30T10:22:30.000Z"}
    doc["messages"][3]["usage"]["outputTokens"] = 1300  # Amp rewrote message 3 with its final count
    with open(path_of(home) + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
    os.replace(path_of(home) + ".tmp", path_of(home))  # as Amp saves a thread: write aside, rename
    events, _ = p.poll()
    # The whole thread is read again: every request comes again under its key, the store keeps one of each.
    assert sorted(e.message_id.split(":")[1] for e in usage(events)) == ["1", "3", "4", "900"]
    store_events(writer, events)
    got = totals(reader(), "amp")
    assert got[("2026-11-30", "claude-sonnet-4-5-20250929")][0] == 21698 + 90 + 10504


def test_a_half_written_thread_is_skipped_until_it_is_whole(isolated_home):
    home = install("amp", isolated_home)
    with open(path_of(home), encoding="utf-8") as fh:
        whole = fh.read()
    with open(path_of(home), "w", encoding="utf-8") as fh:
        fh.write(whole[: len(whole) // 2])
    p = poller("amp", home)
    events, snap = p.poll()
    assert events == [] and snap.extras["skipped_reasons"] == {"bad_json": 1}
    with open(path_of(home), "w", encoding="utf-8") as fh:
        fh.write(whole)
    assert len(usage(p.poll()[0])) == 3


def test_amp_data_dir_replaces_the_default(isolated_home, tmp_path):
    install("amp", tmp_path / "o")
    data = str(tmp_path / "o" / ".local" / "share" / "amp")
    events, snap = poller("amp", isolated_home, environ={"AMP_DATA_DIR": data}).poll()
    assert snap.extras["roots"] == [data] and len(usage(events)) == 3
