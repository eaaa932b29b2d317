"""The demo provider: plausible, changing, clearly labelled fake data for a first look.

Enabled only by `openusage demo` or an explicit account with "provider": "demo"; never detected.
"""
from __future__ import annotations

import hashlib
import math
from typing import Iterator, List

from openusage.core.events import UsageEvent
from openusage.core.snapshot import Balance, RateLimit, Spend, SpendLimits, UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider

MODELS = (("demo-large", 3.0, 15.0), ("demo-medium", 0.8, 4.0), ("demo-small", 0.1, 0.4))
TOOLS = ("Read", "Edit", "Bash", "Grep", "mcp__docs__search", "WebFetch")
PROJECTS = ("web-app", "api-server", "cli-tool")
BACKFILL_SECONDS = 7 * 86400  # a first poll fills a week, so every window has something to show


def _unit(seed: str) -> float:
    """A stable pseudo-random number in [0, 1) for a seed string."""
    return int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) / 0x100000000


class DemoProvider(Provider):
    id = "demo"
    name = "Demo (sample data)"
    source_modes = ("local",)
    default_interval = 10.0
    emits_events = True
    widgets = {
        "gauges": ["5h", "weekly"],
        "figures": ["spend.total", "tokens.total", "tool_calls"],
        "sections": ["models", "tools", "projects", "sessions", "mcp_servers", "limits"],
    }

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        now = ctx.now
        last = float(ctx.state.get("last_emit", now - BACKFILL_SECONDS))
        ctx.state["last_emit"] = now
        snapshot = UsageSnapshot(
            provider_id=self.id,
            account_id=account.id,
            display_name=account.display_name or "Demo (sample data)",
            status="OK",
            message="demo data: not a real account",
            currency="USD",
            rate_limits=self._limits(now),
            spend=Spend(limits=SpendLimits(hard=200.0, soft=150.0), balance=Balance(cash=42.5, granted=10.0)),
            extras={"demo": True},
        )
        worst = max(r.used_percent or 0 for r in snapshot.rate_limits.values())
        if worst >= 100:
            snapshot.status = "LIMIT"
        elif worst >= 80:
            snapshot.status = "WARN"
        return FetchResult(snapshot=snapshot, events=list(self._events(account, last, now)))

    def _limits(self, now: float):
        five_h_start = now - now % 18000
        week_start = now - now % 604800
        used_5h = 100.0 * (now - five_h_start) / 18000 * (0.6 + 0.4 * math.sin(now / 5000))
        used_week = 100.0 * (now - week_start) / 604800 * 0.9
        return {
            "5h": RateLimit(used_percent=round(max(0.0, used_5h), 1), resets_at=format_rfc3339(five_h_start + 18000)),
            "weekly": RateLimit(used_percent=round(used_week, 1), resets_at=format_rfc3339(week_start + 604800)),
            "rpm": RateLimit(limit=50, remaining=50 - int(20 * _unit(str(int(now // 60)))), used=None),
        }

    def _events(self, account: AccountConfig, since: float, now: float) -> Iterator[UsageEvent]:
        # One message every 90 s of wall time since the last poll, at most a week's worth.
        step = 90
        first = max(since, now - BACKFILL_SECONDS)
        t = first - first % step + step
        while t <= now:
            yield from self._turn(account, t)
            t += step

    def _turn(self, account: AccountConfig, t: float) -> List[UsageEvent]:
        seed = f"{account.id}:{int(t)}"
        model, price_in, price_out = MODELS[int(_unit(seed + "m") * len(MODELS))]
        fresh = int(200 + 3000 * _unit(seed + "i"))
        cached = int(20000 * _unit(seed + "c"))
        output = int(100 + 1500 * _unit(seed + "o"))
        cost = (fresh * price_in + cached * price_in * 0.1 + output * price_out) / 1e6
        session = f"demo-session-{int(t // 3600)}"
        project = PROJECTS[int(_unit(seed + "p") * len(PROJECTS))]
        common = dict(source="demo", provider_id=self.id, account_id=account.id, occurred_at=t,
                      session_id=session, project=project)
        events = [UsageEvent(event_type="message_usage", message_id=f"demo-{int(t)}", model=model,
                             input_tokens=fresh, cache_read_tokens=cached, output_tokens=output,
                             cost_usd=round(cost, 6), requests=1, **common)]
        tool = TOOLS[int(_unit(seed + "t") * len(TOOLS))]
        mcp = tool.split("__")[1] if tool.startswith("mcp__") else None
        events.append(UsageEvent(event_type="tool_usage", tool_call_id=f"demo-tool-{int(t)}", tool_name=tool,
                                 mcp_server=mcp, **common))
        return events
