"""Goose (block/goose): usage read from its sessions database.

Format facts (crates/goose/src/session/session_manager.rs and its migrations; the schema of real
databases as other trackers record it): the database is `<data dir>/sessions/sessions.db`, the data
dir being `$GOOSE_PATH_ROOT/data`, else `$XDG_DATA_HOME/goose` (`~/.local/share/goose`; macOS
`~/Library/Application Support/Block/goose`). Its `sessions` table keeps each session's running
totals: accumulated_input_tokens, accumulated_output_tokens, accumulated_total_tokens (older builds
only input_tokens/output_tokens), newer builds accumulated_cache_read_tokens,
accumulated_cache_write_tokens and accumulated_cost, with working_dir, created_at/updated_at (SQLite
CURRENT_TIMESTAMP text, UTC) and model_config_json {"model_name", ...}. The columns are probed: a
database of another shape is counted as `unknown_schema`, never guessed at. Goose counts a
provider's cached tokens inside its input, so fresh input = input - cache read - cache write. A
session is one growing usage record, booked at its creation, read again when its updated_at moves.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Set

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import Usage, cost, count, project_name, text
from openusage.agents.roots import EnvRoot, Roots
from openusage.agents.sources import SqliteSource

PROVIDER_ID = "goose"
_OPTIONAL = ("working_dir", "created_at", "model_config_json", "provider_name", "accumulated_cache_read_tokens",
             "accumulated_cache_write_tokens", "accumulated_cost")


def select(columns: Set[str]) -> Optional[str]:
    """The select list for this database's sessions table; None when it holds no token totals."""
    if {"accumulated_input_tokens", "accumulated_output_tokens"} <= columns:
        picked = ["accumulated_input_tokens AS input", "accumulated_output_tokens AS output"]
    elif {"input_tokens", "output_tokens"} <= columns:
        picked = ["input_tokens AS input", "output_tokens AS output"]
    else:
        return None
    return ", ".join(["t." + p for p in picked] + ["t." + c for c in _OPTIONAL if c in columns])


def parse_time(value: Any) -> Optional[float]:
    """Epoch seconds of a Goose timestamp ("YYYY-MM-DD HH:MM:SS[.fff]" UTC, or RFC 3339)."""
    if not isinstance(value, str) or not value:
        return None
    stamp = value.strip().replace("T", " ").rstrip("Z")
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(stamp[:26], fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def parse_session_row(row: Dict[str, Any], found: Found) -> List[Any]:
    """The one usage record of a sessions row (none for a session that used no tokens yet)."""
    sid = text(row.get("id"))
    at = parse_time(row.get("created_at")) or parse_time(row.get("updated_at"))
    if sid is None or at is None:
        return []
    inp, out = count(row.get("input")), count(row.get("output"))
    cache_read, cache_write = count(row.get("accumulated_cache_read_tokens")), \
        count(row.get("accumulated_cache_write_tokens"))
    if not (inp or out or cache_read or cache_write):
        return []
    model = None
    try:
        config = json.loads(row.get("model_config_json") or "null")
        model = text(config.get("model_name")) if isinstance(config, dict) else None
    except (TypeError, ValueError):
        pass
    return [Usage(at, sid, model, input_tokens=max(inp - cache_read - cache_write, 0), output_tokens=out,
                  cache_read_tokens=cache_read, cache_write_tokens=cache_write,
                  cost_logged=cost(row.get("accumulated_cost")), session_id=sid,
                  project=project_name(row.get("working_dir")),
                  raw={"session": sid, "model": model, "provider": row.get("provider_name")})]


class GooseProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Goose"
    roots = Roots(defaults=("$XDG_DATA_HOME/goose",), darwin=("~/Library/Application Support/Block/goose",),
                  env=(EnvRoot("GOOSE_PATH_ROOT", "data", many=False),))
    markers = ("sessions/sessions.db",)
    nothing = "no Goose sessions database found"
    sources = (SqliteSource("sessions/sessions.db", "sessions", parse_session_row, select=select,
                            time_column="updated_at"),)
