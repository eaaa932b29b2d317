"""The bulk write path (executemany, rollups summed by SQLite) stores exactly what the one-by-one path does."""
import random

import pytest

from openusage.core.events import UsageEvent
from openusage.store import db, event_rows, settle
from openusage.store.writer import Writer

TABLES = {
    "rollup_q": "provider_id, account_id, bucket, model, project, session_id",
    "rollup_d": "provider_id, account_id, day, model",
    "rollup_qm": "provider_id, account_id, bucket, model",
    "dim_q": "provider_id, account_id, bucket, dim, name",
    "dim_d": "provider_id, account_id, day, dim, name",
    "sessions": "provider_id, account_id, session_id",
    "event_detail": "key",
}


def generated(seed, n=3000):
    """Messages with growing streaming copies, tool calls, turns; some without cost, model or project.

    Copies of one message share its time, model, session and project (as streaming copies do);
    only their token counts and costs differ.
    """
    rnd = random.Random(seed)
    out = []
    base = 1_790_000_000.0
    for i in range(n):
        kind = rnd.random()
        if kind < 0.6:
            mid = rnd.randrange(n // 2)
            fixed = random.Random(mid)
            at = base + fixed.randrange(0, 5 * 86400) + fixed.randrange(1000) / 1000
            cost = rnd.choice([None, 0.0, rnd.random()])
            out.append(UsageEvent(
                source="claude_code", provider_id=fixed.choice(["claude_code", "codex"]), account_id="a",
                event_type="message_usage", occurred_at=at, session_id=fixed.choice([None, "", "s1", f"s{mid % 40}"]),
                message_id=f"m{mid}", model=fixed.choice([None, "m-1", "m-2"]), input_tokens=rnd.randrange(0, 100),
                output_tokens=rnd.randrange(0, 2000), cache_read_tokens=rnd.randrange(0, 5000),
                cache_write_tokens=rnd.choice([0, 300]), reasoning_tokens=rnd.randrange(0, 50),
                cost_usd=cost, cost_logged_usd=rnd.choice([None, cost]),
                cost_computed_usd=rnd.choice([None, rnd.random()]), requests=1,
                project=fixed.choice([None, "", "api", "web"])))
            continue
        at = base + rnd.randrange(0, 5 * 86400) + rnd.randrange(1000) / 1000
        session = rnd.choice([None, "", "s1", "s2", "s3", f"s{i % 40}"])
        project = rnd.choice([None, "", "api", "web"])
        if kind < 0.9:
            tool = rnd.choice(["Bash", "Read", "mcp__github__search", ""])
            out.append(UsageEvent(
                source="claude_code", provider_id="claude_code", account_id="a", event_type="tool_usage",
                occurred_at=at, session_id=session, tool_call_id=f"t{rnd.randrange(n // 2)}", tool_name=tool,
                mcp_server="github" if tool.startswith("mcp__") else None, project=project))
        else:
            out.append(UsageEvent(
                source="codex", provider_id="codex", account_id="a", event_type="turn_completed",
                occurred_at=at, session_id=session, turn_id=f"turn{rnd.randrange(50)}", project=project))
    return out


def dump(path):
    conn = db.connect(path, readonly=True)
    try:
        out = {}
        for table, order in TABLES.items():
            cols = "*" if table != "event_detail" else (
                "key, occurred_at, model, input_tokens, output_tokens, cache_read_tokens, "
                "cache_write_tokens, reasoning_tokens, cost_usd, cost_logged_usd, cost_computed_usd, requests")
            rows = conn.execute(f"SELECT {cols} FROM {table} ORDER BY {order}").fetchall()
            out[table] = [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows]
        return out
    finally:
        conn.close()


def write(path, batches, **options):
    w = Writer(path, check=False, **options)
    w.start()
    results = [w.submit_events(b).wait(60) for b in batches]
    counters = dict(w.counters)
    w.stop()
    return results, counters


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_batches_equal_one_by_one(tmp_path, zone, seed):
    zone("Asia/Kathmandu")  # +05:45: days of quarter buckets must follow the zone in both paths
    events = generated(seed)
    one_results, one_counters = write(str(tmp_path / "one.db"), [[e] for e in events])
    # Two bulk batches: the second meets the first's stored rows (growth and duplicates across batches).
    half = len(events) // 2
    assert half >= settle.BULK_ROLLUP_MIN
    bulk_results, bulk_counters = write(str(tmp_path / "bulk.db"), [events[:half], events[half:]])
    assert one_counters == bulk_counters
    for key in ("stored", "updated", "duplicates"):
        assert sum(r[key] for r in one_results) == sum(r[key] for r in bulk_results)
    one, bulk = dump(str(tmp_path / "one.db")), dump(str(tmp_path / "bulk.db"))
    for table in TABLES:
        assert one[table] == bulk[table], table


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_a_keys_only_writer_sums_what_the_full_writer_does(tmp_path, zone, seed):
    zone("Asia/Kathmandu")
    events = generated(seed)
    half = len(events) // 2
    batches = [events[:half], events[half:-40]] + [[e] for e in events[-40:]]  # bulk, then hook-sized
    full_results, full_counters = write(str(tmp_path / "full.db"), batches)
    keys_results, keys_counters = write(str(tmp_path / "keys.db"), batches, keep_raw=False, keys_only=True)
    assert full_counters == keys_counters and full_results == keys_results
    full, keys = dump(str(tmp_path / "full.db")), dump(str(tmp_path / "keys.db"))
    for table in ("rollup_q", "rollup_d"):
        assert full[table] == keys[table], table
    # Sessions alike but for their breakdown sums, which a store without breakdowns does not keep.
    assert [r[:6] for r in full["sessions"]] == [r[:6] for r in keys["sessions"]]
    assert {r[6:] for r in keys["sessions"]} == {(0, 0, 0, 0.0)}
    assert any(r[6:] != (0, 0, 0, 0.0) for r in full["sessions"])
    assert keys["event_detail"] == [] and keys["dim_q"] == keys["dim_d"] == keys["rollup_qm"] == []
    assert full["dim_q"] and full["dim_d"] and full["rollup_qm"]
    conn = db.connect(str(tmp_path / "keys.db"), readonly=True)
    stored = conn.execute("SELECT COUNT(*), SUM(input), SUM(output), SUM(cache_read), SUM(cache_write) "
                          "FROM counted").fetchone()
    conn.close()
    sums = [sum(r[i] for r in full["event_detail"]) for i in (3, 4, 5, 6)]
    assert stored == (len(full["event_detail"]), *sums)  # one key per stored event, holding its current counts


def test_clearing_history_clears_the_counted_keys(tmp_path):
    from openusage.store import retention

    path = str(tmp_path / "keys.db")
    write(path, [generated(9, n=400)], keys_only=True)
    conn = db.connect(path)
    conn.execute("BEGIN IMMEDIATE")
    retention.clear_history(conn)
    conn.execute("COMMIT")
    assert conn.execute("SELECT COUNT(*) FROM counted").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM rollup_q").fetchone()[0] == 0
    conn.close()
    full = str(tmp_path / "full.db")
    write(full, [generated(9, n=400)])
    conn = db.connect(full)
    conn.execute("BEGIN IMMEDIATE")
    retention.clear_history(conn)
    conn.execute("COMMIT")
    conn.close()


def test_copies_in_one_batch_settle_against_the_stored_row(tmp_path):
    """A smaller copy, then a larger one, of a stored message: one duplicate, one update, rollups grow once."""
    path = str(tmp_path / "s.db")

    def msg(out):
        return UsageEvent(source="claude_code", provider_id="claude_code", account_id="a",
                          event_type="message_usage", occurred_at=1_790_000_000.0, message_id="m:r",
                          model="m", input_tokens=10, output_tokens=out, requests=1)

    results, counters = write(path, [[msg(100)], [msg(50), msg(400), msg(300)]])
    assert results[1] == {"stored": 0, "updated": 1, "duplicates": 2}
    conn = db.connect(path, readonly=True)
    assert conn.execute("SELECT SUM(output), SUM(requests), SUM(events) FROM rollup_q").fetchone() == (400, 1, 1)
    conn.close()


def test_bulk_rollups_read_only_the_batch(tmp_path):
    """Each bulk rollup reads the batch's rowid range, never the whole table (a cold scan is not quadratic)."""
    w = Writer(str(tmp_path / "plan.db"), check=False)
    w.conn.create_function("ou_local_day", 1, lambda b: "2026-01-01")
    w.conn.execute(event_rows.BATCH_DIMS_TABLE)
    for sql in event_rows.BULK_ROLLUP_SQL:
        plan = " | ".join(r[3] for r in w.conn.execute("EXPLAIN QUERY PLAN " + sql, {"first": 1}))
        if "events" in sql.split("FROM", 1)[-1]:
            assert "SEARCH e USING INTEGER PRIMARY KEY (rowid>?)" in plan, (sql[:40], plan)
            assert "SEARCH p USING INTEGER PRIMARY KEY (rowid=?)" in plan, (sql[:40], plan)
            assert "SCAN e" not in plan and "SCAN p" not in plan, (sql[:40], plan)
    w.conn.close()
