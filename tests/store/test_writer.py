import sqlite3
import threading

from openusage.core.events import UsageEvent
from openusage.core.snapshot import UsageSnapshot
from openusage.store import db
from openusage.store.writer import Writer


def ev(**kw):
    base = dict(source="claude_code", provider_id="claude_code", account_id="claude_code",
                event_type="message_usage", occurred_at=1_790_000_000.0)
    base.update(kw)
    return UsageEvent(**base)


def test_dedup_chain_first_present_key_wins(store):
    writer, reader = store
    events = [
        ev(event_type="tool_usage", tool_call_id="toolu_1", message_id="m1", tool_name="Bash"),
        ev(event_type="tool_usage", tool_call_id="toolu_1", tool_name="Bash", occurred_at=1_790_000_100.0),
        ev(message_id="m1:r1", input_tokens=10, requests=1),  # a message is another fact than its tool call
        ev(turn_id="t1", event_type="turn_completed"),
        ev(turn_id="t1", event_type="turn_completed", occurred_at=1_790_000_500.0),
        ev(event_type="session_start", session_id="s", raw={"a": 1}),
        ev(event_type="session_start", session_id="s", raw={"a": 1}),
        ev(event_type="session_start", session_id="s", raw={"a": 2}),
    ]
    result = writer.submit_events(events).wait(10)
    assert result == {"stored": 5, "updated": 0, "duplicates": 3}
    conn = reader()
    assert conn.execute("SELECT COUNT(*) FROM event_detail").fetchone()[0] == 5
    assert writer.counters["duplicates_dropped"] == 3


def test_a_later_larger_copy_of_a_message_replaces_it(store):
    writer, reader = store
    writer.submit_events([ev(message_id="m:r", model="m", input_tokens=100, output_tokens=1, cost_usd=0.1,
                             requests=1)]).wait(10)
    assert writer.submit_events([ev(message_id="m:r", model="m", input_tokens=100, output_tokens=1,
                                    requests=1)]).wait(10)["duplicates"] == 1
    r = writer.submit_events([ev(message_id="m:r", model="m", input_tokens=100, output_tokens=400,
                                 cost_usd=0.5, requests=1)]).wait(10)
    assert r == {"stored": 0, "updated": 1, "duplicates": 0}
    # A smaller, earlier copy arriving late changes nothing.
    assert writer.submit_events([ev(message_id="m:r", model="m", input_tokens=100, output_tokens=50,
                                    requests=1)]).wait(10)["duplicates"] == 1
    conn = reader()
    assert conn.execute("SELECT output_tokens, cost_usd FROM event_detail").fetchall() == [(400, 0.5)]
    assert conn.execute("SELECT SUM(output), SUM(cost), SUM(requests), SUM(events) FROM rollup_q").fetchone() == (
        400, 0.5, 1, 1)
    assert conn.execute("SELECT SUM(output), SUM(requests) FROM rollup_d").fetchone() == (400, 1)


def test_a_copy_with_as_many_tokens_and_a_higher_cost_replaces_it(store):
    # Crush logs only a session's running cost: the session grows by its cost alone, in each path.
    writer, reader = store
    crush = dict(source="crush", provider_id="crush", account_id="crush", message_id="sess", model="m", requests=1)
    writer.submit_events([ev(**crush, cost_usd=0.4, cost_logged_usd=0.4)]).wait(10)
    assert writer.submit_events([ev(**crush, cost_usd=0.5, cost_logged_usd=0.5)]).wait(10)["updated"] == 1
    r = writer.submit_events([ev(**crush, cost_usd=0.6, cost_logged_usd=0.6)] * 3
                             + [ev(**crush, cost_usd=0.55, cost_logged_usd=0.55)]).wait(10)
    assert (r["updated"], r["duplicates"]) == (1, 3)
    conn = reader()
    assert conn.execute("SELECT cost_usd FROM event_detail").fetchall() == [(0.6,)]
    assert conn.execute("SELECT SUM(cost), SUM(requests) FROM rollup_d").fetchone() == (0.6, 1)


def test_rollups_equal_the_events(store):
    writer, reader = store
    events = []
    for i in range(500):
        events.append(ev(message_id=f"m{i}", model=f"model-{i % 3}", input_tokens=i, output_tokens=2 * i,
                         cache_read_tokens=3, cache_write_tokens=1, cost_usd=i / 1000, requests=1,
                         occurred_at=1_790_000_000.0 + i * 700, session_id=f"s{i % 7}", project=f"p{i % 2}"))
        events.append(ev(event_type="tool_usage", tool_call_id=f"t{i}", tool_name="mcp__gh__x" if i % 4 else "Bash",
                         mcp_server="gh" if i % 4 else None, occurred_at=1_790_000_000.0 + i * 700))
    writer.submit_events(events).wait(10)
    conn = reader()
    for table in ("rollup_q", "rollup_d"):
        got = dict((r[0], r[1:]) for r in conn.execute(
            f"SELECT model, SUM(input), SUM(output), SUM(cache_read), SUM(requests) FROM {table} GROUP BY model"))
        want = dict((r[0], r[1:]) for r in conn.execute(
            "SELECT model, SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(requests) "
            "FROM event_detail "
            "WHERE event_type='message_usage' GROUP BY model"))
        assert got == want
    tools = dict(conn.execute("SELECT name, SUM(calls) FROM dim_d WHERE dim='tool' GROUP BY name").fetchall())
    assert tools == {"Bash": 125, "mcp__gh__x": 375}
    assert conn.execute("SELECT SUM(calls) FROM dim_q WHERE dim='mcp' AND name='gh'").fetchone()[0] == 375
    first, last = conn.execute("SELECT first_at, last_at FROM sessions WHERE session_id='s0'").fetchone()
    assert first == 1_790_000_000.0 and last == 1_790_000_000.0 + 497 * 700


def test_concurrent_submitters_are_group_committed(store):
    writer, reader = store
    results = []

    def send(n):
        for i in range(50):
            results.append(writer.submit_events([ev(message_id=f"{n}-{i}", input_tokens=1, requests=1)]).wait(10))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["stored"] for r in results) == 400
    assert reader().execute("SELECT SUM(input) FROM rollup_d").fetchone()[0] == 400


def test_snapshot_and_state_and_calls(store):
    writer, reader = store
    writer.submit_snapshot(UsageSnapshot(provider_id="p", account_id="a", status="OK")).wait(10)
    writer.submit_snapshot(UsageSnapshot(provider_id="p", account_id="a", status="ERR")).wait(10)
    writer.submit_state("p", "a", {"files": {"x": {"offset": 3}}}).wait(10)
    assert writer.submit_call(lambda conn: conn.execute("SELECT 41 + 1").fetchone()[0]).wait(10) == 42
    conn = reader()
    assert conn.execute("SELECT status FROM snapshots").fetchall() == [("ERR",)]
    assert conn.execute("SELECT state FROM provider_state").fetchone()[0] == '{"files":{"x":{"offset":3}}}'


def test_a_failing_call_does_not_fail_the_rest_of_the_batch(store):
    writer, reader = store
    bad = writer.submit_call(lambda conn: conn.execute("SELECT * FROM no_such_table"))
    good = writer.submit_events([ev(message_id="ok", input_tokens=1, requests=1)])
    assert good.wait(10)["stored"] == 1
    try:
        bad.wait(10)
        raise AssertionError("expected an error")
    except sqlite3.OperationalError:
        pass


def test_counters_persist_and_day_rollups_follow_a_zone_change(tmp_path, zone):
    path = str(tmp_path / "t.db")
    zone("UTC")
    writer = Writer(path)
    writer.start()
    # 2026-11-21 20:00 UTC is 2026-11-22 01:45 in Kathmandu.
    writer.submit_events([ev(message_id="x", input_tokens=5, requests=1, occurred_at=1_795_291_200.0)]).wait(10)
    writer.stop()
    conn = db.connect(path)
    assert conn.execute("SELECT day FROM rollup_d").fetchall() == [("2026-11-21",)]
    conn.close()
    zone("Asia/Kathmandu")
    writer = Writer(path)
    assert writer.counters["events_stored"] == 1
    writer.conn.close()
    conn = db.connect(path)
    assert conn.execute("SELECT day, input FROM rollup_d").fetchall() == [("2026-11-22", 5)]
    conn.close()


def test_corrupt_database_is_moved_aside(tmp_path):
    path = tmp_path / "telemetry.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    conn = db.open_store(str(path))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    conn.close()
    assert [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name]


def test_quarter_rollups_keep_every_cost_mode_and_project_session(store):
    writer, reader = store
    writer.submit_events([
        ev(message_id="a", model="m", input_tokens=10, requests=1, cost_usd=0.5, cost_logged_usd=0.5,
           cost_computed_usd=0.4, project="web", session_id="s1"),
        ev(message_id="b", model="m", input_tokens=10, requests=1, cost_usd=0.3, cost_computed_usd=0.3,
           project="web", session_id="s2"),
    ]).wait(10)
    # a later, larger copy of "a" moves every cost column by its difference
    writer.submit_events([ev(message_id="a", model="m", input_tokens=20, requests=1, cost_usd=0.9,
                             cost_logged_usd=0.9, cost_computed_usd=0.8, project="web", session_id="s1")]).wait(10)
    rows = reader().execute(
        "SELECT session_id, project, input, cost, cost_calc, cost_logged FROM rollup_q ORDER BY session_id").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("s1", "web", 20), ("s2", "web", 10)]
    assert [tuple(round(x, 6) for x in r[3:]) for r in rows] == [(0.9, 0.8, 0.9), (0.3, 0.3, 0.0)]


def test_an_idle_writer_gives_the_counted_hashes_back_and_still_counts_once(tmp_path, monkeypatch):
    import time

    from openusage.store import writer as writer_mod

    monkeypatch.setattr(writer_mod, "IDLE_RELEASE", 0.05)
    writer = Writer(str(tmp_path / "telemetry.db"))
    writer.start()
    try:
        bulk = [ev(message_id=f"m{i}:r", model="m", output_tokens=i + 1, requests=1) for i in range(300)]
        assert writer.submit_events(bulk).wait(10)["stored"] == 300
        assert writer._counted._added is not None and len(writer._counted._added) == 300  # a catch-up's set
        deadline = time.monotonic() + 5
        while writer._counted._added is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert writer._counted._added is None  # idle: given back, and the places it had interned
        assert writer._counted._ids == {} and writer._counted._places == {}
        again = writer.submit_events(bulk[:200] + [ev(message_id="m299:r", model="m", output_tokens=900,
                                                      requests=1)]).wait(10)
        assert again == {"stored": 0, "updated": 1, "duplicates": 200}  # SQLite answers the same
    finally:
        writer.stop()
