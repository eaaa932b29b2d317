"""Droid (Factory's CLI agent): usage read from its session settings files.

Format facts (Droid is closed source: as other trackers' Droid readers read its files): sessions
are `~/.factory/sessions/<encoded cwd>/<uuid>.jsonl` (the conversation: a first `{"type":
"session_start", "id", "title", "cwd"}` line, then `{"type": "message", "id", "timestamp",
"message"}` lines) beside `<uuid>.settings.json`, which Droid rewrites with the
session's running totals: `model`, `providerLock`, `tokenUsage` {inputTokens, outputTokens,
cacheCreationTokens, cacheReadTokens, thinkingTokens}. A session is one growing usage record, booked
at the session's first message (the settings file's mtime when the conversation file has none yet).
Thinking tokens are counted apart from outputTokens and billed as output: output = outputTokens +
thinkingTokens, reasoning = thinkingTokens.
"""
from __future__ import annotations

import json
import os
from typing import Any, List, Optional, Tuple

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import Usage, count, project_name, text
from openusage.agents.roots import Roots
from openusage.agents.sources import JsonSource
from openusage.core.timeutil import parse_rfc3339

PROVIDER_ID = "droid"
SUFFIX = ".settings.json"


def session_start(path: str) -> Tuple[Optional[float], Optional[str]]:
    """The first timestamp and the cwd of a session's conversation file (its first lines only)."""
    started, cwd = None, None
    try:
        with open(path, "rb") as fh:
            for _ in range(20):
                line = fh.readline(4 * 1024 * 1024)
                if not line:
                    break
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    cwd = cwd or text(obj.get("cwd"))
                    if started is None and isinstance(obj.get("timestamp"), str):
                        started = parse_rfc3339(obj["timestamp"])
                if started is not None and cwd is not None:
                    break
    except OSError:
        pass
    return started, cwd


def parse_settings_file(doc: Any, found: Found) -> List[Any]:
    session = found.name[: -len(SUFFIX)]
    started, cwd = session_start(found.path[: -len(SUFFIX)] + ".jsonl")
    if started is None:
        started = os.stat(found.path).st_mtime
    return parse_settings(doc, session, started, cwd)


def parse_settings(doc: Any, session: str, started: float, cwd: Optional[str]) -> List[Any]:
    """The session's one usage record, from its running totals."""
    usage = doc.get("tokenUsage") if isinstance(doc, dict) else None
    if not isinstance(usage, dict):
        return []
    thinking = count(usage.get("thinkingTokens"))
    model = text(doc.get("model"))
    return [Usage(
        started, session, model, input_tokens=count(usage.get("inputTokens")),
        output_tokens=count(usage.get("outputTokens")) + thinking,
        cache_read_tokens=count(usage.get("cacheReadTokens")),
        cache_write_tokens=count(usage.get("cacheCreationTokens")), reasoning_tokens=thinking, session_id=session,
        project=project_name(cwd), raw={"session": session, "model": model, "provider": doc.get("providerLock"),
                                        "tokenUsage": usage},
    )]


class DroidProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Droid"
    roots = Roots(defaults=("~/.factory/sessions",))
    nothing = "no Droid sessions found"
    sources = (JsonSource("**/*" + SUFFIX, parse_settings_file),)
