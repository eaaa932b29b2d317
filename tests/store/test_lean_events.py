"""Schema 6: lean event rows (store/event_schema.py). A version 5 store's event rows are rewritten with
their key hashed and their place interned, and keep everything they held; the writer goes on deduping,
growing and pruning them by that key."""
import dataclasses
import sqlite3
import time

from test_read_model_rollups import events, schema_at, write

from openusage.store import counted, db, readmodel, retention
from openusage.store.writer import Writer

OLD_COLUMNS = (
    "id, dedup_key, source, provider_id, account_id, event_type, occurred_at, session_id, turn_id, message_id, "
    "tool_call_id, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, "
    "cost_usd, cost_logged_usd, cost_computed_usd, requests, tool_name, project, mcp_server, raw, ingested_at"
)
DETAIL = OLD_COLUMNS.replace("dedup_key", "key")


def version_5_store(path, evs):
    """The store version 5 wrote of these events (its rows as the writer keeps them, keys as text)."""
    new = path + ".new"
    write(new, evs)
    conn = sqlite3.connect(path, isolation_level=None)
    schema_at(conn, 5)
    keys = {counted.key_hash(ev.dedup_key()): ev.dedup_key() for ev in evs}
    conn.create_function("text_key", 1, keys.__getitem__)
    conn.execute("ATTACH DATABASE ? AS new", (new,))
    for table in ("counted", "rollup_q", "rollup_d", "rollup_qm", "dim_q", "dim_d", "sessions", "meta"):
        conn.execute(f"INSERT INTO {table} SELECT * FROM new.{table}")
    # Places as version 5 kept them: a growable message's only.
    conn.execute("INSERT INTO counted_place SELECT * FROM new.counted_place WHERE id IN (SELECT place FROM "
                 "new.counted)")
    conn.execute(f"INSERT INTO events({OLD_COLUMNS}) SELECT {DETAIL.replace('key', 'text_key(key)', 1)} "
                 "FROM new.event_detail")
    conn.execute("UPDATE events SET raw = '{\"a\":1}' WHERE id % 7 = 0")  # payloads stay as they were
    conn.execute("DETACH DATABASE new")
    conn.execute("PRAGMA user_version=5")
    conn.close()
    return new


def test_a_version_5_store_keeps_every_event_row_and_its_read_model(tmp_path):
    now = time.time()
    evs = events(now)
    path = str(tmp_path / "old.db")
    version_5_store(path, evs)
    conn = sqlite3.connect(path)
    before = conn.execute(f"SELECT {OLD_COLUMNS} FROM events ORDER BY id").fetchall()
    conn.close()
    conn = db.open_store(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0  # the old rows' pages given back
        after = conn.execute(f"SELECT {DETAIL} FROM event_detail ORDER BY id").fetchall()
        assert [r[:1] + (counted.key_hash(r[1]),) + r[2:] for r in before] == after
        assert len(after) == len(evs)
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(events)")}
        assert "events_time" in indexes and "events_account_time" not in indexes
        assert conn.execute("SELECT COUNT(*) FROM events WHERE place NOT IN (SELECT id FROM counted_place)"
                            ).fetchone() == (0,)
        migrated = {w: readmodel.build(conn, w, now=now) for w in ("3d", "30d", "all")}
    finally:
        conn.close()
    fresh = str(tmp_path / "fresh.db")
    write(fresh, evs)
    conn = db.connect(fresh, readonly=True)
    try:
        assert migrated == {w: readmodel.build(conn, w, now=now) for w in ("3d", "30d", "all")}
    finally:
        conn.close()


def test_a_migrated_store_dedups_grows_and_prunes_its_rows_by_key(tmp_path):
    now = time.time()
    evs = events(now)
    path = str(tmp_path / "old.db")
    version_5_store(path, evs)
    message = next(ev for ev in evs if ev.event_type == "message_usage" and now - ev.occurred_at < 86400 * 20)
    larger = dataclasses.replace(message, output_tokens=message.output_tokens + 1000, project="moved")
    writer = Writer(path)
    writer.start()
    try:
        assert writer.submit_events(evs[:300]).wait(30)["duplicates"] == 300
        assert writer.submit_events([larger]).wait(30)["updated"] == 1
        writer.submit_call(lambda c: retention.prune(c, 20, now)).wait(30)
    finally:
        writer.stop()
    conn = db.connect(path, readonly=True)
    try:
        row = conn.execute("SELECT output_tokens, project, model FROM event_detail WHERE key=?",
                           (counted.key_hash(message.dedup_key()),)).fetchone()
        assert row == (message.output_tokens + 1000, "moved", message.model)
        oldest = conn.execute("SELECT MIN(occurred_at) FROM events").fetchone()[0]
        assert oldest >= now - 21 * 86400 - retention.MARGIN_SECONDS
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == sum(
            1 for ev in evs if ev.occurred_at >= now - 21 * 86400)
    finally:
        conn.close()
