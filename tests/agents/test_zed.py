"""Zed: its threads database; zstd rows this Python cannot read are counted as skipped (fixture: tests/fixtures/zed)."""
import json
import os
import sqlite3

import pytest
from agentcase import install, poller, store_events, totals
from support import usage

from openusage.agents import zed
from openusage.agents.files import Found
from openusage.agents.records import Skip

FOUND = Found("/z/threads/threads.db", "/z", ("threads",), "threads.db")


def test_a_json_thread_is_one_growing_record_and_zstd_is_never_guessed():
    doc = {"cumulative_token_usage": {"input_tokens": 10, "output_tokens": 2, "cache_read_input_tokens": 30},
           "model": {"provider": "anthropic", "model": "claude-sonnet-4-5"}}
    row = {"id": "T", "data_type": "json", "data": json.dumps(doc).encode(), "created_at": "2026-11-30T10:00:00+00:00",
           "folder_paths": "/home/dev/app"}
    (u,) = zed.parse_thread_row(row, FOUND)
    assert (u.key, u.input_tokens, u.cache_read_tokens, u.model, u.project) == ("T", 10, 30, "claude-sonnet-4-5", "app")
    if zed._zstd_decompress() is None:
        with pytest.raises(Skip, match="zstd_unreadable"):
            zed.parse_thread_row(dict(row, data_type="zstd", data=b"\x28\xb5\x2f\xfd"), FOUND)
    with pytest.raises(Skip, match="unknown_data_type"):
        zed.parse_thread_row(dict(row, data_type="brotli"), FOUND)


@pytest.mark.skipif(zed._zstd_decompress() is not None, reason="this Python reads zstd")
def test_fixture_counts_the_zstd_row_as_skipped_and_a_rewritten_thread_grows(isolated_home, store, zone):
    zone("UTC")
    writer, reader = store
    home = install("zed", isolated_home)
    p = poller("zed", home)
    events, snap = p.poll()
    assert [e.message_id for e in usage(events)] == ["b7c3-thread-json"]
    assert snap.extras["skipped_reasons"] == {"zstd_unreadable": 1}
    store_events(writer, events)
    path = os.path.join(home, ".local", "share", "zed", "threads", "threads.db")
    conn = sqlite3.connect(path)
    (data,) = conn.execute("SELECT data FROM threads WHERE id = 'b7c3-thread-json'").fetchone()
    doc = json.loads(data)
    doc["cumulative_token_usage"]["output_tokens"] += 1000
    conn.execute("UPDATE threads SET data = ?, updated_at = '2026-12-01T10:00:00+00:00' WHERE id = 'b7c3-thread-json'",
                 (json.dumps(doc).encode(),))
    conn.commit()
    conn.close()
    events, _ = p.poll()
    assert [e.message_id for e in usage(events)] == ["b7c3-thread-json"]
    store_events(writer, events)
    assert totals(reader(), "zed")[("2026-11-30", "claude-sonnet-4-5")][0] == 28510 + 1000
