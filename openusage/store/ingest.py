"""A fetch's events into the store: the one path the daemon's polls, in-process reads and direct scans share.

Events come as a (possibly lazy) stream; they are written in batches while parsing goes on (SQLite
commits outside the GIL), with at most `in_flight` batches waiting, so memory stays bounded. A
direct scan's stream may also carry CountedBatch items (a worker's read of one file, summed: see
store/batch.py); they are written in their place in the stream, after the events before them.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Deque, Iterable, List, Optional

from openusage.store.batch import CountedBatch

EVENT_BATCH = 2000  # events per write: small enough that a hook's commit never waits long behind one
IN_FLIGHT = 4  # batches submitted and not yet committed
COUNTED_ROWS = 10_000  # events in workers' summed batches per write (each commit rewrites the pages it touched)


def write_events(writer: Any, events: Optional[Iterable[Any]], timeout: float = 120.0,
                 each: Optional[Callable[[Any], None]] = None, event_batch: int = EVENT_BATCH,
                 in_flight: int = IN_FLIGHT, counted_rows: int = COUNTED_ROWS) -> int:
    """Write the stream through the writer in batches and wait for every commit; how many were written.

    `each` sees every item before it is queued (a progress count, dropping what a store keeps not).
    A batch not committed within `timeout` seconds raises TimeoutError. Workers' summed batches go
    `counted_rows` events a write (the daemon keeps that near `event_batch`: a hook waits for the write
    before it).
    """
    count = 0
    batch: List[Any] = []
    counted: List[CountedBatch] = []
    counted_count = 0
    waiting: Deque[Any] = deque()

    def submit(ticket: Any) -> None:
        waiting.append(ticket)
        while len(waiting) > in_flight:
            waiting.popleft().wait(timeout)

    for ev in events or ():
        if each is not None:
            each(ev)
        if isinstance(ev, CountedBatch):
            if batch:  # in order: the events before it first
                submit(writer.submit_events(batch))
                count, batch = count + len(batch), []
            counted.append(ev)
            counted_count += ev.size()
            if counted_count >= counted_rows:
                submit(writer.submit_counted(counted))
                count, counted, counted_count = count + counted_count, [], 0
            continue
        if counted:
            submit(writer.submit_counted(counted))
            count, counted, counted_count = count + counted_count, [], 0
        batch.append(ev)
        if len(batch) >= event_batch:
            submit(writer.submit_events(batch))
            count, batch = count + len(batch), []
    if counted:
        submit(writer.submit_counted(counted))
        count += counted_count
    if batch:
        submit(writer.submit_events(batch))
        count += len(batch)
    for ticket in waiting:
        ticket.wait(timeout)
    return count
