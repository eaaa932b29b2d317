"""Zed's agent panel: usage read from its threads database.

Format facts (zed-industries/zed crates/agent/src/db.rs): the database is `<data dir>/threads/
threads.db`, the data dir being `$XDG_DATA_HOME/zed` (`~/.local/share/zed`; macOS
`~/Library/Application Support/Zed`). Its `threads` table has id, summary, updated_at (RFC 3339),
data_type ("json" or "zstd"), data (the serialized thread), and in newer builds parent_id,
folder_paths and created_at. A thread (DbThread, version "0.3.0") carries `cumulative_token_usage`
{input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens} (Zed's
language_model::TokenUsage: Anthropic style, input is fresh) and `model` {provider, model}. Zed
rewrites the row as the thread goes on: a thread is one growing usage record, booked at its
creation. Zed writes the data zstd-compressed; Python's standard library reads zstd only from 3.14
(`compression.zstd`): where it cannot, such a row is counted as skipped (`zstd_unreadable`), never
guessed at.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Set

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import Skip, Usage, count, project_name, text
from openusage.agents.roots import Roots
from openusage.agents.sources import SqliteSource
from openusage.core.timeutil import parse_rfc3339

PROVIDER_ID = "zed"


def _zstd_decompress() -> Any:
    """compression.zstd's decompress where this Python has it (3.14+), else None."""
    import importlib

    try:
        return importlib.import_module("compression.zstd").decompress
    except ImportError:
        return None


def select(columns: Set[str]) -> Optional[str]:
    if not {"data_type", "data"} <= columns:
        return None
    return ", ".join("t." + c for c in ("data_type", "data", "created_at", "folder_paths") if c in columns)


def decode(data_type: Any, data: Any) -> Any:
    """The thread document of a row; Skip when it is compressed in a form this Python cannot read."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not isinstance(raw, bytes):
        raise Skip("bad_record")
    if data_type == "zstd":
        decompress = _zstd_decompress()
        if decompress is None:
            raise Skip("zstd_unreadable")
        raw = decompress(raw)
    elif data_type != "json":
        raise Skip("unknown_data_type")
    try:
        return json.loads(raw)
    except ValueError:
        raise Skip("bad_json") from None


def parse_thread_row(row: Dict[str, Any], found: Found) -> List[Any]:
    """The one usage record of a threads row (none for a thread that used no tokens yet)."""
    tid = text(row.get("id"))
    if tid is None:
        return []
    doc = decode(row.get("data_type"), row.get("data"))
    usage = doc.get("cumulative_token_usage") if isinstance(doc, dict) else None
    if not isinstance(usage, dict):
        return []
    fresh, output = count(usage.get("input_tokens")), count(usage.get("output_tokens"))
    cache_read, cache_write = count(usage.get("cache_read_input_tokens")), \
        count(usage.get("cache_creation_input_tokens"))
    if not (fresh or output or cache_read or cache_write):
        return []
    stamp = text(row.get("created_at")) or text(row.get("updated_at"))
    at = parse_rfc3339(stamp) if stamp else None
    if at is None:
        raise Skip("bad_timestamp")
    chosen = doc.get("model")
    model = text(chosen.get("model")) if isinstance(chosen, dict) else None
    folders = text(row.get("folder_paths"))
    return [Usage(at, tid, model, input_tokens=fresh, output_tokens=output, cache_read_tokens=cache_read,
                  cache_write_tokens=cache_write, session_id=tid,
                  project=project_name(folders.splitlines()[0]) if folders else None,
                  raw={"thread": tid, "model": model,
                       "provider": chosen.get("provider") if isinstance(chosen, dict) else None})]


class ZedProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Zed"
    roots = Roots(defaults=("$XDG_DATA_HOME/zed",), darwin=("~/Library/Application Support/Zed",))
    markers = ("threads/threads.db",)
    nothing = "no Zed threads database found"
    sources = (SqliteSource("threads/threads.db", "threads", parse_thread_row, select=select,
                            time_column="updated_at"),)
