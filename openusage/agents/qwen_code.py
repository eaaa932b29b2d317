"""Qwen Code (QwenLM/qwen-code, a Gemini CLI fork): usage read from its chat recordings.

Format facts (packages/core/src/services/chatRecordingService.ts, ChatRecord): recordings are
`~/.qwen/projects/<sanitised cwd>/chats/<sessionId>.jsonl`, append-only records {uuid, parentUuid,
sessionId, timestamp (RFC 3339), type: user|assistant|tool_result|system, subtype, cwd, version,
gitBranch, model, message (a Gemini Content: role + parts, function calls as
`parts[].functionCall` {id, name, args}), usageMetadata (Gemini's
GenerateContentResponseUsageMetadata)}. Only an `assistant` record's usageMetadata counts: `system`
records of subtype ui_telemetry repeat the same request's numbers. The numbers are Gemini's:
promptTokenCount includes cachedContentTokenCount, thoughtsTokenCount is billed as output beside
candidatesTokenCount, toolUsePromptTokenCount is input outside the prompt count; so fresh input =
prompt - cached + tool, output = candidates + thoughts, reasoning = thoughts (as for Gemini CLI).
"""
from __future__ import annotations

from typing import Any, Dict, List

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import Skip, ToolCall, Usage, count, project_name, text
from openusage.agents.roots import Roots
from openusage.agents.sources import JsonlSource
from openusage.core.timeutil import parse_rfc3339

PROVIDER_ID = "qwen_code"


def parse_record(obj: Dict[str, Any], ctx: Dict[str, Any], found: Found) -> List[Any]:
    """Records of one ChatRecord: its usage and its function calls."""
    if obj.get("type") != "assistant":
        return []
    meta = obj.get("usageMetadata")
    uuid, sid = text(obj.get("uuid")), text(obj.get("sessionId"))
    calls = _function_calls(obj.get("message"))
    if uuid is None or sid is None or (not isinstance(meta, dict) and not calls):
        return []
    stamp = obj.get("timestamp")
    occurred = parse_rfc3339(stamp) if isinstance(stamp, str) else None
    if occurred is None:
        raise Skip("bad_timestamp")
    model, project = text(obj.get("model")), project_name(obj.get("cwd"))
    out: List[Any] = []
    if isinstance(meta, dict):
        prompt, cached = count(meta.get("promptTokenCount")), count(meta.get("cachedContentTokenCount"))
        thoughts = count(meta.get("thoughtsTokenCount"))
        out.append(Usage(
            occurred, f"{sid}:{uuid}", model,
            input_tokens=max(prompt - cached, 0) + count(meta.get("toolUsePromptTokenCount")),
            output_tokens=count(meta.get("candidatesTokenCount")) + thoughts, cache_read_tokens=cached,
            reasoning_tokens=thoughts, session_id=sid, project=project,
            raw={"sessionId": sid, "uuid": uuid, "model": model, "usageMetadata": meta},
        ))
    out.extend(ToolCall(occurred, call_id, name, session_id=sid, model=model, project=project)
               for call_id, name in calls)
    return out


def _function_calls(message: Any) -> List[tuple]:
    if not isinstance(message, dict):
        return []
    out = []
    for part in message.get("parts") or ():
        call = part.get("functionCall") if isinstance(part, dict) else None
        if isinstance(call, dict) and text(call.get("id")) and text(call.get("name")):
            out.append((call["id"], call["name"]))
    return out


class QwenCodeProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Qwen Code"
    roots = Roots(defaults=("~/.qwen",))
    markers = ("projects",)
    nothing = "no Qwen Code chats found"
    sources = (JsonlSource("projects/*/chats/*.jsonl", parse_record, markers=(b'"assistant"',)),)
