"""An event as the events table holds it (store/event_schema.py), and the SQL that sums a bulk write's
rollups from those rows.

The writer (store/writer.py) inserts new events with these statements; a write of many new events
then has SQLite sum their rollups, breakdowns and sessions (BULK_ROLLUP_SQL) rather than Python,
exactly as the writer's `_add_rollups` sums them one by one.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Optional

from openusage.core.events import UsageEvent
from openusage.store.counted import Place
from openusage.store.event_schema import EVENT_COLS
from openusage.store.rollups import DIM_COLS, QUARTER_COLS, USAGE_COLS
from openusage.store.rollups import sets as _sets

# One encoder for every event: json.dumps with options builds a new one per call (2.5x the cost).
_RAW_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def raw_json(ev: UsageEvent) -> Optional[str]:
    return encode_raw(ev.raw)


def encode_raw(raw: Optional[Dict[str, Any]]) -> Optional[str]:
    """A payload as the `raw` column holds it."""
    return None if raw is None else _RAW_ENCODER.encode(raw)


def event_of(row: tuple, place: Place) -> UsageEvent:
    """The event an event row (EVENT_COLS order) and its place were made of, its payload decoded."""
    fields = dict(zip(EVENT_COLS, row))
    del fields["key"], fields["place"], fields["ingested_at"]
    raw = fields.pop("raw")
    return UsageEvent(raw=None if raw is None else json.loads(raw), provider_id=place.provider_id,
                      account_id=place.account_id, model=place.model or None, project=place.project or None,
                      session_id=place.session_id or None, tool_name=place.tool_name or None,
                      mcp_server=place.mcp_server or None, **fields)


def event_row(ev: UsageEvent, hashed: int, place_id: int, now: float, raw: Optional[str]) -> tuple:
    return (
        hashed, place_id, ev.source, ev.event_type, ev.occurred_at, ev.turn_id, ev.message_id, ev.tool_call_id,
        ev.input_tokens, ev.output_tokens, ev.cache_read_tokens, ev.cache_write_tokens, ev.reasoning_tokens,
        ev.cost_usd, ev.cost_logged_usd, ev.cost_computed_usd, ev.requests, raw, now,
    )


# Rollups of the events inserted in one bulk write (ids >= :first), summed by SQLite exactly as
# _add_rollups sums them one by one: the same columns, conditions and keys. NOT INDEXED keeps each
# read to the batch's rowid range (left alone, the planner may scan the whole table through an
# index), and CROSS JOIN keeps the events outside, each finding its place by id.
_FROM = "FROM events AS e NOT INDEXED CROSS JOIN counted_place AS p ON p.id = e.place"
_BUCKET = "(CAST(e.occurred_at AS INTEGER) / 900)"  # floor(occurred_at / QUARTER) for epoch seconds >= 0
_USAGE_WHERE = (
    "e.id >= :first AND (input_tokens <> 0 OR output_tokens <> 0 OR cache_read_tokens <> 0 OR "
    "cache_write_tokens <> 0 OR COALESCE(cost_usd, 0) <> 0 OR requests <> 0)"
)
_USAGE_SUMS = (
    "SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens), "
    "SUM(reasoning_tokens), SUM(COALESCE(cost_usd, 0)), SUM(requests), COUNT(*)"
)
# One scan of the batch yields its four dimensions (tool, MCP server, project, session) per bucket.
_BATCH_DIMS = (
    "INSERT INTO temp.batch_dims SELECT provider_id, account_id, b, dim, name, SUM(calls), SUM(requests), "
    "SUM(tokens), SUM(cost) FROM (SELECT p.provider_id AS provider_id, p.account_id AS account_id, "
    f"{_BUCKET} AS b, d.dim AS dim, CASE d.dim WHEN 'tool' THEN p.tool_name WHEN 'mcp' THEN p.mcp_server "
    "WHEN 'project' THEN p.project ELSE p.session_id END AS name, e.event_type = 'tool_usage' AS calls, "
    "e.requests AS requests, e.input_tokens + e.output_tokens + e.cache_read_tokens + e.cache_write_tokens "
    f"AS tokens, COALESCE(e.cost_usd, 0) AS cost {_FROM}, (SELECT 'tool' AS dim UNION ALL SELECT 'mcp' "
    "UNION ALL SELECT 'project' UNION ALL SELECT 'session') AS d WHERE e.id >= :first) "
    "WHERE name <> '' GROUP BY 1, 2, 3, 4, 5"
)
BATCH_DIMS_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS batch_dims(provider_id, account_id, b, dim, name, calls, requests, "
    "tokens, cost)"
)


BULK_ROLLUP_SQL = (
    f"INSERT INTO rollup_q(provider_id, account_id, bucket, model, project, session_id, {', '.join(QUARTER_COLS)}) "
    f"SELECT p.provider_id, p.account_id, {_BUCKET}, p.model, p.project, p.session_id, {_USAGE_SUMS}, "
    f"SUM(COALESCE(cost_computed_usd, cost_usd, 0)), SUM(COALESCE(cost_logged_usd, 0)) {_FROM} "
    f"WHERE {_USAGE_WHERE} GROUP BY 1, 2, 3, 4, 5, 6 "
    f"ON CONFLICT(provider_id, account_id, bucket, model, project, session_id) DO UPDATE SET {_sets(QUARTER_COLS)}",
    f"INSERT INTO rollup_d(provider_id, account_id, day, model, {', '.join(USAGE_COLS)}) "
    "SELECT provider_id, account_id, ou_local_day(b), m, SUM(i), SUM(o), SUM(cr), SUM(cw), SUM(r), SUM(c), "
    "SUM(q), SUM(n) FROM ("
    f"SELECT p.provider_id AS provider_id, p.account_id AS account_id, {_BUCKET} AS b, p.model AS m, "
    "SUM(input_tokens) AS i, SUM(output_tokens) AS o, SUM(cache_read_tokens) AS cr, SUM(cache_write_tokens) AS cw, "
    "SUM(reasoning_tokens) AS r, SUM(COALESCE(cost_usd, 0)) AS c, SUM(requests) AS q, COUNT(*) AS n "
    f"{_FROM} WHERE {_USAGE_WHERE} GROUP BY 1, 2, 3, 4) WHERE 1 GROUP BY 1, 2, 3, 4 "
    f"ON CONFLICT(provider_id, account_id, day, model) DO UPDATE SET {_sets(USAGE_COLS)}",
    f"INSERT INTO rollup_qm(provider_id, account_id, bucket, model, {', '.join(USAGE_COLS)}) "
    f"SELECT p.provider_id, p.account_id, {_BUCKET}, p.model, {_USAGE_SUMS} {_FROM} "
    f"WHERE {_USAGE_WHERE} GROUP BY 1, 2, 3, 4 "
    f"ON CONFLICT(provider_id, account_id, bucket, model) DO UPDATE SET {_sets(USAGE_COLS)}",
    "DELETE FROM temp.batch_dims",
    _BATCH_DIMS,
    f"INSERT INTO dim_q(provider_id, account_id, bucket, dim, name, {', '.join(DIM_COLS)}) "
    "SELECT * FROM temp.batch_dims WHERE 1 "
    f"ON CONFLICT(provider_id, account_id, bucket, dim, name) DO UPDATE SET {_sets(DIM_COLS)}",
    f"INSERT INTO dim_d(provider_id, account_id, day, dim, name, {', '.join(DIM_COLS)}) "
    "SELECT provider_id, account_id, ou_local_day(b), dim, name, SUM(calls), SUM(requests), SUM(tokens), "
    "SUM(cost) FROM temp.batch_dims WHERE 1 GROUP BY 1, 2, 3, 4, 5 "
    f"ON CONFLICT(provider_id, account_id, day, dim, name) DO UPDATE SET {_sets(DIM_COLS)}",
    f"INSERT INTO sessions(provider_id, account_id, session_id, project, first_at, last_at, {', '.join(DIM_COLS)}) "
    # The session's first non-empty project: the smallest "<id, zero-padded><project>", unpadded; its
    # breakdown sums as _BATCH_DIMS makes them.
    "SELECT p.provider_id, p.account_id, p.session_id, "
    "substr(MIN(CASE WHEN p.project <> '' THEN printf('%020d', e.id) || p.project END), 21), "
    "MIN(e.occurred_at), MAX(e.occurred_at), SUM(e.event_type = 'tool_usage'), SUM(requests), "
    "SUM(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens), SUM(COALESCE(cost_usd, 0)) "
    f"{_FROM} WHERE e.id >= :first AND p.session_id <> '' GROUP BY 1, 2, 3 "
    "ON CONFLICT(provider_id, account_id, session_id) DO UPDATE SET "
    "project=COALESCE(NULLIF(sessions.project, ''), excluded.project), "
    "first_at=MIN(sessions.first_at, excluded.first_at), last_at=MAX(sessions.last_at, excluded.last_at), "
    f"{', '.join(f'{c}=sessions.{c}+excluded.{c}' for c in DIM_COLS)}",
)
