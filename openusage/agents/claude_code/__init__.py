"""Claude Code: usage and tool calls read incrementally from the transcripts Claude Code writes.

Transcripts are `<root>/projects/<encoded cwd>/<session>.jsonl`, with subagent work in
`<session>/subagents/agent-*.jsonl`; roots are an account's `paths`, else the entries of
CLAUDE_CONFIG_DIR, else `~/.claude` and `~/.config/claude` (FORMATS.md, FORMATS-REFERENCE.md
section A). Only appended bytes are read on each poll; events are produced lazily so a large log
directory is never held in memory.

Counting rules (as ccusage): one message_usage event per message.id + requestId, from the streaming
copy with the largest token total; a side-question replay (a known message.id under a new requestId)
is dropped; a line whose timestamp does not parse is skipped and counted. Each tool_use block is a
tool_usage event keyed by its id, the key the PostToolUse hook path uses too.
"""
from __future__ import annotations

from typing import Callable, List, Optional

from openusage.agents import claude_limits
from openusage.agents.base import AgentProvider
from openusage.agents.claude_code.collect import COLD_AFTER_SECONDS, Collector
from openusage.agents.claude_code.files import TranscriptFile, iter_transcript_files, project_from_dir
from openusage.agents.claude_code.parse import (
    PROVIDER_ID,
    SYNTHETIC_MODEL,
    AssistantLine,
    SkippedLine,
    compute_line_cost,
    parse_line,
    parse_raw_line,
    tool_event,
    usage_event,
)
from openusage.agents.records import project_from_cwd
from openusage.agents.roots import EnvRoot, Roots
from openusage.providers import quota_claude, quota_common
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, local_snapshot

__all__ = [
    "COLD_AFTER_SECONDS", "PROVIDER_ID", "SYNTHETIC_MODEL", "AssistantLine", "ClaudeCodeProvider", "Collector",
    "SkippedLine", "TranscriptFile", "claude_roots", "compute_line_cost", "iter_transcript_files", "parse_line",
    "parse_raw_line", "project_from_cwd", "project_from_dir", "tool_event", "usage_event",
]

ENV_CONFIG_DIR = "CLAUDE_CONFIG_DIR"
# CLAUDE_CONFIG_DIR entries (comma-separated) when set, else the defaults.
ROOTS = Roots(defaults=("~/.claude", "~/.config/claude"), env=(EnvRoot(ENV_CONFIG_DIR),))


class ClaudeCodeProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Claude Code"
    roots = ROOTS
    markers = ("projects",)  # one account when any Claude Code root has a projects directory
    nothing = "no Claude Code directory found"
    programs = ("security",)  # macOS Keychain, for the plan quota's sign-in (quota_claude)
    poll_cost = "free: local logs, and the plan's usage endpoint at most once a minute"
    widgets = {
        "figures": ["spend.total", "tokens.total", "tool_calls"],
        "gauges": ["5h", "weekly"],
        "sections": ["models", "tools", "projects", "sessions", "mcp_servers"],
    }

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        """A snapshot plus a lazy stream of events; the stream fills in the snapshot's counters."""
        roots = self.root_dirs(ctx.env.get, ctx.fs.home, account)
        snapshot = local_snapshot(self, account, {"roots": roots}, roots, self.nothing)
        if snapshot.status != "OK":
            return FetchResult(snapshot=snapshot, events=[])
        # The plan's 5-hour and weekly use, as the statusline command last saw it (openusage's own file).
        live = claude_limits.limits(ctx.now)
        if live:
            snapshot.rate_limits = live["rate_limits"]
            snapshot.extras["limits_observed_at"] = live["observed_at"]
        collector = Collector(account.id, ctx.state, ctx.fs.home, ctx.now, ctx.log, keep_raw=ctx.keep_raw,
                              batches=ctx.batches, event_rows=ctx.event_rows)
        # The live plan windows (quota_claude) go on last: the collector's summary rewrites the message.
        events = quota_common.finish_with(collector.run(roots, snapshot),
                                          lambda: quota_claude.apply(snapshot, account, ctx))
        return FetchResult(snapshot=snapshot, events=events,  # type: ignore[arg-type]
                           state_changed=lambda: collector.state_changed)


def claude_roots(env_get: Callable[[str], Optional[str]], home: str) -> List[str]:
    """Config roots to scan: CLAUDE_CONFIG_DIR entries (comma-separated) when set, else the defaults."""
    return ROOTS.resolve(env_get, home)
