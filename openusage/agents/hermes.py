"""Hermes Agent (NousResearch/hermes-agent): usage read from its state database.

Format facts (hermes_state.py's sessions DDL; trackers' readers of the same file): the database is
`$HERMES_HOME/state.db`, else `~/.hermes/state.db`. Its `sessions` table keeps each session's
running totals, which Hermes normalises itself: input_tokens (fresh), cache_read_tokens,
cache_write_tokens, output_tokens, reasoning_tokens, with `model`, `cwd`, `started_at` (epoch
seconds), `actual_cost_usd` (the provider's figure when known) and `estimated_cost_usd` (Hermes' own
price); `api_call_count` counts the requests. A session is one growing usage record, booked at its
start; rows are read again when `last_activity_at` moves. A database whose sessions table lacks the
token or activity columns is counted as `unknown_schema`, never guessed at.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Set

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import Usage, cost, count, number, project_name, text
from openusage.agents.roots import EnvRoot, Roots
from openusage.agents.sources import SqliteSource

PROVIDER_ID = "hermes"
_NEEDED = {"started_at", "input_tokens", "output_tokens", "last_activity_at"}
_OPTIONAL = ("model", "cwd", "started_at", "input_tokens", "output_tokens", "cache_read_tokens",
             "cache_write_tokens", "reasoning_tokens", "actual_cost_usd", "estimated_cost_usd", "api_call_count")


def select(columns: Set[str]) -> Optional[str]:
    """The select list for this database's sessions table; None for a schema without the needed columns."""
    if not _NEEDED <= columns:
        return None
    return ", ".join("t." + c for c in _OPTIONAL if c in columns)


def parse_session_row(row: Dict[str, Any], found: Found) -> List[Any]:
    """The one usage record of a sessions row (none for a session that used no tokens yet)."""
    sid, started = text(row.get("id")), number(row.get("started_at"))
    if sid is None or started is None:
        return []
    inp, out = count(row.get("input_tokens")), count(row.get("output_tokens"))
    cache_read, cache_write = count(row.get("cache_read_tokens")), count(row.get("cache_write_tokens"))
    if not (inp or out or cache_read or cache_write):
        return []
    logged = cost(row.get("actual_cost_usd"))
    if logged is None:
        logged = cost(row.get("estimated_cost_usd"))
    model = text(row.get("model"))
    return [Usage(started, sid, model, input_tokens=inp, output_tokens=out, cache_read_tokens=cache_read,
                  cache_write_tokens=cache_write, reasoning_tokens=min(count(row.get("reasoning_tokens")), out),
                  cost_logged=logged, session_id=sid, project=project_name(row.get("cwd")),
                  requests=max(count(row.get("api_call_count")), 1), raw={"session": sid, "model": model})]


class HermesProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Hermes Agent"
    roots = Roots(defaults=("~/.hermes",), env=(EnvRoot("HERMES_HOME", many=False),))
    markers = ("state.db",)
    nothing = "no Hermes Agent state database found"
    sources = (SqliteSource("state.db", "sessions", parse_session_row, select=select, time_column="last_activity_at"),)
