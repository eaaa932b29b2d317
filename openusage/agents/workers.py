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
from typing import Any, Callable, Deque, Dict, Iterable, Iterator

from openusage.core.events import UsageEvent

PARALLEL_MIN_BYTES = 48 << 20  # unread bytes from which a poll parses on worker processes


def worker_count() -> int:
    """Worker processes for a large read: one a core (up to 6), none on a single core.

    Parsing is most of a catch-up's work; storing what the workers parse takes a few seconds of the
    parent's time for 500 MB, so the parent shares a core rather than keeping one for itself.
    """
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, 6)


# How much lower the workers' priority is than their parent's (os.nice). The daemon sets it
# (background()): the parent is a catch-up's bottleneck (its single writer stores what workers parse)
# and answers the hooks; the workers then take the CPU it leaves (bench/catchup.py: 4.0 -> 3.7 s in
# process on 2 cores). A report in the foreground keeps 0.
NICENESS = 0


def background(niceness: int = 10) -> None:
    """Workers started from now on in this process run at a lower priority."""
    global NICENESS
    NICENESS = niceness


def quiet_worker(niceness: int = 0) -> None:
    """A worker writes nothing to the daemon's log: its errors reach the parent with its results, and
    a pool torn down at shutdown must not print a broken pipe for every result still on its way."""
    sys.stderr = open(os.devnull, "w")  # kept open for the life of the worker process
    if niceness:
        try:
            os.nice(niceness)
        except OSError:  # not allowed here: the worker runs at its parent's priority
            pass
    # What a worker builds (decoded lines, events) holds no reference cycles: reference counting frees
    # it all, and the collector's passes over a growing heap were ~8 % of a worker's time.
    gc.disable()


def in_order(fn: Callable[[Any], Any], tasks: Iterable[Any], workers: int, ahead: int = 2, chunk: int = 1
             ) -> Iterator[Any]:
    """fn(task) for each task, computed on `workers` spawned processes, yielded in task order.

    `fn` must be a module-level function (it is imported by name in the workers). Tasks travel
    `chunk` at a time (each exchange with a worker costs the parent a few hundred microseconds), and
    only `ahead` chunks a worker run ahead of the caller, so parsed results do not pile up in memory
    while the store catches up. A worker's exception is raised here, in its task's place.

    Each worker has one pipe to the caller and is given its next chunk as it hands one back; no
    helper threads (multiprocessing.Pool's three woke for every chunk and took the GIL from the
    store's writer: ~0.9 s of the parent's CPU in a 500 MB scan).
    """
    import multiprocessing
    from multiprocessing.connection import wait

    todo = iter(tasks)
    # spawn: the daemon has threads, and a forked child could inherit a lock some thread holds.
    ctx = multiprocessing.get_context("spawn")
    procs, conns = [], []
    try:
        for _ in range(workers):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(theirs, fn, NICENESS), daemon=True)
            proc.start()
            theirs.close()
            procs.append(proc)
            conns.append(mine)
        done: Dict[int, Any] = {}  # chunk number -> its results (or the worker's exception)
        sent = wanted = 0  # chunks handed out; the next one to yield
        busy: Dict[Any, Deque[int]] = {conn: deque() for conn in conns}
        limit = max(ahead, 1) * workers

        def send(conn: Any) -> bool:
            nonlocal sent
            some = list(itertools.islice(todo, chunk))
            if not some:
                return False
            conn.send(some)
            busy[conn].append(sent)
            sent += 1
            return True

        for _ in range(max(ahead, 1)):
            for conn in conns:
                send(conn)
        while wanted < sent:
            while wanted not in done:
                for conn in wait([c for c in conns if busy[c]]):
                    try:
                        done[busy[conn].popleft()] = conn.recv()
                    except EOFError:
                        raise RuntimeError("a worker process ended without its results") from None
                    if sent - wanted < limit:
                        send(conn)
            ok, results = done.pop(wanted)
            wanted += 1
            if not ok:
                raise results
            for conn in conns:  # the caller took a chunk: whoever is idle gets another
                if not busy[conn] and sent - wanted < limit and not send(conn):
                    break
            yield from results
    finally:
        for conn in conns:
            try:
                conn.send(None)
            except OSError:
                pass
            conn.close()
        for proc in procs:
            proc.join(0.5)
            if proc.is_alive():
                proc.terminate()
                proc.join(1)


def _serve(conn: Any, fn: Callable[[Any], Any], niceness: int = 0) -> None:
    """A worker process: fn over each chunk of tasks the pipe brings, until None."""
    quiet_worker(niceness)
    while True:
        try:
            tasks = conn.recv()
        except (EOFError, OSError):
            return
        if tasks is None:
            return
        try:
            reply: Any = (True, [fn(task) for task in tasks])
        except Exception as exc:  # handed to the caller, which raises it
            reply = (False, exc)
        try:
            conn.send(reply)
        except Exception as exc:  # an unpicklable result or exception
            conn.send((False, RuntimeError(f"worker result could not be sent: {exc}")))


def pack(ev: UsageEvent) -> tuple:
    """An event as the tuple of its fields in declaration order (what unpack takes back).

    A dataclass's __init__ sets its fields in that order, so its __dict__ lists them so: read at C
    speed rather than a getattr per field (this runs for every event of a catch-up read).
    """
    return tuple(ev.__dict__.values())


def unpack(fields: tuple) -> UsageEvent:
    return UsageEvent(*fields)
