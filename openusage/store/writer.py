"""The single writer: one thread owns the write connection and commits in groups.

Callers submit work and get a Ticket; a ticket is set only after the transaction holding that work
has committed, so a hook is acknowledged only once its event is durable in the WAL. How a write's
events and batches become rows (dedup, growth, rollups) is store/settle.py.
"""
from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from openusage.core import redact
from openusage.core.events import UsageEvent
from openusage.core.snapshot import UsageSnapshot
from openusage.core.windows import tz_signature
from openusage.store import counted, db, limits, rollups
from openusage.store.batch import CountedBatch
from openusage.store.settle import Settling

log = logging.getLogger("openusage.store.writer")

MAX_BATCH = 512  # queue items folded into one transaction
GROUP_WAIT = 0.0005  # seconds the writer waits for more hooks while hooks arrive together
HELD_SUMS = 4000  # quarter-hour sums a held transaction keeps in memory before it writes them
IDLE_RELEASE = 10.0  # seconds without a write after which a full store's writer gives memory back
HOLD_SECONDS = 0.5  # the daemon's: how long workers' batches may share one transaction (what readers wait)
_STOP = object()



class Ticket:
    """Completion of one submitted piece of work.

    A bare lock, held until the work is done, rather than an Event: every hook waits on one, and a
    lock is one futex where an Event is a condition, its lock and a waiter lock.
    """

    __slots__ = ("_lock", "_set", "result", "error")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._set = False
        self.result: Any = None
        self.error: Optional[BaseException] = None

    def set(self, result: Any = None, error: Optional[BaseException] = None) -> None:
        if self._set:
            return
        self.result, self.error, self._set = result, error, True
        self._lock.release()

    def wait(self, timeout: Optional[float] = None) -> Any:
        if not self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            raise TimeoutError("store write not committed in time")
        self._lock.release()  # later waits return at once
        if self.error is not None:
            raise self.error
        return self.result


class Writer(Settling, threading.Thread):
    """Owns the write connection; everything that changes the database goes through it."""

    def __init__(self, db_path: str, conn: Optional[sqlite3.Connection] = None, check: bool = True,
                 keep_raw: bool = True, keys_only: bool = False):
        super().__init__(name="store-writer", daemon=True)
        self.db_path = db_path
        self.keep_raw = keep_raw  # the reports cache never shows raw payloads: it need not keep them
        # The reports cache: no event rows, only the counted keys every store keeps (store/counted.py);
        # usage rollups and sessions summed in Python; no breakdowns (the read model's; reports never
        # read them). About a third of the cost of a scan's writes.
        self.keys_only = keys_only
        self.conn = conn or db.open_store(db_path, check=check)
        self._counted = counted.Registry(self.conn)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()  # C-implemented: cheaper per hook
        self._day_cache: Dict[int, str] = {}
        self._day_function = False
        self.counters = {
            "events_stored": int(db.get_meta(self.conn, "events_stored", "0")),
            "events_updated": int(db.get_meta(self.conn, "events_updated", "0")),
            "duplicates_dropped": int(db.get_meta(self.conn, "duplicates_dropped", "0")),
        }
        self.healthy = True
        # Workers' batches go into one transaction for up to hold_counted seconds (a keys-only store's
        # scan: all of it), committed then, with the next write of another kind (the collector's state,
        # a hook) or at stop. Each commit rewrote the pages of the counted table the write touched (its
        # keys are hashes, spread over the whole table): a catch-up's 80 commits wrote it 80 times. A
        # write answered while held is lost with the transaction if it fails later: so are the
        # collector's state and every write up to it (_lost), and the files are read again. Held
        # writes are only ever workers' batches, never a hook's.
        self.hold_counted = float("inf") if keys_only else HOLD_SECONDS
        self._open: Optional[Tuple[rollups.Aggregate, Dict[str, int]]] = None  # held: its sums, counters before
        self._opened_at = 0.0  # monotonic time the held transaction began
        # Workers' batches have been coming since the last idle spell: the first of a catch-up is
        # committed at once (its data on screen), the ones after it held (a keys-only store holds all).
        self._streaming = keys_only
        self._lost: Optional[BaseException] = None
        self.on_idle: Optional[Callable[[], None]] = None  # called once memory is given back (the daemon's trim)
        self._check_timezone()

    # --- submission --------------------------------------------------------------------------

    def submit_events(self, events: List[UsageEvent]) -> Ticket:
        return self._submit("events", list(events))

    def submit_counted(self, batches: List[CountedBatch]) -> Ticket:
        """Events of files as workers summed them (store/batch.py), in order; for a keys-only store."""
        return self._submit("counted", list(batches))

    def submit_snapshot(self, snapshot: UsageSnapshot, fetched_at: Optional[float] = None) -> Ticket:
        return self._submit("snapshot", (snapshot, fetched_at or time.time()))

    def submit_state(self, provider_id: str, account_id: str, state: Dict[str, Any],
                     encoded: Optional[str] = None) -> Ticket:
        """Save a collector's state (encoded: its JSON text, when the caller has it already)."""
        if encoded is None:
            encoded = json.dumps(state, separators=(",", ":"))
        return self._submit("state", (provider_id, account_id, encoded))

    def submit_call(self, fn: Callable[[sqlite3.Connection], Any]) -> Ticket:
        """Run fn(conn) inside the writer's transaction (maintenance: retention, cache clear)."""
        return self._submit("call", fn)

    def _submit(self, kind: str, payload: Any) -> Ticket:
        ticket = Ticket()
        if not self.is_alive() and self._started.is_set():
            ticket.set(error=RuntimeError("store writer is stopped"))
            return ticket
        self._queue.put((kind, payload, ticket))
        return ticket

    def stop(self, timeout: float = 30.0) -> None:
        """Commit everything queued, then close."""
        self._queue.put(_STOP)
        self.join(timeout)

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        busy = False  # the last transaction held more than one item: others are likely on their way
        try:
            while True:
                try:
                    first = self._queue.get(timeout=self._wait())
                except queue.Empty:
                    if self._open is not None:  # held long enough with nothing more to come: commit it
                        self._close_held()
                        continue
                    if not self.keys_only:
                        self._streaming = False
                        # Idle after a catch-up: the daemon gives back what only bulk writes use (the
                        # set of every hash it counted, ~90 bytes a key); lookups go to SQLite again.
                        self._counted.release()
                        self.conn.execute("PRAGMA shrink_memory")  # and the page cache
                        if self.on_idle is not None:
                            self.on_idle()
                    first = self._queue.get()
                if first is _STOP:
                    break
                batch = [first]
                stop_after = False
                waited = not busy
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        if waited:
                            break
                        # Group commit under concurrent hooks: wait a moment for the hooks already on
                        # their way, so one commit answers several (a lone hook never waits).
                        waited = True
                        try:
                            item = self._queue.get(timeout=GROUP_WAIT)
                        except queue.Empty:
                            break
                    if item is _STOP:
                        stop_after = True
                        break
                    batch.append(item)
                busy = len(batch) > 1
                self._commit_batch(batch)
                if stop_after:
                    break
        except BaseException:  # pragma: no cover - the writer must report, not vanish silently
            log.exception("store writer crashed")
            self.healthy = False
            raise
        finally:
            if self._open is not None:
                self._close_held()
            self._fail_pending()
            try:
                self.conn.execute("PRAGMA optimize")
                self.conn.close()
            except sqlite3.Error:
                pass

    def _fail_pending(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                item[2].set(error=RuntimeError("store writer stopped before this write"))

    def _commit_batch(self, batch: List[Tuple[str, Any, Ticket]]) -> None:
        if self._lost is not None:
            # A held transaction was rolled back after its batches were answered: every write up to
            # and including the collector's state fails, so the files those batches came from are
            # read again next time rather than taken as counted.
            for kind, _, ticket in batch:
                ticket.set(error=RuntimeError(f"store write failed: {self._lost}"))
                if kind == "state":
                    self._lost = None
            return
        held = self._open is not None
        try:
            results = self._transaction(batch)
        except Exception as exc:  # a value SQLite cannot take (OverflowError, ...) fails its own write, not the writer
            if held:
                self._lost = exc
                self._commit_batch(batch)
                return
            if len(batch) == 1:
                log.error("store write failed: %s", exc)
                batch[0][2].set(error=exc)
                return
            # One bad item must not fail the others: retry them one by one.
            for item in batch:
                self._commit_batch([item])
            return
        for (_, _, ticket), result in zip(batch, results):
            ticket.set(result)

    def _transaction(self, batch: List[Tuple[str, Any, Ticket]]) -> List[Any]:
        conn = self.conn
        if self._open is not None:  # a held transaction goes on
            agg, counters_before = self._open
            self._open = None
        else:
            counters_before = dict(self.counters)
            agg = rollups.Aggregate()
            conn.execute("BEGIN IMMEDIATE")
            self._opened_at = time.monotonic()
            self._counted.begin()
        results: List[Any] = []
        try:
            for kind, payload, _ in batch:
                if kind == "events":
                    results.append(self._apply_events(payload, agg))
                elif kind == "counted":
                    results.append(self._apply_counted(payload, agg))
                elif kind == "snapshot":
                    results.append(_store_snapshot(conn, *payload))
                elif kind == "state":
                    conn.execute(
                        "INSERT INTO provider_state(provider_id, account_id, state, updated_at) VALUES(?,?,?,?) "
                        "ON CONFLICT(provider_id, account_id) DO UPDATE SET state=excluded.state, "
                        "updated_at=excluded.updated_at",
                        (*payload, time.time()),
                    )
                    results.append(None)
                else:
                    agg.flush(conn)
                    results.append(payload(conn))
                    self._counted.forget()  # maintenance may have cleared what it remembers
            counted_only = all(kind == "counted" for kind, _, _ in batch)
            if counted_only and self._streaming and time.monotonic() - self._opened_at < self.hold_counted:
                if len(agg.usage_q) > HELD_SUMS or len(agg.dim_q) > 2 * HELD_SUMS:
                    agg.flush(conn)  # the sums go now, the commit later: memory stays bounded
                self._open = (agg, counters_before)
            else:
                self._finish(agg, counters_before)
                self._streaming = self._streaming or counted_only
        except BaseException:
            conn.execute("ROLLBACK")
            self.counters = counters_before
            self._counted.forget()
            raise
        return results

    def _wait(self) -> Optional[float]:
        """How long the loop waits for work: until a held transaction is due, else IDLE_RELEASE."""
        if self._open is None:
            return IDLE_RELEASE
        if self.hold_counted == float("inf"):
            return None
        return max(0.0, self._opened_at + self.hold_counted - time.monotonic())

    def _close_held(self) -> None:
        """Commit the held transaction; when that fails, its writes are lost (_lost) and rolled back."""
        assert self._open is not None
        counters_before = self._open[1]
        try:
            self._finish(*self._open)
        except sqlite3.Error as exc:
            log.error("store write failed: %s", exc)
            self._lost = exc
            self.conn.execute("ROLLBACK")
            self.counters = counters_before
            self._counted.forget()

    def _finish(self, agg: rollups.Aggregate, counters_before: Dict[str, int]) -> None:
        """Write the transaction's sums and counters, and commit."""
        self._open = None
        agg.flush(self.conn)
        for key, value in self.counters.items():
            if value != counters_before[key]:
                db.set_meta(self.conn, key, str(value))
        self.conn.execute("COMMIT")

    # --- time zone ---------------------------------------------------------------------------

    def _check_timezone(self) -> None:
        """Day rollups follow the local zone; rebuild them from quarter buckets when it changed."""
        signature = tz_signature()
        if db.get_meta(self.conn, "tz_signature") == signature:
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            rollups.rebuild_day_rollups(self.conn)
            db.set_meta(self.conn, "tz_signature", signature)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise


def _store_snapshot(conn: sqlite3.Connection, snapshot: UsageSnapshot, fetched_at: float) -> None:
    # Masked on the way in: nothing a provider or an upstream put in a snapshot stores a secret.
    body = json.dumps(redact.mask_tree(snapshot.to_dict()), separators=(",", ":"), ensure_ascii=False)
    conn.execute(
        "INSERT INTO snapshots(provider_id, account_id, fetched_at, status, body) VALUES(?,?,?,?,?) "
        "ON CONFLICT(provider_id, account_id) DO UPDATE SET fetched_at=excluded.fetched_at, "
        "status=excluded.status, body=excluded.body",
        (snapshot.provider_id, snapshot.account_id, fetched_at, snapshot.status, body),
    )
    limits.record(conn, snapshot)
