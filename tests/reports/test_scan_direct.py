"""The direct scan behind reports: its cache database and the collectors' saved state."""
import json
import os
import sqlite3

from openusage import config
from openusage.reports import source


def _assistant(mid, out, ts="2026-03-01T10:00:00.000Z"):
    return json.dumps({"type": "assistant", "sessionId": "s1", "cwd": "/home/u/app", "timestamp": ts,
                       "requestId": f"r-{mid}", "message": {
                           "id": mid, "model": "claude-sonnet-4-5", "role": "assistant",
                           "content": [{"type": "text", "text": "hi"}],
                           "usage": {"input_tokens": 5, "output_tokens": out}}})


def _append(path, *lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))


def _saved(db_path):
    conn = sqlite3.connect(db_path)
    try:
        state, updated = conn.execute("SELECT state, updated_at FROM provider_state "
                                      "WHERE provider_id='claude_code'").fetchone()
        output = conn.execute("SELECT SUM(output) FROM rollup_q").fetchone()[0]
    finally:
        conn.close()
    return json.loads(state), updated, output


def test_a_repeat_scan_with_nothing_new_rewrites_no_state(isolated_home):
    transcript = os.path.join(str(isolated_home), ".claude", "projects", "-home-u-app", "s1.jsonl")
    _append(transcript, _assistant("m1", 10))
    settings = config.load()
    path = source.scan_direct(settings, ["claude_code"])
    state, updated, output = _saved(path)
    assert output == 10 and state["files"][transcript]["offset"] == os.path.getsize(transcript)
    source.scan_direct(settings, ["claude_code"])
    assert _saved(path) == (state, updated, 10)  # not even rewritten with the same text
    _append(transcript, _assistant("m2", 7))
    source.scan_direct(settings, ["claude_code"])
    state2, updated2, output2 = _saved(path)
    assert output2 == 17 and updated2 > updated
    assert state2["files"][transcript]["offset"] == os.path.getsize(transcript)


def test_the_cache_keeps_what_reports_read_and_no_more(isolated_home, zone):
    zone("UTC")
    transcript = os.path.join(str(isolated_home), ".claude", "projects", "-home-u-app", "s1.jsonl")
    _append(transcript, _assistant("m1", 10), _assistant("m2", 20, ts="2026-03-02T10:00:00.000Z"))
    path = source.scan_direct(config.load(), ["claude_code"])
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM event_detail").fetchone()[0] == 0  # keys only, no event rows
        assert conn.execute("SELECT COUNT(*), SUM(output) FROM counted").fetchone() == (2, 30)
        assert conn.execute("SELECT COUNT(*) FROM dim_q").fetchone()[0] == 0
        assert conn.execute("SELECT value FROM meta WHERE key='cache_format'").fetchone() == (source.CACHE_FORMAT,)
        assert conn.execute("SELECT day, output FROM rollup_d ORDER BY day").fetchall() == [
            ("2026-03-01", 10), ("2026-03-02", 20)]
        assert conn.execute("SELECT session_id FROM sessions").fetchall() == [("s1",)]
    finally:
        conn.close()


def test_an_id_less_message_keeps_its_key_across_scans(isolated_home):
    transcript = os.path.join(str(isolated_home), ".claude", "projects", "-home-u-app", "s1.jsonl")
    lines = []
    for out in (4, 6):  # two id-less messages at one time: told apart by their payloads only
        no_id = json.loads(_assistant("x", out))
        del no_id["message"]["id"], no_id["requestId"]
        lines.append(json.dumps(no_id))
    _append(transcript, *lines, _assistant("m1", 10))
    settings = config.load()
    path = source.scan_direct(settings, ["claude_code"])
    assert _saved(path)[2] == 20
    # The file is replaced by a copy with one more line: read again from the start, nothing twice.
    with open(transcript, encoding="utf-8") as fh:
        text = fh.read()
    os.remove(transcript)
    _append(transcript, text.rstrip("\n"), _assistant("m2", 1))
    source.scan_direct(settings, ["claude_code"])
    assert _saved(path)[2] == 21


def test_a_cache_of_another_format_is_rebuilt_from_the_logs(isolated_home):
    from openusage.store.writer import Writer

    transcript = os.path.join(str(isolated_home), ".claude", "projects", "-home-u-app", "s1.jsonl")
    _append(transcript, _assistant("m1", 10))
    settings = config.load()
    path = source.cache_db_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old = Writer(path, check=False)  # an older cache: event rows, its state says the file was read
    old.start()
    old.submit_state("claude_code", "claude_code", {"files": {transcript: {"offset": 10**6}}}).wait(10)
    old.stop()
    old.conn.close()
    source.scan_direct(settings, ["claude_code"])
    assert _saved(path)[2] == 10  # read again from the start, into the new layout
    with open(path, "r+b") as fh:  # and a file that is no database at all
        fh.write(b"not a database" * 100)
    source.scan_direct(settings, ["claude_code"])
    assert _saved(path)[2] == 10


def test_a_copy_that_grows_after_a_scan_replaces_the_first_once(isolated_home):
    transcript = os.path.join(str(isolated_home), ".claude", "projects", "-home-u-app", "s1.jsonl")
    _append(transcript, _assistant("m1", 3))  # streaming: the first copy of the answer
    settings = config.load()
    path = source.scan_direct(settings, ["claude_code"])
    assert _saved(path)[2] == 3
    _append(transcript, _assistant("m1", 250), _assistant("m1", 250))  # the final copy, written twice
    source.scan_direct(settings, ["claude_code"])
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT SUM(output), SUM(requests), SUM(events) FROM rollup_q").fetchone() == (250, 1, 1)
        assert conn.execute("SELECT COUNT(*), SUM(output) FROM counted").fetchone() == (1, 250)
    finally:
        conn.close()


def test_the_progress_line_names_the_collector_and_counts_events(monkeypatch):
    import io
    import time

    err = io.StringIO()
    monkeypatch.setattr(source.sys, "stderr", err)
    spinner = source._Spinner(delay=0.0)
    spinner.source = "Claude Code"
    spinner.events = 12345
    time.sleep(0.5)
    spinner.stop()
    shown = err.getvalue()
    assert "scanning local logs" in shown and "Claude Code: 12,345 events, 0s" in shown
    assert shown.endswith("\r\033[K")  # the line is wiped when the scan ends
