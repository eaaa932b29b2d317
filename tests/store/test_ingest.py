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
                behind.append(n - conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
            yield ev(n)

    seen = []
    assert ingest.write_events(writer, stream(), each=seen.append) == total
    assert len(seen) == total
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == total
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
