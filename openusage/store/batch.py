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

from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from openusage.core.events import UsageEvent
from openusage.store.counted import Place, key_hash
from openusage.store.db import QUARTER
from openusage.store.rollups import merge_session

# Per row: the counted row's first eleven columns (hash ... at), then indexes into places and kinds,
# then the id the event's dedup key was made of.
_AT, _PLACE, _KIND, _ID = 10, 11, 12, 13


class CountedBatch(NamedTuple):
    """What a keys-only store adds for a run of events, each with a distinct id-made key."""

    source: str
    rows: List[tuple]
    places: List[Place]
    kinds: List[Tuple[str, str]]  # (event_type, the id field its key was made of)
    quarters: Dict[tuple, List[float]]  # (provider, account, bucket, model, project, session) -> _QUARTER_COLS sums
    sessions: Dict[tuple, List[Any]]  # (provider, account, session) -> [first non-empty project, first at, last at]

    @staticmethod
    def from_events(events: Sequence[UsageEvent]) -> Optional[CountedBatch]:
        """The batch of these events, or None when one has no id (its key is its payload's fingerprint,
        which the writer makes), two share a key, or they come from two sources: those go to the
        writer as events, in their order."""
        if not events or len({ev.source for ev in events}) != 1:
            return None
        rows: List[tuple] = []
        place_ix: Dict[tuple, int] = {}
        kind_ix: Dict[Tuple[str, str], int] = {}
        quarters: Dict[tuple, List[float]] = {}
        sessions: Dict[tuple, List[Any]] = {}
        for ev in events:
            field = ("tool_call_id" if ev.tool_call_id else "message_id" if ev.message_id
                     else "turn_id" if ev.turn_id else None)
            if field is None:
                return None
            model, project, session = ev.model or "", ev.project or "", ev.session_id or ""
            place = (ev.provider_id, ev.account_id, model, project, session, ev.tool_name or "", ev.mcp_server or "")
            pi = place_ix.get(place)
            if pi is None:
                pi = place_ix[place] = len(place_ix)
            ki = kind_ix.setdefault((ev.event_type, field), len(kind_ix))
            cost = ev.cost_usd or 0.0
            rows.append((key_hash(ev.dedup_key()), ev.input_tokens, ev.output_tokens, ev.cache_read_tokens,
                         ev.cache_write_tokens, ev.reasoning_tokens, ev.cost_usd, ev.cost_logged_usd,
                         ev.cost_computed_usd, ev.requests, ev.occurred_at, pi, ki, getattr(ev, field)))
            # The writer's rollups of a new event (rollups.full_delta, _add_rollups), summed here.
            if ev.input_tokens or ev.output_tokens or ev.cache_read_tokens or ev.cache_write_tokens or cost \
                    or ev.requests:
                key = (ev.provider_id, ev.account_id, int(ev.occurred_at // QUARTER), model, project, session)
                calc = (ev.cost_computed_usd if ev.cost_computed_usd is not None else ev.cost_usd) or 0.0
                delta = (ev.input_tokens, ev.output_tokens, ev.cache_read_tokens, ev.cache_write_tokens,
                         ev.reasoning_tokens, cost, ev.requests, 1, calc, ev.cost_logged_usd or 0.0)
                sums = quarters.get(key)
                if sums is None:
                    quarters[key] = list(delta)
                else:
                    for i, v in enumerate(delta):
                        if v:
                            sums[i] += v
            if ev.session_id:
                merge_session(sessions, (ev.provider_id, ev.account_id, ev.session_id), ev.project, ev.occurred_at)
        if len({row[0] for row in rows}) != len(rows):
            return None
        return CountedBatch(events[0].source, rows, [Place(*p) for p in place_ix], list(kind_ix), quarters, sessions)

    def hashes(self) -> List[int]:
        return [row[0] for row in self.rows]

    def ids_of(self, event_type: str) -> List[str]:
        """The ids of the rows of one event type (a tool call's id for tool_usage)."""
        wanted = {i for i, (kind, _) in enumerate(self.kinds) if kind == event_type}
        return [row[_ID] for row in self.rows if row[_KIND] in wanted]

    def growable_places(self, growable: frozenset) -> List[bool]:
        """For each of `places`, whether a row of a growable event type sits there (and keeps it)."""
        keeps = [kind in growable for kind, _ in self.kinds]
        used = [False] * len(self.places)
        for row in self.rows:
            if keeps[row[_KIND]]:
                used[row[_PLACE]] = True
        return used

    def counted_rows(self, place_ids: List[int], growable: frozenset) -> List[tuple]:
        """The rows of the counted table (store/counted.py), given the place ids of `places`."""
        keeps = [kind in growable for kind, _ in self.kinds]
        return [row[:_AT] + ((row[_AT], place_ids[row[_PLACE]]) if keeps[row[_KIND]] else (None, None))
                for row in self.rows]

    def events(self) -> List[UsageEvent]:
        """The events again, as far as a keys-only store reads them (no payloads), in their order."""
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
