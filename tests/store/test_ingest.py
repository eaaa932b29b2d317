from openusage.core.events import UsageEvent
from openusage.store import db, ingest


def ev(n):
    return UsageEvent(source="claude_code", provider_id="claude_code", account_id="claude_code",
                      event_type="message_usage", occurred_at=1_790_000_000.0 + n, message_id=f"m{n}",
                      input_tokens=1, requests=1)


def test_a_lazy_stream_is_written_in_batches_with_few_waiting(store):
    writer, reader = store
    conn = reader()
    total = ingest.EVENT_BATCH * (ingest.IN_FLIGHT + 3) + 7
    behind = []

    def stream():
        for n in range(total):
            if n % ingest.EVENT_BATCH == 0:  # how far parsing runs ahead of what is committed
                behind.append(n - conn.execute("SELECT COUNT(*) FROM event_detail").fetchone()[0])
            yield ev(n)

    seen = []
    assert ingest.write_events(writer, stream(), each=seen.append) == total
    assert len(seen) == total
    assert conn.execute("SELECT COUNT(*) FROM event_detail").fetchone()[0] == total
    assert max(behind) <= (ingest.IN_FLIGHT + 1) * ingest.EVENT_BATCH


def test_no_events_writes_nothing(store):
    writer, _ = store
    assert ingest.write_events(writer, None) == 0
    assert ingest.write_events(writer, iter(())) == 0


def test_saved_state_is_the_text_written(store):
    writer, reader = store
    writer.submit_state("codex", "codex", {"v": 1}, '{"v":1}').wait(10)
    conn = reader()
    assert db.saved_state(conn, "codex", "codex") == '{"v":1}'
    assert db.saved_state(conn, "codex", "other") is None


def test_summed_batches_are_written_in_their_place_in_the_stream(tmp_path):
    """A direct scan's stream mixes events and workers' summed batches: each goes in its order."""
    from openusage.store.batch import CountedBatch
    from openusage.store.writer import Writer

    first, summed, last = [ev(0), ev(1)], [ev(n) for n in range(2, 6)], [ev(6)]
    batch = CountedBatch.from_events(summed)
    assert batch is not None
    calls = []
    w = Writer(str(tmp_path / "cache.db"), check=False, keep_raw=False, keys_only=True)
    w.start()
    try:
        real_events, real_counted = w.submit_events, w.submit_counted
        w.submit_events = lambda evs: calls.append(("events", len(evs))) or real_events(evs)
        w.submit_counted = lambda bs: calls.append(("counted", sum(b.size() for b in bs))) or real_counted(bs)
        assert ingest.write_events(w, iter(first + [batch] + last), event_batch=100) == 7
    finally:
        w.stop()
    assert calls == [("events", 2), ("counted", 4), ("events", 1)]
    conn = db.connect(str(tmp_path / "cache.db"), readonly=True)
    assert conn.execute("SELECT COUNT(*), SUM(input) FROM counted").fetchone() == (7, 7)
    conn.close()
