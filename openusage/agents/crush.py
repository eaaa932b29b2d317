"""Crush (charmbracelet/crush): spend read from each project's database.

Format facts (internal/projects/projects.go, internal/db/migrations, internal/agent): the data dir
is $CRUSH_GLOBAL_DATA, else `$XDG_DATA_HOME/crush` (`~/.local/share/crush`); its `projects.json`
({"projects": [{path, data_dir, last_accessed}]}) lists the projects, and each project's
`<data_dir>/crush.db` (by default `<project>/.crush/crush.db`) has a `sessions` table with `cost`
(USD, Crush's own running total: `sess.Cost += cost`), created_at/updated_at (epoch seconds) and a
`messages` table (session_id, role, model, created_at). Its prompt_tokens and completion_tokens are
NOT totals: Crush overwrites them after every request with that request's context
(`sess.PromptTokens = usage.InputTokens + usage.CacheCreationTokens`, reset to 0 by a summary), so
summing them would count each context again and again. A Crush session is therefore booked by its
cost alone, at its creation, with the model of its latest assistant message; the token figures
stay in the raw record. It is read again when its updated_at moves, and its cost grows in the store.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Set

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import Usage, cost, count, number, project_name, text
from openusage.agents.roots import EnvGet, EnvRoot, Roots, expand, unique
from openusage.agents.sources import SqliteSource
from openusage.providers.base import AccountConfig

PROVIDER_ID = "crush"
_MODEL = ("(SELECT m.model FROM messages m WHERE m.session_id = t.id AND m.role = 'assistant' AND m.model IS NOT NULL"
          " AND m.model != '' ORDER BY m.created_at DESC LIMIT 1) AS model")


def projects(path: str, home: str) -> List[str]:
    """The data dirs of the projects a projects.json lists."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.loads(fh.read(4 * 1024 * 1024))
    except (OSError, ValueError):
        return []
    out = []
    for entry in (data.get("projects") or []) if isinstance(data, dict) else []:
        project = text(entry.get("path")) if isinstance(entry, dict) else None
        if project:
            data_dir = text(entry.get("data_dir")) or ".crush"
            out.append(expand(data_dir if os.path.isabs(data_dir) else os.path.join(project, data_dir), home))
    return out


def select(columns: Set[str]) -> Optional[str]:
    if not {"cost", "created_at"} <= columns:
        return None
    tokens = [f"t.{c}" for c in ("prompt_tokens", "completion_tokens") if c in columns]
    return ", ".join(["t.cost", "t.created_at"] + tokens + [_MODEL])


def parse_session_row(row: Dict[str, Any], found: Found) -> List[Any]:
    """The one spend record of a sessions row (none for a session that has cost nothing yet)."""
    sid, created, spent = text(row.get("id")), number(row.get("created_at")), cost(row.get("cost"))
    if sid is None or created is None or not spent:
        return []
    root = found.root.rstrip("/")
    project = project_name(os.path.dirname(root)) if os.path.basename(root) == ".crush" else project_name(root)
    model = text(row.get("model"))
    return [Usage(created, sid, model, cost_logged=spent, session_id=sid, project=project,
                  raw={"session": sid, "model": model, "context_prompt_tokens": count(row.get("prompt_tokens")),
                       "context_completion_tokens": count(row.get("completion_tokens"))})]


class CrushProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Crush"
    roots = Roots(defaults=("$XDG_DATA_HOME/crush",), env=(EnvRoot("CRUSH_GLOBAL_DATA", many=False),))
    env_vars = ("CRUSH_GLOBAL_DATA", "XDG_DATA_HOME")
    nothing = "no Crush projects found"
    sources = (SqliteSource("crush.db", "sessions", parse_session_row, select=select, time_column="updated_at"),)

    def root_dirs(self, env_get: EnvGet, home: str, account: Optional[AccountConfig] = None) -> List[str]:
        """The project data dirs that projects.json in Crush's data dir lists (the data dir when none)."""
        data_dirs = super().root_dirs(env_get, home, account)
        found = [d for top in data_dirs for d in projects(os.path.join(top, "projects.json"), home)]
        return unique([d for d in found if os.path.isdir(d)]) or data_dirs
