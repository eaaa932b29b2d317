"""The counted keys (store/counted.py): one dedup mechanism for the store and the reports cache, kept
past pruning, and a grown message moved wholly to where its kept copy is dated."""
import json
import os
import sqlite3

import pytest

from openusage import config
from openusage.core.events import UsageEvent
from openusage.reports import source
from openusage.store import counted, db, retention
from openusage.store.writer import Writer

MIDNIGHT = 1_796_235_300  # 2026-12-02 18:15 UTC: midnight in Kathmandu (+05:45)


def ev(**kw):
    base = dict(source="claude_code", provider_id="claude_code", account_id="claude_code",
                event_type="message_usage", message_id="m:r", model="claude-sonnet-4-5", session_id="s1",
                project="app", requests=1)
    base.update(kw)
    return UsageEvent(**base)


def dump(path):
    conn = db.connect(path, readonly=True)
    try:
        return {
            "d": conn.execute("SELECT day, model, input, output, cache_read, requests, events FROM rollup_d "
                              "ORDER BY 1, 2").fetchall(),
            "q": conn.execute("SELECT bucket, model, session_id, output, requests, events FROM rollup_q "
                              "ORDER BY 1, 2").fetchall(),
            "dim_d": conn.execute("SELECT day, dim, name, tokens, requests FROM dim_d ORDER BY 1, 2, 3").fetchall(),
        }
    finally:
        conn.close()


@pytest.mark.parametrize("keys_only", [False, True])
@pytest.mark.parametrize("bulk", [False, True])
def test_a_copy_after_midnight_moves_the_whole_message_to_its_day(tmp_path, zone, keys_only, bulk):
    zone("Asia/Kathmandu")
    path = str(tmp_path / "s.db")
    w = Writer(path, check=False, keys_only=keys_only)
    w.start()
    pad = [ev(message_id=f"pad{i}", occurred_at=MIDNIGHT - 7200, output_tokens=1) for i in range(300)] if bulk else []
    w.submit_events(pad + [ev(occurred_at=MIDNIGHT - 2, input_tokens=1, output_tokens=1,
                              cache_read_tokens=10026)]).wait(10)
    r = w.submit_events(pad + [ev(occurred_at=MIDNIGHT + 3, input_tokens=1, output_tokens=400,
                                  cache_read_tokens=10026)]).wait(10)
    assert r["updated"] == 1
    w.stop()
    got = dump(path)
    message_days = [row for row in got["d"] if row[3] != 300]
    assert message_days == [("2026-12-03", "claude-sonnet-4-5", 1, 400, 10026, 1, 1)]
    assert [row for row in got["q"] if row[0] != (MIDNIGHT - 7200) // 900] == [
        ((MIDNIGHT + 3) // 900, "claude-sonnet-4-5", "s1", 400, 1, 1)]
    if not keys_only:
        day_before = [row for row in got["dim_d"] if row[0] == "2026-12-02" and row[1] == "session"]
        assert day_before == ([("2026-12-02", "session", "s1", 300, 300)] if bulk else [])
        assert ("2026-12-03", "session", "s1", 10427, 1) in got["dim_d"]
        assert all(row[3] != 0 for row in got["dim_d"])  # no row left empty by the move


def test_a_copy_with_another_model_moves_the_message_to_that_model(store):
    writer, reader = store
    writer.submit_events([ev(occurred_at=MIDNIGHT, output_tokens=5, model="<synthetic>")]).wait(10)
    writer.submit_events([ev(occurred_at=MIDNIGHT, output_tokens=50, model="claude-opus-4-1")]).wait(10)
    rows = reader().execute("SELECT model, output, requests, events FROM rollup_q").fetchall()
    assert rows == [("claude-opus-4-1", 50, 1, 1)]


def test_a_later_copy_without_model_or_project_keeps_the_first_ones(store):
    writer, reader = store
    writer.submit_events([ev(occurred_at=MIDNIGHT, output_tokens=5)]).wait(10)
    writer.submit_events([ev(occurred_at=MIDNIGHT + 3600, output_tokens=50, model=None, project=None)]).wait(10)
    rows = reader().execute("SELECT bucket, model, project, output FROM rollup_q").fetchall()
    assert rows == [((MIDNIGHT + 3600) // 900, "claude-sonnet-4-5", "app", 50)]


def test_pruning_keeps_the_counted_keys_and_a_re_read_adds_nothing(store):
    writer, reader = store
    old = [ev(message_id=f"old{i}", occurred_at=MIDNIGHT - 90 * 86400, output_tokens=10) for i in range(5)]
    tool = UsageEvent(source="claude_code", provider_id="claude_code", account_id="claude_code",
                      event_type="tool_usage", occurred_at=MIDNIGHT - 90 * 86400, tool_call_id="toolu_1",
                      tool_name="Bash")
    writer.submit_events(old + [tool]).wait(10)
    assert writer.submit_call(lambda conn: retention.prune(conn, 30, now=MIDNIGHT)).wait(10) == 6
    conn = reader()
    assert conn.execute("SELECT COUNT(*) FROM event_detail").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM counted").fetchone()[0] == 6
    before = conn.execute("SELECT SUM(output), SUM(events) FROM rollup_q").fetchone()
    r = writer.submit_events(old + [tool]).wait(10)  # the same lines read again
    assert r == {"stored": 0, "updated": 0, "duplicates": 6}
    # A grown copy of a pruned message still grows it, once, and dates it anew.
    r = writer.submit_events([ev(message_id="old0", occurred_at=MIDNIGHT - 89 * 86400, output_tokens=40)]).wait(10)
    assert r["updated"] == 1
    assert conn.execute("SELECT SUM(output), SUM(events) FROM rollup_q").fetchone() == (before[0] + 30, before[1])
    assert conn.execute("SELECT COUNT(*) FROM event_detail").fetchone()[0] == 0  # detail does not come back


def test_clearing_the_cache_keeps_the_keys_and_clearing_history_forgets_them(store):
    writer, reader = store
    writer.submit_events([ev(occurred_at=MIDNIGHT, output_tokens=5)]).wait(10)
    writer.submit_call(retention.clear_cache).wait(10)
    assert writer.submit_events([ev(occurred_at=MIDNIGHT, output_tokens=5)]).wait(10)["duplicates"] == 1
    writer.submit_call(retention.clear_history).wait(10)
    assert reader().execute("SELECT COUNT(*) FROM counted").fetchone()[0] == 0
    assert writer.submit_events([ev(occurred_at=MIDNIGHT, output_tokens=5)]).wait(10)["stored"] == 1


def test_an_older_store_gets_the_keys_of_the_events_it_holds(tmp_path):
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in db._split(db.MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    held = ev(occurred_at=MIDNIGHT, output_tokens=5, input_tokens=2)
    conn.execute("INSERT INTO events(dedup_key, source, provider_id, account_id, event_type, occurred_at, model, "
                 "input_tokens, output_tokens, requests, project, session_id, ingested_at) "
                 "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                 (held.dedup_key(), "claude_code", "claude_code", "claude_code", "message_usage", MIDNIGHT,
                  held.model, 2, 5, 1, "app", "s1", MIDNIGHT))
    conn.close()
    w = Writer(path, check=False)
    w.start()
    assert w.submit_events([held]).wait(10)["duplicates"] == 1
    w.submit_events([ev(occurred_at=MIDNIGHT + 900, output_tokens=9, input_tokens=2)]).wait(10)
    w.stop()
    conn = db.connect(path, readonly=True)
    row = conn.execute("SELECT input, output, at FROM counted WHERE hash=?",
                       (counted.key_hash(held.dedup_key()),)).fetchone()
    assert row == (2, 9, float(MIDNIGHT + 900))
    conn.close()


def _line(mid, ts, out):
    return json.dumps({"type": "assistant", "sessionId": "s1", "cwd": "/home/u/app", "timestamp": ts,
                       "requestId": f"r-{mid}", "message": {
                           "id": mid, "model": "claude-sonnet-4-5", "role": "assistant",
                           "content": [{"type": "text", "text": "hi"}],
                           "usage": {"input_tokens": 1, "output_tokens": out, "cache_read_input_tokens": 10026}}})


def test_the_direct_scan_dates_a_message_split_by_midnight_by_its_kept_copy(isolated_home, zone):
    zone("Asia/Kathmandu")
    transcript = os.path.join(str(isolated_home), ".claude", "projects", "-home-u-app", "s1.jsonl")
    os.makedirs(os.path.dirname(transcript))
    with open(transcript, "w", encoding="utf-8") as fh:
        fh.write(_line("m1", "2026-12-02T18:14:58.000Z", 1) + "\n")
    settings = config.load()
    path = source.scan_direct(settings, ["claude_code"])
    with open(transcript, "a", encoding="utf-8") as fh:
        fh.write(_line("m1", "2026-12-02T18:15:03.000Z", 77) + "\n")
    source.scan_direct(settings, ["claude_code"])
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT day, input, output, cache_read, requests, events FROM rollup_d").fetchall() == [
            ("2026-12-03", 1, 77, 10026, 1, 1)]
    finally:
        conn.close()


def test_the_set_of_new_keys_is_dropped_once_another_connection_writes(tmp_path):
    """A first scan asks its own set whether a key is new; once another process has committed to the
    store (a second scan at the same time), it asks SQLite again."""
    path = str(tmp_path / "c.db")
    conn = db.open_store(path, check=False)
    registry = counted.Registry(conn)
    mine, theirs = counted.key_hash("a"), counted.key_hash("b")
    conn.execute("BEGIN IMMEDIATE")
    registry.begin()
    assert registry.any_counted([mine, theirs]) is False  # empty: no lookup at all
    registry.add_many([registry.row(mine, ev(occurred_at=MIDNIGHT))])
    conn.execute("COMMIT")
    assert registry.any_counted([mine]) is True and registry.any_counted([theirs]) is False
    other = db.connect(path)
    other.execute("BEGIN IMMEDIATE")
    counted.Registry(other).add_many([counted.Registry(other).row(theirs, ev(message_id="x", occurred_at=MIDNIGHT))])
    other.execute("COMMIT")
    other.close()
    conn.execute("BEGIN IMMEDIATE")
    registry.begin()
    assert registry.any_counted([theirs]) is True  # seen through SQLite
    conn.execute("COMMIT")
    conn.close()
