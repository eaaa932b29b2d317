"""OpenCode: usage and tool calls read incrementally from OpenCode's local store.

The data dirs are an account's `paths`, else $OPENCODE_DATA_DIR, else $XDG_DATA_HOME/opencode (default
~/.local/share/opencode) and its channel siblings opencode-canary/-beta/-nightly (FORMATS-REFERENCE.md
section E). Each may hold
SQLite databases (opencode.db, opencode-<channel>.db; since v1.2) whose message and part rows carry the
message/part JSON without its ids, and the legacy tree storage/{session,message,part}/. A database row
wins over a legacy file for the same message id. Databases are opened read-only and never get a file
created beside them; rows are read from a per-database time_updated cursor, legacy files again only when
their (mtime, size) changed.

Counting rules: one message_usage event per assistant message once it has time.completed (messages are
rewritten while they stream). A message without it waits; it also counts once a later assistant message
of its session exists, since OpenCode starts the next one only after the previous ended (a crash leaves
the last write without time.completed). Tokens: input = tokens.input (OpenCode already takes cache reads
and writes out), cache_read/cache_write = tokens.cache.read/write, output = tokens.output +
tokens.reasoning. OpenCode stores reasoning beside output (anomalyco/opencode#21047 made output the AI
SDK's outputTokens minus reasoningTokens; the Google provider reported them apart before), except in
older OpenAI-style records whose tokens.total = input + cache + output shows reasoning inside output;
reasoning_tokens is then the part of output spent reasoning, never added twice. Each tool part of a
finished message in a final state is a tool_usage event keyed by its callID, the key the plugin's
tool.execute.after hook sends.
"""
from __future__ import annotations

import os
from typing import Callable, List, Optional

from openusage.agents.base import AgentProvider
from openusage.agents.opencode.collect import Collector
from openusage.agents.opencode.files import database_files
from openusage.agents.opencode.parse import (
    PROVIDER_ID,
    Message,
    SkippedRecord,
    ToolCall,
    compute_message_cost,
    load_json,
    normalize_tokens,
    parse_message,
    parse_tool_part,
    project_name,
    project_of_path,
    tool_event,
    usage_event,
)
from openusage.agents.roots import EnvRoot, Roots
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, local_snapshot

__all__ = [
    "PROVIDER_ID", "Message", "OpenCodeProvider", "SkippedRecord", "ToolCall", "compute_message_cost", "data_dirs",
    "database_files", "load_json", "normalize_tokens", "parse_message", "parse_tool_part", "project_name",
    "project_of_path", "tool_event", "usage_event",
]

ENV_DATA_DIR = "OPENCODE_DATA_DIR"
ENV_XDG_DATA = "XDG_DATA_HOME"
CHANNELS = ("canary", "beta", "nightly")
# OPENCODE_DATA_DIR when set, else the default data dir, its channel siblings (and macOS's). XDG_DATA_HOME
# locates the default data dir, as OpenCode itself resolves it.
ROOTS = Roots(defaults=("$XDG_DATA_HOME/opencode",) + tuple(f"$XDG_DATA_HOME/opencode-{c}" for c in CHANNELS),
              env=(EnvRoot(ENV_DATA_DIR, many=False),), darwin=("~/Library/Application Support/opencode",))


class OpenCodeProvider(AgentProvider):
    id = PROVIDER_ID
    name = "OpenCode"
    roots = ROOTS
    nothing = "no OpenCode data directory found"
    fetch_timeout = 120.0  # the first poll reads the whole history (about 8 s for 50k messages)
    widgets = {
        "figures": ["spend.total", "tokens.total", "tool_calls"],
        "sections": ["models", "tools", "projects", "sessions", "mcp_servers"],
    }

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        """A snapshot plus a lazy stream of events; the stream fills in the snapshot's counters."""
        dirs = self.root_dirs(ctx.env.get, ctx.fs.home, account)
        snapshot = local_snapshot(self, account, {"data_dirs": dirs}, dirs, self.nothing)
        if snapshot.status != "OK":
            return FetchResult(snapshot=snapshot, events=[])
        events = Collector(account.id, ctx.state, ctx.log).run([d for d in dirs if os.path.isdir(d)], snapshot)
        return FetchResult(snapshot=snapshot, events=events)  # type: ignore[arg-type]


def data_dirs(env_get: Callable[[str], Optional[str]], home: str) -> List[str]:
    """OPENCODE_DATA_DIR when set, else the default data dir, its channel siblings (and macOS's)."""
    return ROOTS.resolve(env_get, home)
