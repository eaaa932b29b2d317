"""The single writer: one thread owns the write connection and commits in groups.

Callers submit work and get a Ticket; a ticket is set only after the transaction holding that work
has committed, so a hook is acknowledged only once its event is durable in the WAL.
"""
from __future__ import annotations

import dataclasses
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
from openusage.core.windows import local_date, tz_signature
from openusage.store import counted, db, event_rows, limits, rollups
from openusage.store.batch import CountedBatch
from openusage.store.rollups import QUARTER_COLS, USAGE_COLS

log = logging.getLogger("openusage.store.writer")

MAX_BATCH = 512  # queue items folded into one transaction
GROUP_WAIT = 0.0005  # seconds the writer waits for more hooks while hooks arrive together
HELD_SUMS = 4000  # quarter-hour sums a held transaction keeps in memory before it writes them
IDLE_RELEASE = 10.0  # seconds without a write after which a full store's writer gives memory back
_STOP = object()



def _size(ev: UsageEvent) -> Tuple[int, float]:
    """How large a copy of a message is: its tokens, then its cost (an agent that logs only a running
    cost, as Crush does, grows a session by cost alone)."""
    return ev.total_tokens(), round(ev.cost_usd or 0.0, 9)


def _row_size(row: counted.Counted) -> Tuple[int, float]:
    """_size of a counted key's stored copy."""
    return row.total(), round(row.cost or 0.0, 9)


BULK_ROLLUP_MIN = 256  # new events in one write from which SQLite sums the rollups


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


class Writer(threading.Thread):
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
        # A keys-only store's scan: workers' batches go into one transaction, committed with the next
        # write of another kind (the collector's state) or at stop. Each commit rewrote the counted
        # table's pages the batch touched (its keys are hashes, spread over the whole table).
        self.hold_counted = keys_only
        self._open: Optional[Tuple[rollups.Aggregate, Dict[str, int]]] = None  # held: its sums, counters before
        self._lost: Optional[BaseException] = None
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
                    first = self._queue.get(timeout=IDLE_RELEASE)
                except queue.Empty:
                    if not self.keys_only:
                        # Idle after a catch-up: the daemon gives back what only bulk writes use (the
                        # set of every hash it counted, ~90 bytes a key); lookups go to SQLite again.
                        self._counted.release()
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
                try:
                    self._finish(*self._open)
                except sqlite3.Error as exc:
                    log.error("store write failed: %s", exc)
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
            if self.hold_counted and batch[-1][0] == "counted":
                if len(agg.usage_q) > HELD_SUMS:
                    agg.flush(conn)  # the sums go now, the commit later: memory stays bounded
                self._open = (agg, counters_before)
            else:
                self._finish(agg, counters_before)
        except BaseException:
            conn.execute("ROLLBACK")
            self.counters = counters_before
            self._counted.forget()
            raise
        return results

    def _finish(self, agg: rollups.Aggregate, counters_before: Dict[str, int]) -> None:
        """Write the transaction's sums and counters, and commit."""
        self._open = None
        agg.flush(self.conn)
        for key, value in self.counters.items():
            if value != counters_before[key]:
                db.set_meta(self.conn, key, str(value))
        self.conn.execute("COMMIT")

    # --- events and rollups ------------------------------------------------------------------

    def _apply_events(self, events: List[UsageEvent], agg: rollups.Aggregate) -> Dict[str, int]:
        """Store new events, grow stored messages, drop duplicates; rollups follow what was stored."""
        if len(events) < BULK_ROLLUP_MIN and not self.keys_only:
            counts = self._apply_each(events, agg)
        else:
            counts = self._apply_bulk(events, agg)
        self.counters["events_stored"] += counts["stored"]
        self.counters["events_updated"] += counts["updated"]
        self.counters["duplicates_dropped"] += counts["duplicates"]
        return counts

    def _apply_counted(self, batches: List[CountedBatch], agg: rollups.Aggregate) -> Dict[str, int]:
        """Workers' batches, in order: each taken whole when none of its keys was counted before (its
        rows inserted, its sums added), else, or in a store that keeps event rows, its events settled
        as any others."""
        counts = {"stored": 0, "updated": 0, "duplicates": 0}
        taken: List[CountedBatch] = []  # taken whole, not inserted yet
        pending: set = set()  # their hashes
        for batch in batches:
            hashes = batch.hashes()
            whole = self.keys_only or (batch.event_rows is not None and self.keep_raw)
            if whole and pending.isdisjoint(hashes) and not self._counted.any_counted(hashes):
                pending.update(hashes)
                taken.append(batch)
                continue
            counts["stored"] += self._take_whole(taken, agg)  # what came before is counted first
            taken, pending = [], set()
            for name, n in self._apply_events(batch.events(), agg).items():
                counts[name] += n
        counts["stored"] += self._take_whole(taken, agg)
        return counts

    def _take_whole(self, batches: List[CountedBatch], agg: rollups.Aggregate) -> int:
        """Insert the counted rows of batches none of whose keys was counted, and add their sums; how
        many rows."""
        if not batches:
            return 0
        # Place ids only where a row keeps one (a tool call's place is never stored), all at once.
        used = [batch.growable_places(counted.GROWABLE) for batch in batches]
        known = iter(self._counted.place_ids([place for batch, flags in zip(batches, used)
                                              for place, u in zip(batch.places, flags) if u]))
        rows: List[tuple] = []
        for batch, flags in zip(batches, used):
            rows.extend(batch.counted_rows([next(known) if u else 0 for u in flags], counted.GROWABLE))
        if not self.keys_only:  # event rows too, and SQLite sums every rollup from them (as _insert_bulk)
            self._insert_rows([row for batch in batches for row in batch.event_rows or ()], rows)
        else:
            for batch in batches:
                for key, sums in batch.quarters.items():
                    agg.usage_q[key].add(sums)
                    agg.usage_d[(key[0], key[1], self._day(key[2]), key[3])].add(sums[:len(USAGE_COLS)])
                for key, (project, first, last) in batch.sessions.items():
                    agg.add_session(key[:2], key[2], project, first)
                    agg.add_session(key[:2], key[2], None, last)
            self._counted.add_many(rows)
        self.counters["events_stored"] += len(rows)
        return len(rows)

    def _apply_each(self, events: List[UsageEvent], agg: rollups.Aggregate) -> Dict[str, int]:
        """A few events (a hook): each inserted unless its key is stored, the common case in one statement."""
        stored = updated = dups = 0
        now = time.time()
        for ev in events:
            key = ev.dedup_key()
            if self._counted.add(key, ev):
                if not self.keys_only:
                    self.conn.execute(event_rows.INSERT_EVENT, event_rows.event_row(ev, key, now, self._raw(ev)))
                stored += 1
                self._add_rollups(agg, ev, rollups.full_delta(ev))
                continue
            row = self._counted.lookup((key,)).get(key) if ev.event_type in counted.GROWABLE else None
            if row is not None and _size(ev) > _row_size(row):
                updated += 1
                self._grow(key, ev, row, agg)
            else:
                dups += 1
        return {"stored": stored, "updated": updated, "duplicates": dups}

    def _apply_bulk(self, events: List[UsageEvent], agg: rollups.Aggregate) -> Dict[str, int]:
        """Many events (a scan): copies of one key settled in memory, in arrival order, against the
        stored row, so each key costs at most one write; new rows inserted with executemany and
        their rollups summed by SQLite."""
        copies: Dict[str, List[UsageEvent]] = {}
        for ev in events:
            key = ev.dedup_key()
            found = copies.get(key)
            if found is None:
                copies[key] = [ev]
            else:
                found.append(ev)
        hashed: Dict[str, int] = {}
        stored_rows = self._counted.lookup(copies, hashed)
        stored = updated = dups = 0
        fresh: List[Tuple[str, UsageEvent]] = []
        grown: List[Tuple[str, UsageEvent, counted.Counted]] = []
        for key, evs in copies.items():
            row = stored_rows.get(key)
            best: Optional[UsageEvent] = None
            best_size = _row_size(row) if row is not None else (-1, -1.0)
            for ev in evs:
                if best is None and row is None:
                    best, best_size = ev, _size(ev)
                    stored += 1
                elif ev.event_type in counted.GROWABLE and _size(ev) > best_size:
                    best, best_size = ev, _size(ev)
                    updated += 1
                else:
                    dups += 1
            if best is None:
                continue
            if row is None:
                fresh.append((key, best))
            else:
                grown.append((key, best, row))
        # New rows first, then growth: a session's project is its first stored event's either way.
        if self.keys_only:
            self._insert_keys(fresh, agg, hashed)
        else:
            self._insert_bulk(fresh, hashed)
        for key, best, row in grown:
            self._grow(key, best, row, agg)
        return {"stored": stored, "updated": updated, "duplicates": dups}

    def _raw(self, ev: UsageEvent) -> Optional[str]:
        return event_rows.raw_json(ev) if self.keep_raw else None

    def _insert_keys(self, fresh: List[Tuple[str, UsageEvent]], agg: rollups.Aggregate,
                     hashed: Dict[str, int]) -> None:
        rows = []
        for key, ev in fresh:
            rows.append(self._counted.row(hashed.get(key) or counted.key_hash(key), ev))
            self._add_rollups(agg, ev, rollups.full_delta(ev))
        self._counted.add_many(rows)

    def _insert_bulk(self, fresh: List[Tuple[str, UsageEvent]], hashed: Dict[str, int]) -> None:
        if not fresh:
            return
        now = time.time()
        self._insert_rows([event_rows.event_row(ev, key, now, self._raw(ev)) for key, ev in fresh],
                          [self._counted.row(hashed.get(key) or counted.key_hash(key), ev) for key, ev in fresh])

    def _insert_rows(self, events: List[tuple], counted_rows: List[tuple]) -> None:
        """New events' rows and their counted rows; then SQLite sums their rollups, breakdowns and sessions."""
        first_id = self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM events").fetchone()[0]
        self.conn.executemany(event_rows.INSERT_EVENT, events)
        self._counted.add_many(counted_rows)
        if not self._day_function:
            self.conn.create_function("ou_local_day", 1, self._day, deterministic=True)
            self.conn.execute(event_rows.BATCH_DIMS_TABLE)
            self._day_function = True
        for sql in event_rows.BULK_ROLLUP_SQL:
            self.conn.execute(sql, {"first": first_id})

    def _grow(self, key: str, ev: UsageEvent, row: counted.Counted, agg: rollups.Aggregate) -> None:
        """Replace a counted message by a later copy with larger totals. One message, one time: the
        kept copy dates all of it, so a copy in another quarter-hour (or with another model) moves
        the message's whole contribution there, in every rollup."""
        old = self._counted.place(row.place) if row.place is not None else None
        if old is not None and not (ev.model and ev.project and ev.session_id):
            ev = dataclasses.replace(ev, model=ev.model or old.model or None, project=ev.project or old.project or None,
                                     session_id=ev.session_id or old.session_id or None)
        self._counted.grow(row, ev)
        if not self.keys_only:  # the event row is gone once pruned: the counted row is what stays
            self.conn.execute(
                "UPDATE events SET input_tokens=?, output_tokens=?, cache_read_tokens=?, cache_write_tokens=?, "
                "reasoning_tokens=?, cost_usd=?, cost_logged_usd=?, cost_computed_usd=?, model=?, occurred_at=?, "
                "project=?, session_id=?, raw=? WHERE dedup_key=?",
                (ev.input_tokens, ev.output_tokens, ev.cache_read_tokens, ev.cache_write_tokens, ev.reasoning_tokens,
                 ev.cost_usd, ev.cost_logged_usd, ev.cost_computed_usd, ev.model, ev.occurred_at, ev.project,
                 ev.session_id, self._raw(ev), key),
            )
        if old is not None and row.at is not None and (
                int(row.at // db.QUARTER) != int(ev.occurred_at // db.QUARTER) or old != counted.place_of(ev)):
            self._add_rollups(agg, counted.as_event(row.at, old, ev.source, ev.event_type), rollups.taken_back(row))
            self._add_rollups(agg, ev, rollups.full_delta(ev))
        else:
            self._add_rollups(agg, ev, rollups.growth(ev, row))

    def _day(self, bucket: int) -> str:
        day = self._day_cache.get(bucket)
        if day is None:
            if len(self._day_cache) > 100_000:
                self._day_cache.clear()
            day = self._day_cache[bucket] = local_date(bucket * db.QUARTER)
        return day

    def _add_rollups(self, agg: rollups.Aggregate, ev: UsageEvent, d: Dict[str, float]) -> None:
        bucket = int(ev.occurred_at // db.QUARTER)
        day = self._day(bucket)
        base = (ev.provider_id, ev.account_id)
        # Each delta is built once as a tuple in its table's column order (the hot path of a cold scan).
        moved_out = d["events"] < 0  # a message taken back from where an earlier copy dated it
        quarter = None
        if d["input"] or d["output"] or d["cache_read"] or d["cache_write"] or d["cost"] or d["requests"]:
            model = ev.model or ""
            quarter = tuple(d.get(c, 0) for c in QUARTER_COLS)
            agg.usage_q[(*base, bucket, model, ev.project or "", ev.session_id or "")].add(quarter)
            agg.usage_d[(*base, day, model)].add(quarter[:len(USAGE_COLS)])
            if moved_out:
                agg.emptied["rollup_q"].add((*base, bucket, model, ev.project or "", ev.session_id or ""))
                agg.emptied["rollup_d"].add((*base, day, model))
        if ev.session_id:
            agg.add_session(base, ev.session_id, ev.project, ev.occurred_at)
        if self.keys_only:
            return
        tokens = d["input"] + d["output"] + d["cache_read"] + d["cache_write"]
        dim_delta = (d["calls"], d["requests"], tokens, d["cost"])
        for dim, name in (("tool", ev.tool_name), ("mcp", ev.mcp_server), ("project", ev.project),
                          ("session", ev.session_id)):
            if name:
                agg.dim_q[(*base, bucket, dim, name)].add(dim_delta)
                agg.dim_d[(*base, day, dim, name)].add(dim_delta)
                if moved_out:
                    agg.emptied["dim_q"].add((*base, bucket, dim, name))
                    agg.emptied["dim_d"].add((*base, day, dim, name))
        if ev.session_id:
            agg.session_sums[(*base, ev.session_id)].add(dim_delta)
        if quarter is not None:
            agg.usage_qm[(*base, bucket, model)].add(quarter[:len(USAGE_COLS)])
            if moved_out:
                agg.emptied["rollup_qm"].add((*base, bucket, model))

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
