"""GitHub Copilot CLI: usage read from its session event logs.

Format facts (docs.github.com "Copilot CLI configuration directory"; the Copilot SDK's session
event types): the CLI's directory is $COPILOT_HOME, else `~/.copilot`; sessions are
`session-state/<session id>/events.jsonl` (older builds: `session-state/<session id>.jsonl`), one
`{"type", "data", "id", "timestamp", "parentId"}` event per line, appended. `session.start` data
names the session and its `context.cwd` (and `selectedModel`); `session.model_change` data has
`newModel`; `assistant.usage` data is one model request {model, inputTokens, outputTokens,
cacheReadTokens, cacheWriteTokens, cost, duration} whose `cost` is Copilot's premium-request
multiplier, not money (so the price table prices the request); `tool.execution_start` data has
`toolCallId` and `toolName`. inputTokens is the prompt as the model API counts it, cache reads
included: fresh input = inputTokens - cacheReadTokens. `session.shutdown` repeats per-model totals
and is not counted again.
"""
from __future__ import annotations

from typing import Any, Dict, List

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import Skip, ToolCall, Usage, count, project_name, text
from openusage.agents.roots import EnvRoot, Roots
from openusage.agents.sources import JsonlSource
from openusage.core.timeutil import parse_rfc3339

PROVIDER_ID = "copilot_cli"
_MARKERS = (b"session.start", b"assistant.usage", b"tool.execution_start", b"session.model_change")


def parse_event(obj: Dict[str, Any], ctx: Dict[str, Any], found: Found) -> List[Any]:
    """Records of one session event; session.start and model changes only update ctx."""
    session = found.parts[-1] if found.name == "events.jsonl" and found.parts else found.stem
    kind, data = obj.get("type"), obj.get("data")
    if not isinstance(data, dict):
        return []
    if kind == "session.start":
        context = data.get("context")
        ctx["project"] = project_name(context.get("cwd")) if isinstance(context, dict) else None
        if text(data.get("selectedModel")):
            ctx["model"] = data["selectedModel"]
        return []
    if kind == "session.model_change":
        if text(data.get("newModel")):
            ctx["model"] = data["newModel"]
        return []
    if kind not in ("assistant.usage", "tool.execution_start"):
        return []
    stamp = obj.get("timestamp")
    occurred = parse_rfc3339(stamp) if isinstance(stamp, str) else None
    if occurred is None:
        raise Skip("bad_timestamp")
    project = ctx.get("project")
    if kind == "tool.execution_start":
        call_id, name = text(data.get("toolCallId")), text(data.get("toolName"))
        return [ToolCall(occurred, call_id, name, session_id=session, model=ctx.get("model"), project=project)] \
            if call_id and name else []
    event_id = text(obj.get("id"))
    if event_id is None:
        return []
    model = text(data.get("model")) or ctx.get("model")
    cached = count(data.get("cacheReadTokens"))
    return [Usage(
        occurred, f"{session}:{event_id}", model, input_tokens=max(count(data.get("inputTokens")) - cached, 0),
        output_tokens=count(data.get("outputTokens")), cache_read_tokens=cached,
        cache_write_tokens=count(data.get("cacheWriteTokens")), session_id=session, project=project,
        raw={"session": session, "id": event_id, "model": model, "premium_multiplier": data.get("cost")},
    )]


class CopilotCLIProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Copilot CLI"
    roots = Roots(defaults=("~/.copilot",), env=(EnvRoot("COPILOT_HOME", many=False),))
    markers = ("session-state",)
    nothing = "no Copilot CLI sessions found"
    sources = (
        JsonlSource("session-state/*/events.jsonl", parse_event, markers=_MARKERS),
        JsonlSource("session-state/*.jsonl", parse_event, markers=_MARKERS),
    )
