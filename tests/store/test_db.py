import os

from openusage.store import db


def _wal(path):
    return os.path.getsize(path + "-wal")


def test_a_wal_grown_by_a_large_write_is_cut_back_at_the_next_commit(tmp_path):
    path = str(tmp_path / "telemetry.db")
    conn = db.open_store(path)
    reader = db.connect(path, readonly=True)  # as the daemon's read connections are open beside it
    try:
        assert reader.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0
        conn.execute("BEGIN IMMEDIATE")
        for n in range(4000):  # ~16 MB in one transaction, as a catch-up's events are
            db.set_meta(conn, f"k{n}", os.urandom(2000).hex())
        conn.execute("COMMIT")
        assert _wal(path) > 3 * db.WAL_SIZE_LIMIT
        db.set_meta(conn, "k0", "small")  # the next write: after the checkpoint at the large commit
        assert _wal(path) <= db.WAL_SIZE_LIMIT
        assert db.get_meta(reader, "k0") == "small"
        assert reader.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 4000
    finally:
        reader.close()
        conn.close()


def test_read_connections_leave_the_wal_limit_to_the_writer(tmp_path):
    path = str(tmp_path / "telemetry.db")
    db.open_store(path).close()
    writer, reader = db.connect(path), db.connect(path, readonly=True)
    try:
        assert writer.execute("PRAGMA journal_size_limit").fetchone()[0] == db.WAL_SIZE_LIMIT
        assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reader.execute("PRAGMA journal_size_limit").fetchone()[0] == -1
    finally:
        writer.close()
        reader.close()
