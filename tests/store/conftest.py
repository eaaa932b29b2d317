import sqlite3

import pytest

from openusage.store import db
from openusage.store.writer import Writer


@pytest.fixture
def store(tmp_path):
    """A running writer on a real database file, and a function opening read connections."""
    path = str(tmp_path / "telemetry.db")
    writer = Writer(path)
    writer.start()
    readers = []

    def reader() -> sqlite3.Connection:
        conn = db.connect(path, readonly=True)
        readers.append(conn)
        return conn

    yield writer, reader
    writer.stop()
    for conn in readers:
        conn.close()
