"""One file's new events as a keys-only store takes them: counted rows and the rollup sums they make.

A large catch-up read parses on worker processes. For the reports cache (keys only: no event rows,
no breakdowns) a worker need not send one object per event back: it sends each event's counted row
(store/counted.py: the key's hash, the counts a later copy grows from, its time and place) and the
quarter-hour and session sums those rows add, made here by the same rules as the writer's
(store/rollups.py `full_delta` and `merge_session`, the writer's `_add_rollups`). The writer takes a
batch whole when none of its keys was counted before, the common case of a first scan; otherwise it
turns the batch back into its events and settles them one key at a time as it always does
(`events()`), so the outcome is the same.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from openusage.core.events import UsageEvent, id_key
from openusage.store import event_rows as stored
from openusage.store.counted import Place, key_hash
from openusage.store.db import QUARTER
from openusage.store.event_schema import EVENT_COLS, PLACE
from openusage.store.rollups import merge_session

# Per row: the counted row's first eleven columns (hash ... at), then indexes into places and kinds,
# then the id the event's dedup key was made of. A batch with event rows has those instead.
_AT, _PLACE, _KIND, _ID = 10, 11, 12, 13
_TYPE, _TURN = EVENT_COLS.index("event_type"), EVENT_COLS.index("turn_id")  # then message_id, tool_call_id


class CountedBatch(NamedTuple):
    """What a keys-only store adds for a run of events, each with a distinct id-made key."""

    source: str
    rows: List[tuple]  # empty in a batch with event_rows (its counted rows are made of those)
    places: List[Place]
    kinds: List[Tuple[str, str]]  # (event_type, the id field its key was made of)
    quarters: Dict[tuple, List[float]]  # (provider, account, bucket, model, project, session) -> _QUARTER_COLS sums
    sessions: Dict[tuple, List[Any]]  # (provider, account, session) -> [first non-empty project, first at, last at]
    # For a store that keeps event rows (the daemon's): each event's row as store/event_rows inserts it,
    # payload encoded, its place an index into `places` (place_rows() gives the ids); that store has
    # SQLite sum the rollups from them (quarters and sessions unused).
    event_rows: Optional[List[tuple]] = None
    # With event rows, the breakdown sums their events add (the writer's _add_rollups): (provider, account,
    # bucket, dim, name) -> [calls, requests, tokens, cost], and (provider, account, session) -> the same.
    dims: Optional[Dict[tuple, List[float]]] = None
    session_sums: Optional[Dict[tuple, List[float]]] = None

    @staticmethod
    def from_events(events: Sequence[UsageEvent]) -> Optional[CountedBatch]:
        """The batch of these events, or None when one has no id (its key is its payload's fingerprint,
        which the writer makes), two share a key, or they come from two sources: those go to the
        writer as events, in their order."""
        if not events or len({ev.source for ev in events}) != 1:
            return None
        builder = BatchBuilder(events[0].source)
        for ev in events:
            field = ev.key_field()
            if field is None:
                return None
            builder.add(ev.provider_id, ev.account_id, ev.event_type, field, getattr(ev, field), ev.occurred_at,
                        ev.model, ev.project, ev.session_id, ev.tool_name, ev.mcp_server, ev.input_tokens,
                        ev.output_tokens, ev.cache_read_tokens, ev.cache_write_tokens, ev.reasoning_tokens,
                        ev.cost_usd, ev.cost_logged_usd, ev.cost_computed_usd, ev.requests)
        return builder.build()

    def size(self) -> int:
        """How many events."""
        return len(self.event_rows) if self.event_rows is not None else len(self.rows)

    def hashes(self) -> List[int]:
        return [row[0] for row in (self.event_rows if self.event_rows is not None else self.rows)]

    def ids_of(self, event_type: str) -> List[str]:
        """The ids of the rows of one event type (a tool call's id for tool_usage)."""
        if self.event_rows is not None:  # the one of turn, message and tool call id its key was made of
            return [row[_TURN] or row[_TURN + 1] or row[_TURN + 2] for row in self.event_rows
                    if row[_TYPE] == event_type]
        wanted = {i for i, (kind, _) in enumerate(self.kinds) if kind == event_type}
        return [row[_ID] for row in self.rows if row[_KIND] in wanted]

    def growable_places(self, growable: frozenset) -> List[bool]:
        """For each of `places`, whether a row of a growable event type sits there (and keeps it); of a
        keys-only batch (a batch with event rows has its counted rows made of them)."""
        assert self.event_rows is None
        keeps = [kind in growable for kind, _ in self.kinds]
        used = [False] * len(self.places)
        for row in self.rows:
            if keeps[row[_KIND]]:
                used[row[_PLACE]] = True
        return used

    def counted_rows(self, place_ids: List[int], growable: frozenset) -> List[tuple]:
        """The rows of the counted table (store/counted.py), given the place ids of `places`; of a
        keys-only batch."""
        assert self.event_rows is None
        keeps = [kind in growable for kind, _ in self.kinds]
        return [row[:_AT] + ((row[_AT], place_ids[row[_PLACE]]) if keeps[row[_KIND]] else (None, None))
                for row in self.rows]

    def place_rows(self, place_ids: List[int]) -> List[tuple]:
        """The event rows as the events table takes them, given the place ids of `places`."""
        at = PLACE
        return [row[:at] + (place_ids[row[at]],) + row[at + 1:] for row in self.event_rows or ()]

    def events(self) -> List[UsageEvent]:
        """The events again, in their order: whole from event rows, else as far as a keys-only store
        reads them (no payloads)."""
        if self.event_rows is not None:
            return [stored.event_of(row, self.places[row[PLACE]]) for row in self.event_rows]
        out = []
        for row in self.rows:
            place = self.places[row[_PLACE]]
            kind, field = self.kinds[row[_KIND]]
            ev = UsageEvent(
                source=self.source, provider_id=place.provider_id, account_id=place.account_id, event_type=kind,
                occurred_at=row[_AT], session_id=place.session_id or None, model=place.model or None,
                input_tokens=row[1], output_tokens=row[2], cache_read_tokens=row[3], cache_write_tokens=row[4],
                reasoning_tokens=row[5], cost_usd=row[6], cost_logged_usd=row[7], cost_computed_usd=row[8],
                requests=row[9], tool_name=place.tool_name or None, project=place.project or None,
                mcp_server=place.mcp_server or None)
            setattr(ev, field, row[_ID])
            out.append(ev)
        return out


class BatchBuilder:
    """A CountedBatch made one event at a time, from the event's fields (no UsageEvent needed).

    A collector reading a large catch-up for a keys-only store calls add() where it would make an
    event; from_events does the same for events. The rows and sums are the writer's for a new event.
    """

    def __init__(self, source: str, full: bool = False):
        self.source = source
        # full: also each event's row with its payload (for a store that keeps event rows)
        self.event_rows: Optional[List[tuple]] = [] if full else None
        self.now = time.time()  # the rows' ingested_at
        self.rows: List[tuple] = []
        self.place_ix: Dict[tuple, int] = {}
        self.kind_ix: Dict[Tuple[str, str], int] = {}
        self.quarters: Dict[tuple, List[float]] = {}
        self.sessions: Dict[tuple, List[Any]] = {}
        self.dims: Optional[Dict[tuple, List[float]]] = {} if full else None
        self.session_sums: Optional[Dict[tuple, List[float]]] = {} if full else None
        self.hashes: set = set()
        self.repeated = False  # two events with one key: the batch cannot be taken whole

    def add(self, provider_id: str, account_id: str, event_type: str, field: str, ident: str, occurred_at: float,
            model: Optional[str], project: Optional[str], session_id: Optional[str], tool_name: Optional[str],
            mcp_server: Optional[str], input_tokens: int, output_tokens: int, cache_read_tokens: int,
            cache_write_tokens: int, reasoning_tokens: int, cost_usd: Optional[float],
            cost_logged_usd: Optional[float], cost_computed_usd: Optional[float], requests: int,
            raw: Optional[Dict[str, Any]] = None) -> None:
        """One event with an id-made key (`field` holds `ident`: events.KEY_PREFIXES); `raw`, its payload,
        is kept only by a full builder."""
        hashed = key_hash(id_key(provider_id, event_type, field, ident))
        if hashed in self.hashes:
            self.repeated = True
        self.hashes.add(hashed)
        place = (provider_id, account_id, model or "", project or "", session_id or "", tool_name or "",
                 mcp_server or "")
        pi = self.place_ix.get(place)
        if pi is None:
            pi = self.place_ix[place] = len(self.place_ix)
        if self.event_rows is not None:  # its place as an index into places until the writer has its id
            # (the event row is all a store that keeps them needs: no counted row goes too)
            self.event_rows.append((
                hashed, pi, self.source, event_type, occurred_at, ident if field == "turn_id" else None,
                ident if field == "message_id" else None, ident if field == "tool_call_id" else None,
                input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd,
                cost_logged_usd, cost_computed_usd, requests, stored.encode_raw(raw), self.now))
        else:
            ki = self.kind_ix.get((event_type, field))
            if ki is None:
                ki = self.kind_ix[(event_type, field)] = len(self.kind_ix)
            self.rows.append((hashed, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                              reasoning_tokens, cost_usd, cost_logged_usd, cost_computed_usd, requests, occurred_at,
                              pi, ki, ident))
        cost = cost_usd or 0.0
        # The writer's rollups of a new event (rollups.full_delta, _add_rollups), summed here.
        if input_tokens or output_tokens or cache_read_tokens or cache_write_tokens or cost or requests:
            key = (provider_id, account_id, int(occurred_at // QUARTER), place[2], place[3], place[4])
            calc = (cost_computed_usd if cost_computed_usd is not None else cost_usd) or 0.0
            sums = self.quarters.get(key)
            if sums is None:
                self.quarters[key] = [input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                                      reasoning_tokens, cost, requests, 1, calc, cost_logged_usd or 0.0]
            else:
                sums[0] += input_tokens
                sums[1] += output_tokens
                sums[2] += cache_read_tokens
                sums[3] += cache_write_tokens
                sums[4] += reasoning_tokens
                sums[5] += cost
                sums[6] += requests
                sums[7] += 1
                sums[8] += calc
                sums[9] += cost_logged_usd or 0.0
        if session_id:
            merge_session(self.sessions, (provider_id, account_id, session_id), project, occurred_at)
        if self.dims is not None:
            self._add_dims(provider_id, account_id, int(occurred_at // QUARTER), event_type == "tool_usage",
                           requests, input_tokens + output_tokens + cache_read_tokens + cache_write_tokens, cost,
                           (("tool", tool_name), ("mcp", mcp_server), ("project", project), ("session", session_id)))

    def _add_dims(self, provider_id: str, account_id: str, bucket: int, call: bool, requests: int, tokens: int,
                  cost: float, names: tuple) -> None:
        """The breakdown deltas of a new event (the writer's _add_rollups): for each of its names, and its session."""
        delta = (1 if call else 0, requests, tokens, cost)
        assert self.dims is not None and self.session_sums is not None
        for dim, name in names:
            if name:
                _sum_into(self.dims, (provider_id, account_id, bucket, dim, name), delta)
        session_id = names[3][1]
        if session_id:
            _sum_into(self.session_sums, (provider_id, account_id, session_id), delta)

    def build(self) -> Optional[CountedBatch]:
        """The batch, or None when two events shared a key (or there were none)."""
        if self.repeated or not (self.rows or self.event_rows):
            return None
        return CountedBatch(self.source, self.rows, [Place(*p) for p in self.place_ix], list(self.kind_ix),
                            self.quarters, self.sessions, self.event_rows, self.dims, self.session_sums)


def _sum_into(table: Dict[tuple, List[float]], key: tuple, delta: Tuple[float, ...]) -> None:
    sums = table.get(key)
    if sums is None:
        table[key] = list(delta)
    else:
        for i, v in enumerate(delta):
            sums[i] += v
