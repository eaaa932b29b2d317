"""A keys-only store (the reports cache) takes a scan's batches in one transaction, committed with the
collector's state: a write that fails on the way must not leave the state saying those files were read."""
import sqlite3

import pytest

from openusage.core.events import UsageEvent
from openusage.store.batch import CountedBatch
from openusage.store.writer import Writer

NOW = 1_795_000_000.0


def _batch(ident, output):
    ev = UsageEvent(source="claude_code", provider_id="claude_code", account_id="a", event_type="message_usage",
                    occurred_at=NOW, message_id=ident, model="m", output_tokens=output, requests=1)
    return CountedBatch.from_events([ev])


def _rows(path):
    conn = sqlite3.connect(path)
    try:
        return (conn.execute("SELECT count(*) FROM counted").fetchone()[0],
                conn.execute("SELECT coalesce(sum(output), 0) FROM rollup_q").fetchone()[0],
                conn.execute("SELECT count(*) FROM provider_state").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def cache(tmp_path):
    """A started keys-only writer (the reports cache's) and its database's path."""
    path = str(tmp_path / "cache.db")
    writer = Writer(path, keep_raw=False, keys_only=True)
    writer.start()
    yield writer, path
    if writer.is_alive():
        writer.stop()


def test_batches_are_committed_with_the_state(cache):
    writer, path = cache
    writer.submit_counted([_batch("m1:r1", 3)]).wait(10)
    writer.submit_counted([_batch("m2:r2", 4)]).wait(10)
    assert _rows(path) == (0, 0, 0)  # answered, not committed: another reader sees none of it yet
    writer.submit_state("claude_code", "a", {"files": {}}).wait(10)
    assert _rows(path) == (2, 7, 1)


def test_a_failed_batch_fails_the_state_and_the_next_scan_starts_clean(cache):
    writer, path = cache
    writer.submit_counted([_batch("m1:r1", 3)]).wait(10)  # held
    with pytest.raises(Exception, match="too large|overflow|store write failed"):
        writer.submit_counted([_batch("m2:r2", 2 ** 70)]).wait(10)  # SQLite cannot take it: all rolled back
    with pytest.raises(RuntimeError, match="store write failed"):
        writer.submit_state("claude_code", "a", {"files": {"f": {"offset": 10}}}).wait(10)
    assert _rows(path) == (0, 0, 0)  # neither the first batch nor a state that would skip its file
    # The next scan reads the file again and is counted once.
    writer.submit_counted([_batch("m1:r1", 3)]).wait(10)
    writer.submit_state("claude_code", "a", {"files": {"f": {"offset": 10}}}).wait(10)
    assert _rows(path) == (1, 3, 1)


def test_a_held_transaction_is_committed_at_stop(cache):
    writer, path = cache
    writer.submit_counted([_batch("m1:r1", 3)]).wait(10)
    writer.stop()
    assert _rows(path) == (1, 3, 0)
