"""The two pieces under a large catch-up read: whole-file reads searched for a marker
(tail.iter_marked_lines) and the worker pool that hands results back in task order (workers.in_order)."""
import os
import time

import pytest

from openusage.agents import tail, workers


class Counters:
    lines = 0


def _marked(path, cursor, marker=b"assistant"):
    counters = Counters()
    return list(tail.iter_marked_lines(str(path), cursor, marker, counters)), counters.lines


def test_only_whole_marked_lines_are_read_and_the_cursor_stops_before_a_partial_one(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"type":"user","x":"y"}\n{"type":"assistant","n":1}\r\n\n'
                     b'{"type":"user","text":"the assistant said"}\n{"type":"assistant","n":2')
    cursor = {"offset": 0}
    lines, counted = _marked(path, cursor)
    # A user line that mentions the marker is handed over too (the parser decides); CRLF is kept.
    assert lines == [b'{"type":"assistant","n":1}\r', b'{"type":"user","text":"the assistant said"}']
    assert counted == 2
    whole = len(path.read_bytes()) - len(b'{"type":"assistant","n":2')
    assert cursor["offset"] == whole and cursor["size"] == whole  # the partial line waits
    with open(path, "ab") as fh:
        fh.write(b',"done":true}\n')
    lines, _ = _marked(path, cursor)
    assert lines == [b'{"type":"assistant","n":2,"done":true}'] and cursor["offset"] == os.path.getsize(path)
    assert _marked(path, cursor) == ([], 0)


def test_lines_across_the_read_pieces_are_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(tail, "BIG_CHUNK", 7)  # pieces far smaller than a line
    path = tmp_path / "t.jsonl"
    want = [b'{"type":"assistant","i":%d,"pad":"%s"}' % (i, b"x" * (i * 5)) for i in range(12)]
    path.write_bytes(b"".join(line + b"\n" + b'{"type":"user"}\n' for line in want))
    cursor = {"offset": 0}
    lines, counted = _marked(path, cursor)
    assert lines == want and counted == 12 and cursor["offset"] == os.path.getsize(path)


def test_same_lines_as_the_line_reader(tmp_path):
    path = tmp_path / "t.jsonl"
    rows = [b'{"type":"assistant","k":%d}' % i if i % 3 else b'{"type":"user","k":%d}' % i for i in range(200)]
    path.write_bytes(b"\n".join(rows) + b"\n")
    by_lines = [line for line in tail.iter_new_lines(str(path), {"offset": 0}) if b"assistant" in line]
    assert _marked(path, {"offset": 0})[0] == by_lines


def _slow_square(n):
    time.sleep(0.02 if n % 3 == 0 else 0)
    if n == 13:
        raise ValueError("thirteen")
    return n * n


def test_results_come_back_in_task_order_whatever_finishes_first():
    assert list(workers.in_order(_slow_square, range(12), 2, ahead=2, chunk=2)) == [n * n for n in range(12)]
    assert list(workers.in_order(_slow_square, [], 2)) == []


def test_a_worker_error_is_raised_in_its_tasks_place():
    got = []
    with pytest.raises(ValueError, match="thirteen"):
        for value in workers.in_order(_slow_square, range(20), 2, chunk=1):
            got.append(value)
    assert got == [n * n for n in range(13)]


def test_an_abandoned_read_ends_its_workers():
    results = workers.in_order(_slow_square, range(1000), 2, ahead=2, chunk=4)
    assert next(results) == 0
    import multiprocessing

    children = multiprocessing.active_children()
    results.close()
    deadline = time.monotonic() + 5
    while any(p.is_alive() for p in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert children and not any(p.is_alive() for p in children)


def test_the_daemons_workers_run_at_a_lower_priority(monkeypatch):
    monkeypatch.setattr(workers, "NICENESS", 0)
    base = os.nice(0)
    assert list(workers.in_order(os.nice, [0], 1)) == [base]  # a report's: the parent's priority
    workers.background(3)  # as the daemon does at start
    assert list(workers.in_order(os.nice, [0, 0], 2)) == [min(base + 3, 19)] * 2
