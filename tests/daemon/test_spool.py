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


def _good(directory, n, account_id=None):
    return spool.write(directory, "claude-code", account_id, json.dumps({"n": n}).encode(), 1_795_000_000.0 + n)


def _drain_bounded(directory, ingest, seconds=10):
    """drain() in a thread: a spool entry that blocks the read fails the test instead of hanging it."""
    import threading

    out = {}
    bad = []
    t = threading.Thread(target=lambda: out.update(spool.drain(directory, ingest, now=1_795_000_100.0,
                                                                on_bad=lambda n, why: bad.append((n, why)))),
                         daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "the drain blocked on a spool entry"
    return out, dict(bad)


def test_entries_that_are_not_regular_files_go_to_bad_and_never_block(tmp_path):
    directory = str(tmp_path / "sp")
    os.makedirs(directory)
    os.mkfifo(os.path.join(directory, "00-fifo.json"))  # reading it would wait for a writer for ever
    os.mkdir(os.path.join(directory, "01-dir.json"))
    os.symlink("/dev/zero", os.path.join(directory, "02-zero.json"))  # reading it never ends
    os.symlink(_good(str(tmp_path / "elsewhere"), 9), os.path.join(directory, "03-link.json"))
    later = [_good(directory, n) for n in range(3)]
    seen = []
    stats, bad = _drain_bounded(directory, lambda record: seen.append(json.loads(record["body"])["n"]))
    assert seen == [0, 1, 2] and not any(os.path.exists(p) for p in later)
    assert stats == {"ingested": 3, "bad": 4, "expired": 0}
    assert sorted(bad) == ["00-fifo.json", "01-dir.json", "02-zero.json", "03-link.json"]
    assert "not a regular file" in bad["00-fifo.json"] and "not a regular file" in bad["01-dir.json"]
    kept = os.path.join(directory, "bad")
    assert stat.S_ISFIFO(os.lstat(os.path.join(kept, "00-fifo.json")).st_mode)
    assert os.path.isdir(os.path.join(kept, "01-dir.json"))
    assert os.readlink(os.path.join(kept, "02-zero.json")) == "/dev/zero"  # the link moved, not its target
    assert spool.depth(directory) == {"pending": 0, "bad": 4}


@pytest.mark.parametrize("field, value, why", [
    ("account_id", 42, "account_id is not a string"),
    ("account_id", {"id": "x"}, "account_id is not a string"),
    ("source", ["claude-code"], "source is not a string"),
    ("received_at", "1795000000", "received_at is not a number"),
    ("received_at", True, "received_at is not a number"),
    ("received_at", -5, "received_at out of range"),
    ("body", {"a": 1}, "body is not a string"),
    ("body", None, "body is not a string"),
])
def test_a_field_of_the_wrong_type_sets_the_record_aside(tmp_path, field, value, why):
    directory = str(tmp_path / "sp")
    os.makedirs(directory)
    record = {"v": 1, "source": "claude-code", "account_id": None, "received_at": 1_795_000_000.0, "body": "{}"}
    record[field] = value
    with open(os.path.join(directory, "00-typed.json"), "w") as fh:
        json.dump(record, fh)
    _good(directory, 1)
    seen = []
    stats, bad = _drain_bounded(directory, seen.append)
    assert bad == {"00-typed.json": why}
    assert stats["ingested"] == 1 and len(seen) == 1 and spool.depth(directory) == {"pending": 0, "bad": 1}


def test_the_body_limit_holds_for_spooled_records(tmp_path):
    directory = str(tmp_path / "sp")
    os.makedirs(directory)
    over = {"v": 1, "source": "claude-code", "account_id": None, "received_at": 1_795_000_000.0,
            "body": json.dumps({"pad": "x" * spool.MAX_BODY})}
    with open(os.path.join(directory, "00-big.json"), "w") as fh:
        json.dump(over, fh)
    with open(os.path.join(directory, "01-huge.json"), "wb") as fh:  # over the file limit: never read
        fh.truncate(spool.MAX_FILE_BYTES + 1)
    _good(directory, 1)
    seen = []
    stats, bad = _drain_bounded(directory, seen.append)
    assert "over the limit of 1048576 bytes" in bad["00-big.json"]
    assert "over the" in bad["01-huge.json"] and "byte limit" in bad["01-huge.json"]
    assert stats == {"ingested": 1, "bad": 2, "expired": 0} and len(seen) == 1


def test_a_name_taken_in_bad_does_not_stop_the_move(tmp_path):
    directory = str(tmp_path / "sp")
    os.makedirs(os.path.join(directory, "bad", "0.json"))  # a directory of that name is already there
    with open(os.path.join(directory, "0.json"), "w") as fh:
        fh.write("nope")
    _good(directory, 1)
    stats, bad = _drain_bounded(directory, lambda record: None)
    assert stats == {"ingested": 1, "bad": 1, "expired": 0}
    assert spool.depth(directory) == {"pending": 0, "bad": 2}
    assert os.path.isdir(os.path.join(directory, "bad", "0.json"))


def test_daemon_answers_and_drains_past_a_fifo_a_link_and_a_wrong_type(daemon_factory):
    """What hung the daemon at start (a FIFO) or held the spool up for ever, against the real daemon."""
    from support import wait_for

    from openusage.daemon import client

    d = daemon_factory()
    directory = os.path.join(d.state_dir, "telemetry-spool")
    os.makedirs(directory)
    os.mkfifo(os.path.join(directory, "0.json"))
    os.symlink("/dev/zero", os.path.join(directory, "1.json"))
    with open(os.path.join(directory, "2.json"), "w") as fh:
        json.dump({"v": 1, "source": "claude-code", "account_id": 7, "received_at": 1_795_000_000.0,
                   "body": "{}"}, fh)
    big = json.dumps({"session_id": "s", "hook_event_name": "Stop", "pad": "x" * 1024 * 1024})
    with open(os.path.join(directory, "3.json"), "w") as fh:
        json.dump({"v": 1, "source": "claude-code", "account_id": None, "received_at": 1_795_000_000.0,
                   "body": big}, fh)
    good = {"session_id": "s1", "hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_use_id": "toolu_after"}
    spool.write(directory, "claude-code", None, json.dumps(good).encode(), 1_795_000_001.0)
    d.start()
    assert wait_for(lambda: client.call_json(d.socket_path, "GET", "/healthz", timeout=2.0)["spool"]["pending"] == 0,
                    20)
    health = client.call_json(d.socket_path, "GET", "/healthz")
    assert health["events_stored"] == 1  # the good file after the four bad ones; the 1 MiB one was not stored
    assert health["spool"]["bad"] == 4 and health["spool"]["bad_total"] == 4
    assert sorted(os.listdir(os.path.join(directory, "bad"))) == ["0.json", "1.json", "2.json", "3.json"]
    assert os.path.getsize(os.path.join(d.state_dir, "telemetry.db")) < 1024 * 1024
