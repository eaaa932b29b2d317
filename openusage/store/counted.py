"""What has been counted: one compact row per dedup key, kept as long as the totals it fed (forever).

Event rows are detail and are pruned after `data.retention_days`; the rollups they fed stay. The dedup
key of every counted event must outlive its row, or a later read of the same log lines (a cache clear,
a resumed session, a restored file) would count it again. So every path that adds usage asks this
table, and only this table, whether a fact is new: the daemon's store and the reports cache alike.

A row holds a 64-bit BLAKE2b hash of the key and the counts a later, larger copy grows from. A message
that may grow (message_usage) also keeps where its totals sit in the rollups: its time and its place
(provider, account, model, project, session, tool, MCP server, interned in `counted_place`), so a
larger copy dated in another quarter-hour or day moves the whole message there. The daemon's event
rows (store/event_rows.py) name their key and place the same way.
"""
from __future__ import annotations

import sqlite3
from sys import intern as _intern
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Set

from openusage.core.events import UsageEvent

GROWABLE = frozenset({"message_usage"})  # a later copy of the same message may carry larger totals
_LOOKUP_CHUNK = 500  # hashes per lookup query (older SQLite allows 999 variables)

TABLES = (
    "CREATE TABLE IF NOT EXISTS counted (hash INTEGER PRIMARY KEY, input INTEGER NOT NULL, "
    "output INTEGER NOT NULL, cache_read INTEGER NOT NULL, cache_write INTEGER NOT NULL, "
    "reasoning INTEGER NOT NULL, cost REAL, cost_logged REAL, cost_computed REAL, "
    "requests INTEGER NOT NULL, at REAL, place INTEGER)",
    "CREATE TABLE IF NOT EXISTS counted_place (id INTEGER PRIMARY KEY, provider_id TEXT NOT NULL, "
    "account_id TEXT NOT NULL, model TEXT NOT NULL, project TEXT NOT NULL, session_id TEXT NOT NULL, "
    "tool_name TEXT NOT NULL, mcp_server TEXT NOT NULL, "
    "UNIQUE(provider_id, account_id, model, project, session_id, tool_name, mcp_server))",
)
_INSERT = "INSERT OR IGNORE INTO counted VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
_INSERT_PLACE = ("INSERT OR IGNORE INTO counted_place(provider_id, account_id, model, project, session_id, tool_name, "
                 "mcp_server) VALUES (?,?,?,?,?,?,?)")
_COLUMNS = ("hash, input, output, cache_read, cache_write, reasoning, cost, cost_logged, cost_computed, requests, "
            "at, place")


_MARKS = ",".join("?" * _LOOKUP_CHUNK)


def _padded(chunk: List[Any]) -> List[Any]:
    """A chunk of up to _LOOKUP_CHUNK values filled up with its last: every lookup is one statement,
    prepared once, rather than one of each length held in the connection's statement cache."""
    return chunk + [chunk[-1]] * (_LOOKUP_CHUNK - len(chunk))


class Counted(NamedTuple):
    """A counted event as stored: what a later copy is compared with and grows from."""

    hash: int
    input: int
    output: int
    cache_read: int
    cache_write: int
    reasoning: int
    cost: Optional[float]
    cost_logged: Optional[float]
    cost_computed: Optional[float]
    requests: int
    at: Optional[float]  # growable messages: when the kept copy happened
    place: Optional[int]  # growable messages: counted_place.id of the rollup keys its totals sit under

    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write


class Place(NamedTuple):
    """The rollup keys a message's totals sit under (empty strings for none)."""

    provider_id: str
    account_id: str
    model: str
    project: str
    session_id: str
    tool_name: str
    mcp_server: str


def key_hash(key: str) -> int:
    """A dedup key as a signed 64-bit integer (BLAKE2b). Among a million keys, the odds that two
    share a hash are about 3 in 100 million."""
    global _blake2b
    if _blake2b is None:
        from hashlib import blake2b  # here: a warm report that writes nothing never loads hashlib

        _blake2b = blake2b
    return int.from_bytes(_blake2b(key.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


_blake2b: Any = None


def place_of(ev: UsageEvent) -> Place:
    return Place(ev.provider_id, ev.account_id, ev.model or "", ev.project or "", ev.session_id or "",
                 ev.tool_name or "", ev.mcp_server or "")


class Registry:
    """The counted keys of one write connection, with its place ids remembered both ways."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._ids: Dict[Place, int] = {}
        self._places: Dict[int, Place] = {}
        self._empty: Optional[bool] = None  # a first scan into an empty store need not look anything up
        # Every hash counted since the table was found empty (so: all of them), while that is known: a
        # first scan asks this set, not SQLite, whether a key is new. Known while no other connection
        # has committed to the database (data_version, checked as each transaction begins).
        self._added: Optional[Set[int]] = None
        self._version: Optional[int] = None

    def begin(self) -> None:
        """At the start of each write transaction: forget the set when another connection wrote."""
        if self._added is not None:
            version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            if self._version is not None and version != self._version:
                self._added = None
            self._version = version

    def _is_empty(self) -> bool:
        if self._empty is None or self._empty:
            self._empty = self.conn.execute("SELECT 1 FROM counted LIMIT 1").fetchone() is None
            if self._empty:
                self._added = set()
                self._version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        return self._empty

    def lookup(self, keys: Iterable[str], hashed: Optional[Dict[str, int]] = None) -> Dict[str, Counted]:
        """The counted rows of these dedup keys (key -> row), for the keys counted before; `hashed`,
        when given, gets each key's hash (so the caller need not hash them again)."""
        found: Dict[str, Counted] = {}
        if self._is_empty():
            return found
        hashes = {key_hash(key): key for key in keys}
        if hashed is not None:
            hashed.update((key, h) for h, key in hashes.items())
        # Counted since the table was found empty: only the hashes in that set can be found.
        wanted = list(hashes) if self._added is None else [h for h in hashes if h in self._added]
        for i in range(0, len(wanted), _LOOKUP_CHUNK):
            for row in self.conn.execute(f"SELECT {_COLUMNS} FROM counted WHERE hash IN ({_MARKS})",
                                         _padded(wanted[i:i + _LOOKUP_CHUNK])):
                found[hashes[row[0]]] = Counted(*row)
        return found

    def any_counted(self, hashes: List[int]) -> bool:
        """Whether one of these key hashes was counted before."""
        if self._is_empty():
            return False
        if self._added is not None:
            return not self._added.isdisjoint(hashes)
        for i in range(0, len(hashes), _LOOKUP_CHUNK):
            if self.conn.execute(f"SELECT 1 FROM counted WHERE hash IN ({_MARKS}) LIMIT 1",
                                 _padded(hashes[i:i + _LOOKUP_CHUNK])).fetchone() is not None:
                return True
        return False

    def add(self, hashed: int, ev: UsageEvent) -> bool:
        """Count one event unless its key (hashed: key_hash) was counted before; True when it is new."""
        new = self.conn.execute(_INSERT, self.row(hashed, ev)).rowcount == 1
        if new:
            self._empty = False
            if self._added is not None:
                self._added.add(hashed)
        return new

    def add_many(self, rows: List[tuple]) -> None:
        """Count events known to be new (rows from row())."""
        if rows:
            rows.sort()  # in key order: each b-tree page is visited once
            self.conn.executemany(_INSERT, rows)
            self._empty = False
            if self._added is not None:
                self._added.update(row[0] for row in rows)

    def add_from_events(self, first_id: int, hashes: List[int]) -> None:
        """Count the events stored from row id `first_id` on, known to be new (their key hashes: `hashes`),
        each as row() makes it of its event."""
        growable = ", ".join(f"'{kind}'" for kind in sorted(GROWABLE))
        self.conn.execute(
            "INSERT OR IGNORE INTO counted SELECT key, input_tokens, output_tokens, cache_read_tokens, "
            "cache_write_tokens, reasoning_tokens, cost_usd, cost_logged_usd, cost_computed_usd, requests, "
            f"CASE WHEN event_type IN ({growable}) THEN occurred_at END, "
            f"CASE WHEN event_type IN ({growable}) THEN place END FROM events WHERE id >= ? ORDER BY key",
            (first_id,))
        self._empty = False
        if self._added is not None:
            self._added.update(hashes)

    def row(self, hashed: int, ev: UsageEvent) -> tuple:
        growable = ev.event_type in GROWABLE
        return (hashed, ev.input_tokens, ev.output_tokens, ev.cache_read_tokens, ev.cache_write_tokens,
                ev.reasoning_tokens, ev.cost_usd, ev.cost_logged_usd, ev.cost_computed_usd, ev.requests,
                ev.occurred_at if growable else None, self.place_id(place_of(ev)) if growable else None)

    def grow(self, row: Counted, ev: UsageEvent) -> None:
        """Keep a later, larger copy's counts, time and place for a counted message."""
        self.conn.execute(
            "UPDATE counted SET input=?, output=?, cache_read=?, cache_write=?, reasoning=?, cost=?, cost_logged=?, "
            "cost_computed=?, requests=?, at=?, place=? WHERE hash=?",
            (ev.input_tokens, ev.output_tokens, ev.cache_read_tokens, ev.cache_write_tokens, ev.reasoning_tokens,
             ev.cost_usd, ev.cost_logged_usd, ev.cost_computed_usd, ev.requests, ev.occurred_at,
             self.place_id(place_of(ev)), row.hash),
        )

    def place_id(self, place: Place) -> int:
        found = self._ids.get(place)
        if found is None:
            cur = self.conn.execute(_INSERT_PLACE, place)
            if cur.rowcount == 1:  # new: its id is the row's (a catch-up's common case, one statement)
                found = cur.lastrowid
            else:
                found = self.conn.execute(
                    "SELECT id FROM counted_place WHERE provider_id=? AND account_id=? AND model=? AND project=? "
                    "AND session_id=? AND tool_name=? AND mcp_server=?", place).fetchone()[0]
            self._remember(found, place)
        return found

    def place_ids(self, places: List[Place]) -> List[int]:
        """place_id of each of these places."""
        ids = self._ids
        return [ids[place] if place in ids else self.place_id(place) for place in places]

    def place(self, place_id: int) -> Optional[Place]:
        found = self._places.get(place_id)
        if found is None:
            row = self.conn.execute("SELECT provider_id, account_id, model, project, session_id, tool_name, "
                                    "mcp_server FROM counted_place WHERE id=?", (place_id,)).fetchone()
            if row is None:
                return None
            found = Place(*row)
            self._remember(place_id, found)
        return found

    def release(self) -> None:
        """Stop keeping the counted hashes and the places in memory (lookups ask SQLite from now on)."""
        if self._empty is False:
            self._added = None
        self._ids.clear()
        self._places.clear()

    def forget(self) -> None:
        """After the tables were cleared (history cleared, a transaction rolled back)."""
        self._ids.clear()
        self._places.clear()
        self._empty = None
        self._added = None

    def _remember(self, place_id: int, place: Place) -> None:
        if len(self._ids) > 50_000:
            self._ids.clear()
            self._places.clear()
        # Places share their strings (a session's id, a model's name recur in many): a catch-up's tens of
        # thousands of places then cost their tuples, not seven strings each.
        place = Place(*map(_intern, place))
        self._ids[place] = place_id
        self._places[place_id] = place


def create_from_events(conn: sqlite3.Connection) -> None:
    """Schema migration: the counted table, filled from the event rows a store holds (inside the
    migration's transaction). Events pruned before this version are gone with their keys."""
    for statement in TABLES:
        conn.execute(statement)
    registry = Registry(conn)
    rows: List[tuple] = []
    cursor = conn.execute(
        "SELECT dedup_key, source, provider_id, account_id, event_type, occurred_at, model, input_tokens, "
        "output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, cost_logged_usd, "
        "cost_computed_usd, requests, project, session_id, tool_name, mcp_server FROM events")
    for r in cursor:
        ev = UsageEvent(source=r[1], provider_id=r[2], account_id=r[3], event_type=r[4], occurred_at=r[5],
                        model=r[6], input_tokens=r[7], output_tokens=r[8], cache_read_tokens=r[9],
                        cache_write_tokens=r[10], reasoning_tokens=r[11], cost_usd=r[12], cost_logged_usd=r[13],
                        cost_computed_usd=r[14], requests=r[15], project=r[16], session_id=r[17],
                        tool_name=r[18], mcp_server=r[19])
        rows.append(registry.row(key_hash(r[0]), ev))
        if len(rows) >= 10_000:
            registry.add_many(rows)
            rows = []
    registry.add_many(rows)


def clear(conn: sqlite3.Connection) -> None:
    """Forget every counted key (only with the totals they fed: `cache clear --history`)."""
    conn.execute("DELETE FROM counted")
    conn.execute("DELETE FROM counted_place")


def as_event(at: float, place: Place, source: str, event_type: str) -> UsageEvent:
    """A stand-in event at a counted message's old time and place (to take its totals back out)."""
    return UsageEvent(source=source, provider_id=place.provider_id, account_id=place.account_id,
                      event_type=event_type, occurred_at=at, model=place.model or None,
                      project=place.project or None, session_id=place.session_id or None,
                      tool_name=place.tool_name or None, mcp_server=place.mcp_server or None)

