"""Plan-window readings as a series in the store: written with snapshots, read back with pace and status."""
import sqlite3

from openusage.core.snapshot import RateLimit, UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.store import db, readmodel, retention

T = 1795348800.0
H = 3600.0


def snap(used, at, resets=T + 3 * H, source="oauth", status="OK", name="5h"):
    return UsageSnapshot(provider_id="claude_code", account_id="claude_code", status=status, rate_limits={
        name: RateLimit(used_percent=used, resets_at=format_rfc3339(resets), source=source,
                        observed_at=format_rfc3339(at), window_seconds=18000),
        "rpm": RateLimit(limit=50, remaining=49)})


def rows(reader):
    return reader().execute("SELECT name, observed_at, used_percent, source FROM limit_readings "
                            "ORDER BY observed_at").fetchall()


def test_readings_are_a_series_a_repeat_adds_nothing_a_quiet_window_is_thinned(store):
    writer, reader = store
    for s in (snap(10.0, T), snap(10.0, T), snap(10.0, T + 60), snap(12.0, T + 120), snap(12.0, T + 120 + 700)):
        writer.submit_snapshot(s).wait(10)
    assert rows(reader) == [("5h", T, 10.0, "oauth"), ("5h", T + 120, 12.0, "oauth"),
                            ("5h", T + 820, 12.0, "oauth")]


def test_the_read_model_projects_pace_keeps_history_and_raises_status(store):
    writer, reader = store
    for i, used in enumerate((4.0, 20.0, 40.0)):
        writer.submit_snapshot(snap(used, T - 2 * H + i * H)).wait(10)
    model = readmodel.build(reader(), "7d", now=T + 60)
    got = model["snapshots"]["claude_code"]
    five = got["rate_limits"]["5h"]
    # The window began 2h before T (resets at T+3h, 5h long): 4 % then, 40 % now: 18 %/h, full at T+3h20m.
    assert five["pace"] == {"rate_percent_per_hour": 18.0, "exhausts_at": format_rfc3339(T + 3 * H + 20 * 60),
                            "before_reset": False}
    assert got["extras"]["limits_history"]["5h"] == [[T - 2 * H, 4.0], [T - H, 20.0], [T, 40.0]]
    assert "pace" not in got["rate_limits"]["rpm"]
    assert got["status"] == "OK"
    writer.submit_snapshot(snap(85.0, T + 120)).wait(10)
    got = readmodel.build(reader(), "7d", now=T + 180, warn_threshold=0.2)["snapshots"]["claude_code"]
    assert got["status"] == "WARN" and got["message"].startswith("5h plan window 85% used")
    assert got["rate_limits"]["5h"]["pace"]["before_reset"] is True
    writer.submit_snapshot(snap(100.0, T + 240)).wait(10)
    got = readmodel.build(reader(), "7d", now=T + 300)["snapshots"]["claude_code"]
    assert got["status"] == "LIMIT"
    writer.submit_snapshot(snap(100.0, T + 360, status="AUTH")).wait(10)
    assert readmodel.build(reader(), "7d", now=T + 400)["snapshots"]["claude_code"]["status"] == "AUTH"


def test_retention_and_clear_history(store):
    writer, reader = store
    writer.submit_snapshot(snap(10.0, T - 20 * 86400, resets=T - 20 * 86400 + H)).wait(10)
    writer.submit_snapshot(snap(10.0, T)).wait(10)
    writer.submit_call(lambda conn: retention.prune(conn, 7, now=T)).wait(10)
    assert [r[1] for r in rows(reader)] == [T]
    writer.submit_call(retention.clear_history).wait(10)
    assert rows(reader) == []


def test_a_version_1_store_is_migrated(tmp_path):
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in db._split(db.MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    conn.execute("INSERT INTO meta VALUES('kept', 'yes')")
    conn.close()
    conn = db.open_store(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    assert db.get_meta(conn, "kept") == "yes"
    assert conn.execute("SELECT COUNT(*) FROM limit_readings").fetchone()[0] == 0
    conn.close()
