"""The daemon's store takes a large catch-up read on workers as batches that carry each event's row
(store/batch.py, full builder): it must come out exactly as if every event had been written one by one."""
import json
import os
import shutil
import sqlite3
import time

from support import claude_catch_up_dir

from openusage.agents import workers as agent_workers
from openusage.agents.claude_code import ClaudeCodeProvider
from openusage.providers.base import AccountConfig, make_context
from openusage.store.ingest import EVENT_BATCH, write_events
from openusage.store.writer import Writer

NOW = 1_795_000_000.0
CLAUDE = ClaudeCodeProvider()


def _tables(path):
    """Everything the read model and retention read, without the row ids and ingestion times."""
    conn = sqlite3.connect(path)
    try:
        # Each event row with its place's strings (place ids may be interned in another order).
        cols = [r[1] for r in conn.execute("PRAGMA table_info(event_detail)") if r[1] not in ("id", "ingested_at")]
        out = {"events": sorted(conn.execute(f"SELECT {', '.join(cols)} FROM event_detail").fetchall(), key=repr)}
        assert conn.execute("SELECT COUNT(*) FROM event_detail").fetchone() == (len(out["events"]),)
        for table in ("rollup_q", "rollup_d", "rollup_qm", "dim_q", "dim_d", "sessions"):
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()
            out[table] = sorted((tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows),
                                key=repr)
        out["counted"] = sorted(conn.execute(
            "SELECT c.hash, input, output, cache_read, cache_write, reasoning, round(cost, 9), requests, at, "
            "p.model, p.project, p.session_id FROM counted c LEFT JOIN counted_place p ON p.id = c.place"
        ).fetchall(), key=repr)
        return out
    finally:
        conn.close()


def _line(mid, out, ts, session="s9"):
    return json.dumps({"type": "assistant", "sessionId": session, "cwd": "/home/u/app", "timestamp": ts,
                       "requestId": f"r-{mid}", "uuid": f"u-{mid}", "message": {
                           "id": mid, "model": "claude-sonnet-4-5", "role": "assistant",
                           "content": [{"type": "tool_use", "id": f"toolu-{mid}", "name": "mcp__gh__pr", "input": {}}],
                           "usage": {"input_tokens": 5, "output_tokens": out}}})


def _poll(root, state, db_path, batches):
    account = AccountConfig(id="claude_code", provider="claude_code")
    writer = Writer(db_path)
    writer.start()
    try:
        ctx = make_context(CLAUDE, account, state, home=str(root.parent), environ={"CLAUDE_CONFIG_DIR": str(root)},
                           now=NOW + 86400, live_quota=False, keep_raw=False, batches=batches, event_rows=True)
        result = CLAUDE.fetch(account, ctx)
        write_events(writer, result.events, counted_rows=EVENT_BATCH)
    finally:
        writer.stop()


def test_a_catch_up_on_workers_fills_the_daemons_store_as_a_read_in_process(tmp_path, monkeypatch):
    root = tmp_path / "claude"
    first = claude_catch_up_dir(root, 6, NOW)  # its resumed copy repeats keys
    idless = json.loads(_line("x", 3, "2026-11-19T08:00:00.000Z", session="s8"))
    del idless["requestId"], idless["message"]["id"]
    (root / "projects" / "-home-u-app").mkdir(parents=True)
    (root / "projects" / "-home-u-app" / "idless.jsonl").write_text(json.dumps(idless) + "\n")
    monkeypatch.setattr(agent_workers, "worker_count", lambda: 2)
    taken = []
    real = Writer._take_whole
    monkeypatch.setattr(Writer, "_take_whole", lambda self, batches, agg: taken.append(len(batches))
                        or real(self, batches, agg))
    later = root / "projects" / "-home-u-app" / "late.jsonl"
    results = []
    for name, threshold, batches in (("events", 1 << 40, False), ("batches", 0, True)):
        monkeypatch.setattr(agent_workers, "PARALLEL_MIN_BYTES", threshold)
        if later.exists():
            later.unlink()
        db_path, state = str(tmp_path / f"{name}.db"), {}
        _poll(root, state, db_path, batches)
        first_poll = _tables(db_path)
        later.write_text(_line("late1", 7, "2026-11-20T10:00:00.000Z") + "\n"
                         + _line("late2", 9, "2026-11-20T10:20:00.000Z") + "\n")
        shutil.copy(first, root / "projects" / "showcase" / "resumed-again.jsonl")
        time.sleep(0.01)
        _poll(root, state, db_path, batches)
        os.remove(root / "projects" / "showcase" / "resumed-again.jsonl")
        results.append((first_poll, _tables(db_path)))
    assert sum(taken) >= 8  # the second way took files' batches whole (the resumed ones as events)
    assert results[0][0] == results[1][0]
    assert results[0][1] == results[1][1]
    events = results[1][0]["events"]
    assert len(events) > 500 and results[1][0]["dim_q"] and results[1][0]["rollup_qm"]
    cols = [r[1] for r in sqlite3.connect(db_path).execute("PRAGMA table_info(event_detail)")
            if r[1] not in ("id", "ingested_at")]  # as _tables reads them
    raw = cols.index("raw")
    ids = [cols.index("turn_id"), cols.index("message_id"), cols.index("tool_call_id")]
    # No payload of a log line is stored (the line is on disk), but where the key is the payload's fingerprint.
    assert all((row[raw] is None) == any(row[i] for i in ids) for row in events)
