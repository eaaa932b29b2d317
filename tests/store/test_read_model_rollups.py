"""Schema 5: sessions' whole-life breakdown sums and rollup_qm (quarter-hour usage by model alone, the
last db.QUARTER_MODEL_DAYS): filled by the migration of an older store, pruned past their days, cleared
with the history."""
import random
import sqlite3
import time

from openusage.core.events import UsageEvent
from openusage.store import db, readmodel, retention
from openusage.store.writer import Writer

SESSION_SUMS = "provider_id, account_id, session_id, calls, requests, tokens, ROUND(cost, 9)"
QM = "provider_id, account_id, bucket, model, input, output, cache_read, cache_write, reasoning, ROUND(cost, 9), " \
     "requests, events"


def events(now, seed=11):
    """Messages and tool calls over 40 days, none within an hour of the rollup_qm cut (32 days back)."""
    rnd = random.Random(seed)
    out = []
    for i in range(1500):
        at = now - rnd.choice([rnd.uniform(33 * 86400, 40 * 86400), rnd.uniform(0, 31 * 86400)])
        session = f"s{rnd.randrange(60)}"
        if rnd.random() < 0.3:
            out.append(UsageEvent(source="claude_code", provider_id="claude_code", account_id="claude_code",
                                  event_type="tool_usage", occurred_at=at, tool_call_id=f"t{i}", tool_name="Bash",
                                  session_id=session, project="web"))
            continue
        out.append(UsageEvent(source="codex", provider_id=rnd.choice(["claude_code", "codex"]),
                              account_id=rnd.choice(["a", "b"]), event_type="message_usage", occurred_at=at,
                              message_id=f"m{i}", model=rnd.choice(["m-1", "m-2"]), input_tokens=rnd.randrange(900),
                              output_tokens=rnd.randrange(400), cost_usd=rnd.randrange(1, 9000) / 1e6, requests=1,
                              session_id=session, project=rnd.choice(["web", "api"])))
    return out


def schema_at(conn, version):
    """Bring an empty database to the schema of `version` (as that version's openusage made it)."""
    for step in db.MIGRATIONS[:version]:
        if callable(step):
            step(conn)
        else:
            for statement in db._split(step):
                conn.execute(statement)


def write(path, evs):
    writer = Writer(path)
    writer.start()
    try:
        writer.submit_events(evs).wait(60)
    finally:
        writer.stop()


def rows(path, sql):
    conn = db.connect(path, readonly=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def models(path, now):
    conn = db.connect(path, readonly=True)
    try:
        return {w: readmodel.build(conn, w, now=now) for w in ("1d", "3d", "7d", "30d", "all")}
    finally:
        conn.close()


def test_a_version_4_store_is_migrated_to_the_sums_the_writer_keeps(tmp_path):
    now = time.time()
    new, old = str(tmp_path / "new.db"), str(tmp_path / "old.db")
    write(new, events(now))
    conn = sqlite3.connect(old, isolation_level=None)  # the same store as version 4 wrote it
    schema_at(conn, 4)
    conn.execute("ATTACH DATABASE ? AS new", (new,))
    for table in ("counted", "counted_place", "rollup_q", "rollup_d", "dim_q", "dim_d", "meta"):
        conn.execute(f"INSERT INTO {table} SELECT * FROM new.{table}")
    conn.execute(  # the event rows as version 4 held them: the key as text, the place's strings in each row
        "INSERT INTO events SELECT id, 'key-' || key, source, provider_id, account_id, event_type, occurred_at, "
        "session_id, turn_id, message_id, tool_call_id, model, input_tokens, output_tokens, cache_read_tokens, "
        "cache_write_tokens, reasoning_tokens, cost_usd, cost_logged_usd, cost_computed_usd, requests, tool_name, "
        "project, mcp_server, raw, ingested_at FROM new.event_detail")
    conn.execute("INSERT INTO sessions SELECT provider_id, account_id, session_id, project, first_at, last_at "
                 "FROM new.sessions")
    conn.execute("DETACH DATABASE new")
    conn.execute("PRAGMA user_version=4")
    conn.close()

    db.open_store(old).close()
    assert rows(old, "PRAGMA user_version") == [(db.SCHEMA_VERSION,)]
    order = " ORDER BY provider_id, account_id, session_id"
    assert rows(old, f"SELECT {SESSION_SUMS} FROM sessions" + order) == rows(new, f"SELECT {SESSION_SUMS} FROM sessions"
                                                                              + order)
    cut = int((now - db.QUARTER_MODEL_DAYS * 86400) // db.QUARTER)
    recent = rows(new, f"SELECT {QM} FROM rollup_qm WHERE bucket >= {cut} ORDER BY 1, 2, 3, 4")
    assert recent and rows(new, f"SELECT COUNT(*) FROM rollup_qm WHERE bucket < {cut}")[0][0] > 0
    assert rows(old, f"SELECT {QM} FROM rollup_qm ORDER BY 1, 2, 3, 4") == recent  # only the last days
    assert models(old, now) == models(new, now)


def test_pruning_keeps_the_quarter_model_rollups_a_window_reads(tmp_path):
    now = time.time()
    path = str(tmp_path / "t.db")
    write(path, events(now, seed=12))
    before = models(path, now)
    rollups_before = rows(path, "SELECT COUNT(*) FROM rollup_q")
    conn = db.open_store(path)
    retention.prune(conn, 365, now=now)
    cut = int((now - db.QUARTER_MODEL_DAYS * 86400) // db.QUARTER)
    assert conn.execute("SELECT MIN(bucket) FROM rollup_qm").fetchone()[0] >= cut
    assert conn.execute("SELECT COUNT(*) FROM rollup_qm").fetchone()[0] > 0
    conn.close()
    assert rows(path, "SELECT COUNT(*) FROM rollup_q") == rollups_before  # the others are kept for good
    assert models(path, now) == before
    conn = db.open_store(path)
    retention.clear_history(conn)
    assert conn.execute("SELECT COUNT(*) FROM rollup_qm").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    conn.close()
