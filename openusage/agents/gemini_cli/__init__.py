"""Gemini CLI: usage and tool calls read from the chat recordings Gemini CLI writes.

Recordings are `<root>/<project>/chats/session-*.jsonl` (append-only), subagent sessions
`<root>/<project>/chats/<parentSessionId>/<sessionId>.jsonl`, and legacy whole-file
`<root>/<project>/chats/session-*.json`; roots are an account's `paths`, else the entries of
GEMINI_DATA_DIR, else `$GEMINI_CLI_HOME/.gemini/tmp` or `~/.gemini/tmp` (FORMATS-REFERENCE.md
section D). `<project>` is a short slug from `~/.gemini/projects.json` or, before the migration, the
sha256 of the project root.

Counting rules. A gemini message is appended again every time it changes (tokens, tool calls); the
last record of an id wins, and a record whose `tokens` is null never cancels tokens already read.
Gemini CLI fills `tokens` once and never rewrites them, so the first record carrying tokens is final
in practice: it becomes the message_usage event, keyed `<sessionId>:<id>` (a legacy `.json` and its
`.jsonl` continuation share the keys). Should a later record of the id still carry other numbers, a
correction event keyed `<sessionId>:<id>#r<n>` (the n-th change, in file order) adds the signed
difference, so the stored sum equals the last record's numbers. Keys and numbers depend only on the
file's content, never on where a poll stopped, so a file read again from the start (a cleared cache,
a replaced file) yields the same events and the store keeps one of each. A legacy `.json` holds only
the current copy of each message: a changed one is emitted again under its key (the store keeps the
larger copy). A `$set` checkpoint replaces the CLI's message list but repeats the same ids and
tokens, so its messages are read like appended records; a `$rewindTo` removes messages from the
conversation, but their tokens were spent and stay counted.

Token mapping (API usageMetadata): `input` (promptTokenCount) includes `cached`; `tool`
(toolUsePromptTokenCount, results of built-in tools fed back to the model) is NOT part of the prompt
count (totalTokenCount = prompt + candidates + tool + thoughts) and is billed as input; `thoughts` are
billed as output. So input = input - cached + tool, cache_read = cached, output = output + thoughts,
reasoning = thoughts, and input + cache_read + output equals the recorded `total`.
"""
from __future__ import annotations

import os
from typing import Callable, Dict, List, Optional

from openusage.agents.base import AgentProvider
from openusage.agents.gemini_cli.collect import COLD_AFTER_SECONDS, Collector
from openusage.agents.gemini_cli.files import ProjectNames, iter_chat_files, project_from_root
from openusage.agents.gemini_cli.parse import (
    PROVIDER_ID,
    GeminiMessage,
    Scope,
    SkippedLine,
    Tokens,
    compute_message_cost,
    correction_events,
    message_event,
    parse_message,
    parse_tokens,
    tool_event,
)
from openusage.agents.roots import EnvRoot, Roots, expand
from openusage.providers import quota_common, quota_gemini
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, local_snapshot

__all__ = [
    "COLD_AFTER_SECONDS", "PROVIDER_ID", "GeminiCLIProvider", "GeminiMessage", "ProjectNames", "Scope",
    "SkippedLine", "Tokens", "compute_message_cost", "correction_events", "gemini_dir", "gemini_roots",
    "iter_chat_files", "message_event", "parse_message", "parse_tokens", "project_from_root", "tool_event",
]

ENV_HOME = "GEMINI_CLI_HOME"
ENV_DATA_DIR = "GEMINI_DATA_DIR"
# The tmp directories holding per-project chats: GEMINI_DATA_DIR entries, else <gemini dir>/tmp.
ROOTS = Roots(defaults=("~/.gemini/tmp",),
              env=(EnvRoot(ENV_DATA_DIR), EnvRoot(ENV_HOME, os.path.join(".gemini", "tmp"), many=False)))
DATA_DIRS = Roots(env=(EnvRoot(ENV_DATA_DIR),))


class GeminiCLIProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Gemini CLI"
    roots = ROOTS
    env_vars = (ENV_HOME, ENV_DATA_DIR)
    nothing = "no Gemini CLI chats found"
    poll_cost = "free: local logs, and the plan's usage endpoint at most once a minute"
    widgets = {
        "figures": ["spend.total", "tokens.total", "tool_calls"],
        "gauges": ["pro", "flash"],
        "sections": ["models", "tools", "projects", "sessions"],
    }

    def detect(self, env: Dict[str, str], home: str,
               which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        """One account when a GEMINI_DATA_DIR entry or the Gemini CLI directory exists."""
        candidates = DATA_DIRS.resolve(env.get, home) + [gemini_dir(env.get, home)]
        for path in candidates:
            if os.path.isdir(path):
                return [AccountConfig(id=PROVIDER_ID, provider=PROVIDER_ID, detected_by=path)]
        return []

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        """A snapshot plus a lazy stream of events; the stream fills in the snapshot's counters."""
        roots = self.root_dirs(ctx.env.get, ctx.fs.home, account)
        snapshot = local_snapshot(self, account, {"roots": roots}, roots, self.nothing)
        if snapshot.status != "OK":
            return FetchResult(snapshot=snapshot, events=[])
        events = Collector(account.id, ctx.state, ctx.now, ctx.log).run(roots, snapshot)
        # The live plan quotas (quota_gemini) go on once the chats are read.
        events = quota_common.finish_with(events, lambda: quota_gemini.apply(snapshot, account, ctx))
        return FetchResult(snapshot=snapshot, events=events)  # type: ignore[arg-type]


def gemini_dir(env_get: Callable[[str], Optional[str]], home: str) -> str:
    """Gemini CLI's own directory: $GEMINI_CLI_HOME/.gemini, else ~/.gemini."""
    base = env_get(ENV_HOME)
    return os.path.join(expand(base, home) if base else home, ".gemini")


def gemini_roots(env_get: Callable[[str], Optional[str]], home: str) -> List[str]:
    """The tmp directories holding per-project chats: GEMINI_DATA_DIR entries, else <gemini dir>/tmp."""
    return ROOTS.resolve(env_get, home)
