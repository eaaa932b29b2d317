"""A fetch's events into the store: the one path the daemon's polls, in-process reads and direct scans share.

Events come as a (possibly lazy) stream; they are written in batches while parsing goes on (SQLite
commits outside the GIL), with at most IN_FLIGHT batches waiting, so memory stays bounded.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Deque, Iterable, List, Optional

EVENT_BATCH = 2000  # events per write: small enough that a hook's commit never waits long behind one
IN_FLIGHT = 4  # batches submitted and not yet committed


def write_events(writer: Any, events: Optional[Iterable[Any]], timeout: float = 120.0,
                 each: Optional[Callable[[Any], None]] = None) -> int:
    """Write the stream through the writer in batches and wait for every commit; how many were written.

    `each` sees every event before it is queued (a progress count, dropping what a store keeps not).
    A batch not committed within `timeout` seconds raises TimeoutError.
    """
    count = 0
    batch: List[Any] = []
    waiting: Deque[Any] = deque()
    for ev in events or ():
        if each is not None:
            each(ev)
        batch.append(ev)
        if len(batch) >= EVENT_BATCH:
            waiting.append(writer.submit_events(batch))
            count += len(batch)
            batch = []
            if len(waiting) > IN_FLIGHT:
                waiting.popleft().wait(timeout)
    if batch:
        waiting.append(writer.submit_events(batch))
        count += len(batch)
    for ticket in waiting:
        ticket.wait(timeout)
    return count
