"""OpenClaw (formerly Clawdbot): usage read from its agents' session files.

Format facts: OpenClaw runs on pi's agent core and keeps each agent's sessions as pi session files,
`~/.openclaw/agents/<agent id>/sessions/<session id>.jsonl` beside a `sessions.json` index (legacy
installs: `~/.clawdbot/agents/...`): a `{"type": "session", "version": 3, "id", "cwd", "timestamp"}`
header, then `message` entries whose assistant messages carry pi-ai's `usage` {input, output,
cacheRead, cacheWrite, totalTokens, cost {total}} and `toolCall` blocks, and `model_change` entries
(OpenClaw's session-store docs; skills and trackers that read these files: session-logs,
session-cost, NicolaiSchmid/openclaw's costs notes). OpenClaw writes `cost.total` 0 for models it
has no price for, which pi's parser already treats as no logged cost. The parsing is pi's
(openusage.agents.pi.parse_entry); only the places differ.
"""
from __future__ import annotations

from openusage.agents.base import AgentProvider
from openusage.agents.pi import parse_entry
from openusage.agents.roots import Roots
from openusage.agents.sources import JsonlSource

PROVIDER_ID = "openclaw"


class OpenClawProvider(AgentProvider):
    id = PROVIDER_ID
    name = "OpenClaw"
    roots = Roots(defaults=("~/.openclaw", "~/.clawdbot"))
    markers = ("agents",)
    nothing = "no OpenClaw sessions found"
    sources = (JsonlSource("agents/*/sessions/*.jsonl", parse_entry,
                           markers=(b'"session"', b'"assistant"', b'"model_change"')),)
