"""The events table: an event's row, the view that names its place, and the migration to them.

An event row is lean: its dedup key as the 64-bit hash `counted` decides by (counted.key_hash), its
place (provider, account, model, project, session, tool, MCP server) as a `counted_place` id, and its
payload only where no log on disk holds it (a hook's, an API's, an id-less event's). The view
`event_detail` shows each row with its place's strings, for whoever reads the store by hand.
"""
from __future__ import annotations

import sqlite3

from openusage.store.counted import Place, key_hash

EVENT_COLS = (
    "key", "place", "source", "event_type", "occurred_at", "turn_id", "message_id", "tool_call_id",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "cost_usd",
    "cost_logged_usd", "cost_computed_usd", "requests", "raw", "ingested_at",
)
PLACE = 1  # the place column's index in an event row
INSERT_EVENT = (
    f"INSERT INTO events({', '.join(EVENT_COLS)}) VALUES({', '.join('?' * len(EVENT_COLS))})"
)
_PLACE_COLS = Place._fields  # counted_place's columns
_PLACED = ", ".join(f"NULLIF(p.{c}, '') AS {c}" if c not in ("provider_id", "account_id") else f"p.{c}"
                    for c in _PLACE_COLS)
# Each event row with its place's strings (NULL for none, as an event has them), the old columns' names.
EVENT_DETAIL_VIEW = (
    f"CREATE VIEW event_detail AS SELECT e.id, e.key, e.source, {_PLACED}, e.event_type, e.occurred_at, "
    "e.turn_id, e.message_id, e.tool_call_id, e.input_tokens, e.output_tokens, e.cache_read_tokens, "
    "e.cache_write_tokens, e.reasoning_tokens, e.cost_usd, e.cost_logged_usd, e.cost_computed_usd, e.requests, "
    "e.raw, e.ingested_at FROM events AS e JOIN counted_place AS p ON p.id = e.place"
)
LEAN_EVENTS = (
    "CREATE TABLE events (id INTEGER PRIMARY KEY, key INTEGER NOT NULL, place INTEGER NOT NULL, "
    "source TEXT NOT NULL, event_type TEXT NOT NULL, occurred_at REAL NOT NULL, "
    "turn_id TEXT, message_id TEXT, tool_call_id TEXT, "
    "input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, "
    "cache_read_tokens INTEGER NOT NULL DEFAULT 0, cache_write_tokens INTEGER NOT NULL DEFAULT 0, "
    "reasoning_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL, cost_logged_usd REAL, cost_computed_usd REAL, "
    "requests INTEGER NOT NULL DEFAULT 0, raw TEXT, ingested_at REAL NOT NULL)"
)


def lean_events(conn: sqlite3.Connection) -> None:
    """Migration 6: the event rows rewritten lean (their key hashed, their place interned; what they
    held is kept, payloads included), with one index, on time (retention; the read model's edge)."""
    conn.create_function("ou_key_hash", 1, key_hash, deterministic=True)
    place = " AND ".join(f"p.{c} = COALESCE(e.{c}, '')" if c not in ("provider_id", "account_id")
                         else f"p.{c} = e.{c}" for c in _PLACE_COLS)
    conn.execute(f"INSERT OR IGNORE INTO counted_place({', '.join(_PLACE_COLS)}) SELECT DISTINCT provider_id, "
                 "account_id, COALESCE(model, ''), COALESCE(project, ''), COALESCE(session_id, ''), "
                 "COALESCE(tool_name, ''), COALESCE(mcp_server, '') FROM events")
    conn.execute("ALTER TABLE events RENAME TO events_before_6")
    conn.execute(LEAN_EVENTS)
    conn.execute(
        f"INSERT INTO events(id, {', '.join(EVENT_COLS)}) SELECT e.id, ou_key_hash(e.dedup_key), p.id, e.source, "
        "e.event_type, e.occurred_at, e.turn_id, e.message_id, e.tool_call_id, e.input_tokens, e.output_tokens, "
        "e.cache_read_tokens, e.cache_write_tokens, e.reasoning_tokens, e.cost_usd, e.cost_logged_usd, "
        f"e.cost_computed_usd, e.requests, e.raw, e.ingested_at FROM events_before_6 AS e, counted_place AS p "
        f"WHERE {place} ORDER BY e.id")
    conn.execute("DROP TABLE events_before_6")
    conn.execute("CREATE INDEX events_time ON events(occurred_at)")
    conn.execute(EVENT_DETAIL_VIEW)
