import json
import os
import stat

import pytest

from openusage.daemon import spool


def test_write_is_private_and_readable(tmp_path):
    path = spool.write(str(tmp_path / "sp"), "claude-code", "acct", b'{"a": 1}', 1_795_000_000.5)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    record = spool.read_record(path)
    assert record == {"v": 1, "source": "claude-code", "account_id": "acct", "received_at": 1_795_000_000.5,
                      "body": '{"a": 1}'}
    assert not [n for n in os.listdir(tmp_path / "sp") if n.startswith(".")]  # no temp files left


def test_drain_oldest_first_bad_set_aside_expired_kept(tmp_path):
    directory = str(tmp_path / "sp")
    spool.write(directory, "s", None, b"{}", 1_795_000_002.0)
    spool.write(directory, "s", None, b"{}", 1_795_000_001.0)
    spool.write(directory, "s", None, b"{}", 1_700_000_000.0)  # older than 90 days
    with open(os.path.join(directory, "1-bad.json"), "w") as fh:
        fh.write("nope")
    with open(os.path.join(directory, "2-refused.json"), "w") as fh:
        json.dump({"v": 1, "source": "s", "received_at": 1_795_000_000.0, "body": "{bad"}, fh)
    seen = []

    def ingest(record):
        if record["body"] == "{bad":
            raise ValueError("malformed JSON")
        seen.append(record["received_at"])

    bad = []
    stats = spool.drain(directory, ingest, now=1_795_000_100.0, on_bad=lambda n, why: bad.append(n))
    assert stats == {"ingested": 2, "bad": 2, "expired": 1}
    assert seen == [1_795_000_001.0, 1_795_000_002.0]
    assert sorted(bad) == ["1-bad.json", "2-refused.json"]
    assert spool.depth(directory) == {"pending": 0, "bad": 3}


def test_ingest_failure_keeps_the_file_for_next_time(tmp_path):
    directory = str(tmp_path / "sp")
    spool.write(directory, "s", None, b"{}", 1_795_000_000.0)

    def down(record):
        raise TimeoutError("store busy")

    with pytest.raises(TimeoutError):
        spool.drain(directory, down, now=1_795_000_001.0)
    assert spool.depth(directory)["pending"] == 1


def test_caps_refuse_beyond_limits(tmp_path, monkeypatch):
    directory = str(tmp_path / "sp")
    monkeypatch.setattr(spool, "MAX_FILES", 2)
    spool.write(directory, "s", None, b"{}", 1.0)
    spool.write(directory, "s", None, b"{}", 2.0)
    with pytest.raises(spool.SpoolFull):
        spool.write(directory, "s", None, b"{}", 3.0)


def test_write_while_the_daemon_drains_a_file_away(tmp_path, monkeypatch):
    """A file listed by the cap check but drained before its stat must not fail the hook's write."""
    first = spool.write(str(tmp_path), "claude-code", None, b'{"a":1}', 1.0)
    real_scandir = os.scandir

    class Vanishing:
        def __init__(self, entries):
            self.entries = entries

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.entries.close()

        def __iter__(self):
            for entry in self.entries:
                if entry.path == first:
                    os.unlink(first)  # the daemon's drain wins the race
                yield entry

    monkeypatch.setattr(spool.os, "scandir", lambda d: Vanishing(real_scandir(d)))
    second = spool.write(str(tmp_path), "claude-code", None, b'{"b":2}', 2.0)
    monkeypatch.setattr(spool.os, "scandir", real_scandir)
    assert os.path.exists(second) and not os.path.exists(first)
    assert spool.depth(str(tmp_path))["pending"] == 1
