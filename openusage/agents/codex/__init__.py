"""Codex CLI: usage, tool calls and plan limits read incrementally from the rollouts Codex writes.

Rollouts are `<home>/sessions/YYYY/MM/DD/rollout-<local time>-<session uuid>.jsonl` and, once archived,
`<home>/archived_sessions/`; the homes are an account's `paths`, else CODEX_HOME, else `~/.codex`
(FORMATS.md, FORMATS-REFERENCE.md section C). Only appended bytes are read on each poll; each file's
carry-over (last cumulative totals, model, session, cwd, turn, fork state) lives in its cursor so a
new tail yields exactly the new usage.

Counting rules: usage is the positive change of `total_token_usage` between token_count events
(repeated events add nothing; totals that go down take `last_token_usage`). A forked or spawned session
starts with copies of its parent's token rows: the parent owns them, the child counts only what follows.
Each request is keyed `<session id>:<ordinal of its token row>`, so a file read again (replaced,
truncated, archived) produces the same keys and the store keeps one row per request.
"""
from __future__ import annotations

import os
from typing import Callable, Optional

from openusage.agents.base import AgentProvider
from openusage.agents.codex.collect import Collector
from openusage.agents.codex.files import _UUID_TAIL, list_rollouts
from openusage.agents.codex.limits import apply_limits, parse_rate_limits, window_name
from openusage.agents.codex.parse import PROVIDER_ID
from openusage.agents.roots import EnvRoot, Roots
from openusage.core.snapshot import UsageSnapshot
from openusage.providers import quota_codex, quota_common
from openusage.providers.base import AccountConfig, FetchContext, FetchResult

__all__ = ["PROVIDER_ID", "CodexProvider", "UsageSnapshot", "_UUID_TAIL", "apply_limits", "codex_home",
           "list_rollouts", "parse_rate_limits", "window_name"]

ENV_HOME = "CODEX_HOME"
ROOTS = Roots(defaults=("~/.codex",), env=(EnvRoot(ENV_HOME, many=False),))


class CodexProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Codex CLI"
    roots = ROOTS
    # One account when the Codex home has sessions, archived sessions or a config.toml.
    markers = ("sessions", "archived_sessions", "config.toml")
    poll_cost = "free: local logs, and the plan's usage endpoint at most once a minute"
    widgets = {
        "figures": ["spend.total", "tokens.total", "tool_calls"],
        "gauges": ["5h", "weekly"],
        "sections": ["models", "tools", "projects", "sessions"],
    }

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        """A snapshot plus a lazy stream of events; the stream fills in the snapshot's counters."""
        homes = self.root_dirs(ctx.env.get, ctx.fs.home, account)
        snapshot = UsageSnapshot(provider_id=self.id, account_id=account.id,
                                 display_name=account.display_name or self.name, currency="USD",
                                 extras={"home": homes[0]} if len(homes) == 1 else {"homes": homes})
        dirs = [os.path.join(root, d) for root in homes for d in ("sessions", "archived_sessions")]
        if not any(os.path.isdir(d) for d in dirs):
            snapshot.status = "UNKNOWN"
            snapshot.message = f"no Codex sessions found (looked in {', '.join(homes)})"
            apply_limits(snapshot, ctx.state, ctx.now)
            quota_codex.apply(snapshot, account, ctx)
            return FetchResult(snapshot=snapshot, events=[])
        snapshot.status = "OK"
        events = Collector(account.id, ctx.state, ctx.now, ctx.log).run(homes, snapshot)
        # The live plan windows (quota_codex) join the rollouts' once these are read.
        events = quota_common.finish_with(events, lambda: quota_codex.apply(snapshot, account, ctx))
        return FetchResult(snapshot=snapshot, events=events)  # type: ignore[arg-type]


def codex_home(env_get: Callable[[str], Optional[str]], home: str) -> str:
    """CODEX_HOME when set (a leading ~ is the user's home), else ~/.codex."""
    return ROOTS.resolve(env_get, home)[0]
