"""A direct scan whose files are read on workers hands them to the cache as summed batches
(store/batch.py); the cache must come out exactly as if every event had been written one by one."""
import json
import os
import shutil
import sqlite3

import pytest
from support import claude_catch_up_dir

from openusage import config
from openusage.agents import workers as agent_workers
from openusage.core.events import UsageEvent
from openusage.reports import source
from openusage.store.batch import CountedBatch

NOW = 1_795_000_000.0


def _tables(path):
    """Everything a report reads, and the counted keys with their places spelled out."""
    conn = sqlite3.connect(path)
    try:
        out = {}
        for table in ("rollup_q", "rollup_d", "sessions"):
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()
            out[table] = sorted(tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows)
        out["counted"] = sorted(conn.execute(
            "SELECT c.hash, input, output, cache_read, cache_write, reasoning, round(cost, 9), round(cost_logged, 9), "
            "round(cost_computed, 9), requests, at, p.provider_id, p.account_id, p.model, p.project, p.session_id "
            "FROM counted c LEFT JOIN counted_place p ON p.id = c.place").fetchall(), key=repr)
        out["stored"] = conn.execute("SELECT value FROM meta WHERE key='events_stored'").fetchone()
        return out
    finally:
        conn.close()


def _line(mid, out, ts, session="s9"):
    return json.dumps({"type": "assistant", "sessionId": session, "cwd": "/home/u/app", "timestamp": ts,
                       "requestId": f"r-{mid}", "message": {
                           "id": mid, "model": "claude-sonnet-4-5", "role": "assistant",
                           "content": [{"type": "tool_use", "id": f"toolu-{mid}", "name": "Bash", "input": {}}],
                           "usage": {"input_tokens": 5, "output_tokens": out}}})


def _append(path, *lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))


def test_a_scan_on_workers_fills_the_cache_as_a_scan_in_process(tmp_path, monkeypatch):
    root = tmp_path / "claude"
    # A resumed session repeats another file's messages and tool calls: counted once either way.
    first = claude_catch_up_dir(root, 5, NOW)
    # A message without an id (its key is a fingerprint): its file goes to the cache as events.
    idless = json.loads(_line("x", 3, "2026-11-19T08:00:00.000Z", session="s8"))
    del idless["requestId"], idless["message"]["id"]
    _append(str(root / "projects" / "-home-u-app" / "idless.jsonl"), json.dumps(idless))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    monkeypatch.setattr(agent_workers, "worker_count", lambda: 2)
    later = root / "projects" / "-home-u-app" / "late.jsonl"
    submitted = []
    real_submit = source._CacheStore.writer

    def counting_writer(store):
        writer = real_submit(store)
        if not hasattr(writer, "counted_calls"):
            writer.counted_calls = 0
            inner = writer.submit_counted

            def submit(batches):
                writer.counted_calls += 1
                submitted.append(len(batches))
                return inner(batches)
            writer.submit_counted = submit
        return writer
    monkeypatch.setattr(source._CacheStore, "writer", counting_writer)
    results = []
    for i, threshold in enumerate((1 << 40, 0)):  # in process (events), then on workers (batches)
        state = tmp_path / f"state-{i}"
        monkeypatch.setenv("OPENUSAGE_STATE_DIR", str(state))
        monkeypatch.setattr(agent_workers, "PARALLEL_MIN_BYTES", threshold)
        if later.exists():
            later.unlink()
        first_scan = _tables(source.scan_direct(config.load(), ["claude_code"]))
        # A later scan into a cache that holds keys: a new file, and one repeating counted keys.
        _append(str(later), _line("late1", 7, "2026-11-20T10:00:00.000Z"),
                _line("late2", 9, "2026-11-20T10:20:00.000Z"))
        shutil.copy(first, root / "projects" / "showcase" / "resumed-again.jsonl")
        second_scan = _tables(source.scan_direct(config.load(), ["claude_code"]))
        os.remove(root / "projects" / "showcase" / "resumed-again.jsonl")
        results.append((first_scan, second_scan))
    assert sum(submitted) >= 5  # the second mode wrote batches
    assert results[0][0] == results[1][0]
    assert results[0][1] == results[1][1]
    assert results[0][0]["rollup_q"] and results[0][0]["counted"] and results[0][0]["sessions"]
    assert len(results[0][1]["counted"]) == len(results[0][0]["counted"]) + 4  # two messages, two tool calls


def _event(kind, ident, **kw):
    fields = dict(source="claude_code", provider_id="claude_code", account_id="a", event_type=kind,
                  occurred_at=kw.pop("at", NOW), session_id="s1", model="m", project="p")
    fields.update(kw)
    ev = UsageEvent(**fields)
    setattr(ev, "tool_call_id" if kind == "tool_usage" else "message_id", ident)
    return ev


def test_a_batch_gives_back_the_events_it_was_made_of():
    events = [_event("tool_usage", "t1", tool_name="mcp__srv__x", mcp_server="srv", requests=0),
              _event("message_usage", "m1:r1", input_tokens=3, output_tokens=4, cost_usd=0.5, cost_computed_usd=0.5,
                     requests=1),
              _event("message_usage", "m2:r2", output_tokens=2, cost_usd=None, requests=1, at=NOW + 2000),
              _event("message_usage", None, output_tokens=1, requests=1, raw={"uuid": "u"})]  # id-less
    assert CountedBatch.from_events(events) is None  # an id-less one: its key is a fingerprint
    batch = CountedBatch.from_events(events[:3])
    again = batch.events()
    assert [e.dedup_key() for e in again] == [e.dedup_key() for e in events[:3]]
    assert [e.to_dict() for e in again] == [dict(e.to_dict(), raw=None) for e in events[:3]]
    assert batch.ids_of("tool_usage") == ["t1"]
    bucket = int(NOW // 900)
    assert batch.quarters[("claude_code", "a", bucket, "m", "p", "s1")] == [3, 4, 0, 0, 0, 0.5, 1, 1, 0.5, 0.0]
    assert batch.sessions[("claude_code", "a", "s1")] == ["p", NOW, NOW + 2000]


@pytest.mark.parametrize("mixed", ["same key", "two sources"])
def test_events_that_share_a_key_or_a_source_make_no_batch(mixed):
    one = _event("message_usage", "m1:r1", output_tokens=1, requests=1)
    other = _event("message_usage", "m1:r1", output_tokens=2, requests=1)
    if mixed == "two sources":
        other.message_id, other.source = "m2:r2", "elsewhere"
    assert CountedBatch.from_events([one, other]) is None


def test_a_batch_buckets_as_the_store_does():
    from openusage.store import batch, db

    assert batch.QUARTER == db.QUARTER
