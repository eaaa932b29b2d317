"""An event as the events table holds it, and the SQL that sums a bulk write's rollups from those rows.

The writer (store/writer.py) inserts new events with these statements; a write of many new events
then has SQLite sum their rollups, breakdowns and sessions (BULK_ROLLUP_SQL) rather than Python,
exactly as the writer's `_add_rollups` sums them one by one.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Optional

from openusage.core.events import UsageEvent
from openusage.store.rollups import DIM_COLS, QUARTER_COLS, USAGE_COLS
from openusage.store.rollups import sets as _sets

EVENT_COLS = (
    "dedup_key", "source", "provider_id", "account_id", "event_type", "occurred_at", "session_id", "turn_id",
    "message_id", "tool_call_id", "model", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "reasoning_tokens", "cost_usd", "cost_logged_usd", "cost_computed_usd", "requests",
    "tool_name", "project", "mcp_server", "raw", "ingested_at",
)
INSERT_EVENT = (
    f"INSERT OR IGNORE INTO events({', '.join(EVENT_COLS)}) VALUES({', '.join('?' * len(EVENT_COLS))})"
)


# One encoder for every event: json.dumps with options builds a new one per call (2.5x the cost).
_RAW_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def raw_json(ev: UsageEvent) -> Optional[str]:
    return encode_raw(ev.raw)


def encode_raw(raw: Optional[Dict[str, Any]]) -> Optional[str]:
    """A payload as the `raw` column holds it."""
    return None if raw is None else _RAW_ENCODER.encode(raw)


def event_of(row: tuple) -> UsageEvent:
    """The event an event row (EVENT_COLS order) was made of, its payload decoded."""
    fields = dict(zip(EVENT_COLS, row))
    del fields["dedup_key"], fields["ingested_at"]
    raw = fields.pop("raw")
    return UsageEvent(raw=None if raw is None else json.loads(raw), **fields)


def event_row(ev: UsageEvent, key: str, now: float, raw: Optional[str]) -> tuple:
    return (
        key, ev.source, ev.provider_id, ev.account_id, ev.event_type, ev.occurred_at, ev.session_id, ev.turn_id,
        ev.message_id, ev.tool_call_id, ev.model, ev.input_tokens, ev.output_tokens, ev.cache_read_tokens,
        ev.cache_write_tokens, ev.reasoning_tokens, ev.cost_usd, ev.cost_logged_usd, ev.cost_computed_usd,
        ev.requests, ev.tool_name, ev.project, ev.mcp_server, raw, now,
    )


# Rollups of the events inserted in one bulk write (ids >= :first), summed by SQLite exactly as
# _add_rollups sums them one by one: the same columns, conditions and keys. NOT INDEXED keeps each
# read to the batch's rowid range: left alone, the planner scans the whole table through an index
# that happens to match the GROUP BY, and a cold scan grows quadratic.
_BUCKET = "(CAST(occurred_at AS INTEGER) / 900)"  # floor(occurred_at / QUARTER) for epoch seconds >= 0
_USAGE_WHERE = (
    "id >= :first AND (input_tokens <> 0 OR output_tokens <> 0 OR cache_read_tokens <> 0 OR "
    "cache_write_tokens <> 0 OR COALESCE(cost_usd, 0) <> 0 OR requests <> 0)"
)
_USAGE_SUMS = (
    "SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens), "
    "SUM(reasoning_tokens), SUM(COALESCE(cost_usd, 0)), SUM(requests), COUNT(*)"
)
# One scan of the batch yields its four dimensions (tool, MCP server, project, session) per bucket.
_BATCH_DIMS = (
    "INSERT INTO temp.batch_dims SELECT provider_id, account_id, b, dim, name, SUM(calls), SUM(requests), "
    "SUM(tokens), SUM(cost) FROM (SELECT provider_id, account_id, "
    f"{_BUCKET} AS b, d.dim AS dim, CASE d.dim WHEN 'tool' THEN tool_name WHEN 'mcp' THEN mcp_server "
    "WHEN 'project' THEN project ELSE session_id END AS name, event_type = 'tool_usage' AS calls, requests, "
    "input_tokens + output_tokens + cache_read_tokens + cache_write_tokens AS tokens, "
    "COALESCE(cost_usd, 0) AS cost FROM events NOT INDEXED, (SELECT 'tool' AS dim UNION ALL SELECT 'mcp' "
    "UNION ALL SELECT 'project' UNION ALL SELECT 'session') AS d WHERE id >= :first) "
    "WHERE name <> '' GROUP BY 1, 2, 3, 4, 5"
)
BATCH_DIMS_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS batch_dims(provider_id, account_id, b, dim, name, calls, requests, "
    "tokens, cost)"
)


BULK_ROLLUP_SQL = (
    f"INSERT INTO rollup_q(provider_id, account_id, bucket, model, project, session_id, {', '.join(QUARTER_COLS)}) "
    f"SELECT provider_id, account_id, {_BUCKET}, COALESCE(model, ''), COALESCE(project, ''), "
    f"COALESCE(session_id, ''), {_USAGE_SUMS}, SUM(COALESCE(cost_computed_usd, cost_usd, 0)), "
    f"SUM(COALESCE(cost_logged_usd, 0)) FROM events NOT INDEXED WHERE {_USAGE_WHERE} GROUP BY 1, 2, 3, 4, 5, 6 "
    f"ON CONFLICT(provider_id, account_id, bucket, model, project, session_id) DO UPDATE SET {_sets(QUARTER_COLS)}",
    f"INSERT INTO rollup_d(provider_id, account_id, day, model, {', '.join(USAGE_COLS)}) "
    "SELECT provider_id, account_id, ou_local_day(b), m, SUM(i), SUM(o), SUM(cr), SUM(cw), SUM(r), SUM(c), "
    "SUM(q), SUM(n) FROM ("
    f"SELECT provider_id, account_id, {_BUCKET} AS b, COALESCE(model, '') AS m, SUM(input_tokens) AS i, "
    "SUM(output_tokens) AS o, SUM(cache_read_tokens) AS cr, SUM(cache_write_tokens) AS cw, "
    "SUM(reasoning_tokens) AS r, SUM(COALESCE(cost_usd, 0)) AS c, SUM(requests) AS q, COUNT(*) AS n "
    f"FROM events NOT INDEXED WHERE {_USAGE_WHERE} GROUP BY 1, 2, 3, 4) WHERE 1 GROUP BY 1, 2, 3, 4 "
    f"ON CONFLICT(provider_id, account_id, day, model) DO UPDATE SET {_sets(USAGE_COLS)}",
    f"INSERT INTO rollup_qm(provider_id, account_id, bucket, model, {', '.join(USAGE_COLS)}) "
    f"SELECT provider_id, account_id, {_BUCKET}, COALESCE(model, ''), {_USAGE_SUMS} FROM events NOT INDEXED "
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
    "SELECT provider_id, account_id, session_id, "
    "substr(MIN(CASE WHEN project <> '' THEN printf('%020d', id) || project END), 21), "
    "MIN(occurred_at), MAX(occurred_at), SUM(event_type = 'tool_usage'), SUM(requests), "
    "SUM(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens), SUM(COALESCE(cost_usd, 0)) "
    "FROM events NOT INDEXED WHERE id >= :first AND session_id <> '' GROUP BY 1, 2, 3 "
    "ON CONFLICT(provider_id, account_id, session_id) DO UPDATE SET "
    "project=COALESCE(NULLIF(sessions.project, ''), excluded.project), "
    "first_at=MIN(sessions.first_at, excluded.first_at), last_at=MAX(sessions.last_at, excluded.last_at), "
    f"{', '.join(f'{c}=sessions.{c}+excluded.{c}' for c in DIM_COLS)}",
)
