"""Parsing a large catch-up read on worker processes, results handed back in task order.

A first poll of a big log directory (hundreds of MB) parses on one worker a core; what is stored is
what a read in this process stores, because results come back in the order the tasks were made.
Events cross the process boundary as plain tuples (pack/unpack), never pickled dataclasses.
"""
from __future__ import annotations

import gc
import itertools
import os
import sys
from collections import deque
from typing import Any, Callable, Deque, Iterable, Iterator, List

from openusage.core.events import UsageEvent

PARALLEL_MIN_BYTES = 48 << 20  # unread bytes from which a poll parses on worker processes


def worker_count() -> int:
    """Worker processes for a large read: one a core (up to 6), none on a single core.

    Parsing is most of a catch-up's work; storing what the workers parse takes a few seconds of the
    parent's time for 500 MB, so the parent shares a core rather than keeping one for itself.
    """
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, 6)


def quiet_worker() -> None:
    """A worker writes nothing to the daemon's log: its errors reach the parent with its results, and
    a pool torn down at shutdown must not print a broken pipe for every result still on its way."""
    sys.stderr = open(os.devnull, "w")  # kept open for the life of the worker process
    # What a worker builds (decoded lines, events) holds no reference cycles: reference counting frees
    # it all, and the collector's passes over a growing heap were ~8 % of a worker's time.
    gc.disable()


def in_order(fn: Callable[[Any], Any], tasks: Iterable[Any], workers: int, ahead: int = 2, chunk: int = 1
             ) -> Iterator[Any]:
    """fn(task) for each task, computed on `workers` spawned processes, yielded in task order.

    `fn` must be a module-level function (it is imported by name in the workers). Tasks travel
    `chunk` at a time (each exchange with a worker costs the parent a few hundred microseconds), and
    only `ahead` chunks a worker run ahead of the caller, so parsed results do not pile up in memory
    while the store catches up.
    """
    import multiprocessing

    todo = iter(tasks)
    pending: Deque[Any] = deque()
    # spawn: the daemon has threads, and a forked child could inherit a lock some thread holds.
    with multiprocessing.get_context("spawn").Pool(workers, initializer=quiet_worker) as pool:

        def submit() -> None:
            some = list(itertools.islice(todo, chunk))
            if some:
                pending.append(pool.apply_async(_each, (fn, some)))

        for _ in range(ahead * workers):
            submit()
        while pending:
            results = pending.popleft().get()
            submit()
            yield from results


def _each(fn: Callable[[Any], Any], tasks: List[Any]) -> List[Any]:
    return [fn(task) for task in tasks]


def pack(ev: UsageEvent) -> tuple:
    """An event as the tuple of its fields in declaration order (what unpack takes back).

    A dataclass's __init__ sets its fields in that order, so its __dict__ lists them so: read at C
    speed rather than a getattr per field (this runs for every event of a catch-up read).
    """
    return tuple(ev.__dict__.values())


def unpack(fields: tuple) -> UsageEvent:
    return UsageEvent(*fields)
