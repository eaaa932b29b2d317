"""pi (badlogic/pi-mono's coding agent, and the oh-my-pi fork): usage read from its session files.

Format facts (packages/coding-agent/src/core/session-manager.ts, pi-ai's Usage type): sessions are
`<agent dir>/sessions/<--encoded-cwd-->/<time>_<uuid>.jsonl`, the agent dir being
$PI_CODING_AGENT_DIR, else `~/.pi/agent` (oh-my-pi: `~/.omp/agent`). A file starts with a
`{"type": "session", "version", "id", "timestamp", "cwd"}` header; entries follow, append-only, each
with its own short `id` and an RFC 3339 `timestamp`. An assistant `message` entry carries
`message.usage` {input, output, cacheRead, cacheWrite, totalTokens, cost {input, output, cacheRead,
cacheWrite, total}} (pi-ai normalises every provider to fresh input with the caches apart),
`message.model`, `message.provider` and `toolCall` content blocks {id, name, arguments};
`model_change` entries name the model in force. pi prices a request from its own model list and writes
a total of 0 for a model it has no price for: such a 0 is no logged cost, and the price table is asked.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import Skip, ToolCall, Usage, cost, count, number, project_name, text
from openusage.agents.roots import EnvRoot, Roots
from openusage.agents.sources import JsonlSource
from openusage.core.timeutil import parse_rfc3339

PROVIDER_ID = "pi"


def parse_entry(obj: Dict[str, Any], ctx: Dict[str, Any], found: Found) -> List[Any]:
    """Records of one session-file entry; the header and model changes only update `ctx`."""
    kind = obj.get("type")
    if kind == "session":
        if text(obj.get("id")) and "sid" not in ctx:
            ctx["sid"] = obj["id"]
        if text(obj.get("cwd")):
            ctx["cwd"] = obj["cwd"]
        return []
    if kind == "model_change":
        if text(obj.get("modelId")):
            ctx["model"] = obj["modelId"]
        return []
    message = obj.get("message")
    if kind != "message" or not isinstance(message, dict) or message.get("role") != "assistant":
        return []
    usage, entry_id = message.get("usage"), text(obj.get("id"))
    if not isinstance(usage, dict) or entry_id is None:
        return []
    occurred = _when(obj, message)
    if occurred is None:
        raise Skip("bad_timestamp")
    sid = ctx.get("sid") or found.stem
    model = text(message.get("model")) or ctx.get("model")
    project = project_name(ctx.get("cwd"))
    priced = usage.get("cost")
    logged = cost(priced.get("total")) if isinstance(priced, dict) else None
    out: List[Any] = [Usage(
        occurred, f"{sid}:{entry_id}", model, input_tokens=count(usage.get("input")),
        output_tokens=count(usage.get("output")), cache_read_tokens=count(usage.get("cacheRead")),
        cache_write_tokens=count(usage.get("cacheWrite")), cost_logged=logged or None, session_id=sid,
        project=project, raw={"session": sid, "id": entry_id, "model": model, "provider": message.get("provider")},
    )]
    for block in message.get("content") or ():
        if isinstance(block, dict) and block.get("type") == "toolCall":
            call_id, name = text(block.get("id")), text(block.get("name"))
            if call_id and name:
                out.append(ToolCall(occurred, call_id, name, session_id=sid, model=model, project=project))
    return out


def _when(entry: Dict[str, Any], message: Dict[str, Any]) -> Optional[float]:
    stamp = entry.get("timestamp")
    if isinstance(stamp, str):
        return parse_rfc3339(stamp)
    ms = number(message.get("timestamp"))
    return ms / 1000.0 if ms is not None and ms > 0 else None


class PiProvider(AgentProvider):
    id = PROVIDER_ID
    name = "pi"
    roots = Roots(defaults=("~/.pi/agent", "~/.omp/agent"), env=(EnvRoot("PI_CODING_AGENT_DIR"),))
    markers = ("sessions",)
    nothing = "no pi sessions found"
    sources = (JsonlSource("sessions/**/*.jsonl", parse_entry,
                           markers=(b'"session"', b'"assistant"', b'"model_change"')),)
