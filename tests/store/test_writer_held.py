"""A keys-only store (the reports cache) takes a scan's batches in one transaction, committed with the
collector's state: a write that fails on the way must not leave the state saying those files were read.
The daemon's store holds workers' batches for a moment (a second) the same way, and never a hook's write."""
import sqlite3
import time

import pytest

from openusage.core.events import UsageEvent
from openusage.store.batch import BatchBuilder, CountedBatch
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


def _started(path, **options):
    """A started writer on `path` and the path; stopped after the test."""
    writer = Writer(path, **options)
    writer.start()
    yield writer, path
    if writer.is_alive():
        writer.stop()


@pytest.fixture
def cache(tmp_path):
    """A started keys-only writer (the reports cache's) and its database's path."""
    yield from _started(str(tmp_path / "cache.db"), keep_raw=False, keys_only=True)


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


# --- the daemon's store: workers' batches held a moment (Writer.hold_counted seconds) -------------

def _full_batch(ident, output, session="s1"):
    """A worker's batch for a store that keeps event rows (BatchBuilder(full=True)), as the daemon takes."""
    builder = BatchBuilder("claude_code", full=True)
    builder.add("claude_code", "a", "message_usage", "message_id", ident, NOW, "m", "app", session, None, None,
                0, output, 0, 0, 0, None, None, None, 1)
    return builder.build()


def _events(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*), coalesce(sum(output_tokens), 0) FROM events").fetchone()
    finally:
        conn.close()


@pytest.fixture
def daemon_store(tmp_path):
    """A started writer of a store that keeps event rows (the daemon's) and its database's path."""
    yield from _started(str(tmp_path / "telemetry.db"))


def test_the_daemons_held_batches_are_committed_before_a_hook_is_answered(daemon_store):
    writer, path = daemon_store
    writer.hold_counted = 30.0
    writer.submit_counted([_full_batch("m1:r1", 3)]).wait(10)
    assert _events(path) == (1, 3)  # the first of a catch-up is committed at once: first data on screen
    writer.submit_counted([_full_batch("m2:r2", 4)]).wait(10)
    assert _events(path) == (1, 3)  # the next answered, held
    hook = UsageEvent(source="claude_code", provider_id="claude_code", account_id="a", event_type="tool_usage",
                      occurred_at=NOW, tool_call_id="toolu_1", tool_name="Bash", session_id="s1")
    assert writer.submit_events([hook]).wait(10)["stored"] == 1
    assert _events(path) == (3, 7)  # the hook's answer means its commit, and the batches' before it


def test_the_daemons_held_batches_are_committed_within_the_hold(daemon_store):
    writer, path = daemon_store
    writer.hold_counted = 0.2
    writer.submit_counted([_full_batch("m1:r1", 3)]).wait(10)
    deadline = time.monotonic() + 10
    while _events(path) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _events(path) == (1, 3)  # nothing else came: committed once the hold was up
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT calls, requests, tokens FROM sessions").fetchall() == [(0, 1, 3)]
        assert conn.execute("SELECT name, requests, tokens FROM dim_d ORDER BY dim").fetchall() == [
            ("app", 1, 3), ("s1", 1, 3)]
    finally:
        conn.close()


def test_a_failed_held_batch_of_the_daemon_fails_the_state(daemon_store):
    writer, path = daemon_store
    writer.hold_counted = 30.0
    writer.submit_counted([_full_batch("m0:r0", 1)]).wait(10)  # committed: the first of the catch-up
    writer.submit_counted([_full_batch("m1:r1", 3)]).wait(10)  # held
    with pytest.raises(Exception, match="too large|overflow|store write failed"):
        writer.submit_counted([_full_batch("m2:r2", 2 ** 70)]).wait(10)
    with pytest.raises(RuntimeError, match="store write failed"):
        writer.submit_state("claude_code", "a", {"files": {"f": {"offset": 10}}}).wait(10)
    assert _events(path) == (1, 1)
    writer.submit_counted([_full_batch("m1:r1", 3)]).wait(10)
    writer.submit_state("claude_code", "a", {"files": {"f": {"offset": 10}}}).wait(10)
    assert _events(path) == (2, 4)
