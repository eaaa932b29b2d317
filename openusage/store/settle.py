"""How a write's events and workers' batches become rows, inside the writer's transaction (store/writer.py).

Every path that adds usage comes here: a key counted before (store/counted.py) is a duplicate, or a
larger copy of a message that grows it, in place or moved to the quarter-hour and place of the kept
copy; a new key is inserted with its rollups. A few events (a hook) go one at a time; many (a scan)
settle their copies in memory first and have SQLite sum the rollups of the new rows.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Dict, List, Optional, Tuple

from openusage.core.events import UsageEvent
from openusage.core.windows import local_date
from openusage.store import counted, db, event_rows, event_schema, rollups
from openusage.store.batch import CountedBatch
from openusage.store.rollups import QUARTER_COLS, USAGE_COLS


def _size(ev: UsageEvent) -> Tuple[int, float]:
    """How large a copy of a message is: its tokens, then its cost (an agent that logs only a running
    cost, as Crush does, grows a session by cost alone)."""
    return ev.total_tokens(), round(ev.cost_usd or 0.0, 9)


def _row_size(row: counted.Counted) -> Tuple[int, float]:
    """_size of a counted key's stored copy."""
    return row.total(), round(row.cost or 0.0, 9)


BULK_ROLLUP_MIN = 256  # new events in one write from which SQLite sums the rollups


class Settling:
    """The writer's settling of events and batches: a mixin of Writer, which holds the connection
    (`conn`), the counted keys (`_counted`), `counters`, `keys_only` and `keep_raw`."""

    conn: Any
    _counted: counted.Registry
    counters: Dict[str, int]
    keys_only: bool
    keep_raw: bool
    _day_cache: Dict[int, str]
    _day_function: bool

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
        # Place ids, all at once, where a row keeps one: every event row; a counted row of a message
        # (a counted tool call keeps no place).
        keep = [[True] * len(batch.places) if not self.keys_only else batch.growable_places(counted.GROWABLE)
                for batch in batches]
        known = iter(self._counted.place_ids([place for batch, flags in zip(batches, keep)
                                              for place, k in zip(batch.places, flags) if k]))
        rows: List[tuple] = []
        events: List[tuple] = []
        for batch, flags in zip(batches, keep):
            ids = [next(known) if k else 0 for k in flags]
            if self.keys_only:
                rows.extend(batch.counted_rows(ids, counted.GROWABLE))
            else:
                events.extend(batch.place_rows(ids))
        if events:
            self._store_rows(events)
        else:
            self._counted.add_many(rows)
        full = not self.keys_only  # breakdowns and rollup_qm too
        usage = len(USAGE_COLS)
        for batch in batches:  # the sums the workers made, by the rules of _add_rollups
            for key, sums in batch.quarters.items():
                agg.usage_q[key].add(sums)
                agg.usage_d[(key[0], key[1], self._day(key[2]), key[3])].add(sums[:usage])
                if full:
                    agg.usage_qm[key[:4]].add(sums[:usage])
            for key, (project, first, last) in batch.sessions.items():
                agg.add_session(key[:2], key[2], project, first)
                agg.add_session(key[:2], key[2], None, last)
            if full:
                for key, sums in (batch.dims or {}).items():
                    agg.dim_q[key].add(sums)
                    agg.dim_d[(key[0], key[1], self._day(key[2]), key[3], key[4])].add(sums)
                for key, sums in (batch.session_sums or {}).items():
                    agg.session_sums[key].add(sums)
        self.counters["events_stored"] += len(rows) + len(events)
        return len(rows) + len(events)

    def _apply_each(self, events: List[UsageEvent], agg: rollups.Aggregate) -> Dict[str, int]:
        """A few events (a hook): each inserted unless its key is stored, the common case in one statement."""
        stored = updated = dups = 0
        now = time.time()
        for ev in events:
            key = ev.dedup_key()
            hashed = counted.key_hash(key)
            if self._counted.add(hashed, ev):
                if not self.keys_only:
                    self.conn.execute(event_schema.INSERT_EVENT, event_rows.event_row(
                        ev, hashed, self._counted.place_id(counted.place_of(ev)), now, self._raw(ev)))
                stored += 1
                self._add_rollups(agg, ev, rollups.full_delta(ev))
                continue
            row = self._counted.lookup((key,)).get(key) if ev.event_type in counted.GROWABLE else None
            if row is not None and _size(ev) > _row_size(row):
                updated += 1
                self._grow(ev, row, agg)
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
        grown: List[Tuple[UsageEvent, counted.Counted]] = []
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
                grown.append((best, row))
        # New rows first, then growth: a session's project is its first stored event's either way.
        if self.keys_only:
            self._insert_keys(fresh, agg, hashed)
        else:
            self._insert_bulk(fresh, hashed)
        for best, row in grown:
            self._grow(best, row, agg)
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
        hashes = [hashed.get(key) or counted.key_hash(key) for key, _ in fresh]
        places = self._counted.place_ids([counted.place_of(ev) for _, ev in fresh])
        self._insert_rows([event_rows.event_row(ev, h, place, now, self._raw(ev))
                           for (_, ev), h, place in zip(fresh, hashes, places)])

    def _store_rows(self, events: List[tuple]) -> int:
        """New events' rows, and their counted rows, which SQLite makes of them (one an event, as
        counted.Registry.row makes it of the event); the first row's id."""
        first_id = self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM events").fetchone()[0]
        self.conn.executemany(event_schema.INSERT_EVENT, events)
        self._counted.add_from_events(first_id, [row[0] for row in events])
        return first_id

    def _insert_rows(self, events: List[tuple]) -> None:
        """New events' rows and their counted rows; then SQLite sums their rollups, breakdowns and sessions."""
        first_id = self._store_rows(events)
        if not self._day_function:
            self.conn.create_function("ou_local_day", 1, self._day, deterministic=True)
            self.conn.execute(event_rows.BATCH_DIMS_TABLE)
            self._day_function = True
        for sql in event_rows.BULK_ROLLUP_SQL:
            self.conn.execute(sql, {"first": first_id})

    def _grow(self, ev: UsageEvent, row: counted.Counted, agg: rollups.Aggregate) -> None:
        """Replace a counted message by a later copy with larger totals. One message, one time: the
        kept copy dates all of it, so a copy in another quarter-hour (or with another model) moves
        the message's whole contribution there, in every rollup."""
        old = self._counted.place(row.place) if row.place is not None else None
        if old is not None and not (ev.model and ev.project and ev.session_id):
            ev = dataclasses.replace(ev, model=ev.model or old.model or None, project=ev.project or old.project or None,
                                     session_id=ev.session_id or old.session_id or None)
        self._counted.grow(row, ev)
        if not self.keys_only:  # the event row is gone once pruned: the counted row is what stays
            # The row is found by the kept copy's time (the time index; key has none), by key alone where
            # no time is known.
            where, at = ("occurred_at=? AND key=?", (row.at,)) if row.at is not None else ("key=?", ())
            self.conn.execute(
                "UPDATE events SET input_tokens=?, output_tokens=?, cache_read_tokens=?, cache_write_tokens=?, "
                "reasoning_tokens=?, cost_usd=?, cost_logged_usd=?, cost_computed_usd=?, occurred_at=?, place=?, "
                f"raw=? WHERE {where}",
                (ev.input_tokens, ev.output_tokens, ev.cache_read_tokens, ev.cache_write_tokens, ev.reasoning_tokens,
                 ev.cost_usd, ev.cost_logged_usd, ev.cost_computed_usd, ev.occurred_at,
                 self._counted.place_id(counted.place_of(ev)), self._raw(ev), *at, row.hash),
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
