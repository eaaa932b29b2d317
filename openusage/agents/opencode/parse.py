"""OpenCode message and part documents to usage (pure): assistant messages, their tokens, tool parts, events."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from openusage.agents import records
from openusage.agents.records import Skip, project_name, text
from openusage.core.events import UsageEvent

PROVIDER_ID = "opencode"
FINAL_TOOL_STATES = ("completed", "error")


SkippedRecord = Skip  # a record that looked like usage but cannot be used; `reason` names why


@dataclass
class Message:
    """The usage-relevant fields of one assistant message (never its content)."""

    id: str
    session_id: Optional[str] = None
    created_ms: Optional[float] = None
    completed_ms: Optional[float] = None
    parent_id: Optional[str] = None
    model: Optional[str] = None
    upstream_provider: Optional[str] = None
    mode: Optional[str] = None
    agent: Optional[str] = None
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_logged: Optional[float] = None
    project: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)  # finish, error, variant, tokens as logged

    @property
    def final(self) -> bool:
        return self.completed_ms is not None

    @property
    def occurred_at(self) -> float:
        ms = self.completed_ms if self.completed_ms is not None else self.created_ms
        return (ms or 0.0) / 1000.0

    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens

    def has_usage(self) -> bool:
        return self.total_tokens() > 0 or self.cost_logged is not None

    @property
    def raw(self) -> Dict[str, Any]:
        raw: Dict[str, Any] = {"id": self.id, "parentID": self.parent_id, "providerID": self.upstream_provider,
                               "modelID": self.model}
        for key in ("mode", "agent"):
            if getattr(self, key):
                raw[key] = getattr(self, key)
        raw.update(self.extra)
        return raw


@dataclass
class ToolCall:
    call_id: str
    name: str
    status: str
    part_id: Optional[str] = None
    started_ms: Optional[float] = None
    ended_ms: Optional[float] = None


def load_json(text: Any) -> Any:
    """A decoded JSON document; SkippedRecord("bad_json") when it is not one."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):  # also UnicodeDecodeError
        raise SkippedRecord("bad_json") from None


def parse_message(obj: Any, row_id: Optional[str] = None, row_session: Optional[str] = None) -> Optional[Message]:
    """The assistant message in a message JSON document; None for other roles.

    Database rows keep the ids in columns (row_id, row_session), legacy files inside the document.
    """
    if not isinstance(obj, dict):
        raise SkippedRecord("bad_record")
    if obj.get("role") != "assistant":
        return None
    msg_id = text(obj.get("id")) or row_id
    if msg_id is None:
        raise SkippedRecord("no_id")
    times = obj.get("time") if isinstance(obj.get("time"), dict) else {}
    created, completed = _ms(times.get("created")), _ms(times.get("completed"))
    if (completed is None and times.get("completed") is not None) or (completed is None and created is None):
        raise SkippedRecord("bad_timestamp")
    tokens = obj.get("tokens") if isinstance(obj.get("tokens"), dict) else {}
    inp, out, reasoning, cache_read, cache_write = normalize_tokens(tokens)
    msg = Message(
        id=msg_id, session_id=text(obj.get("sessionID")) or row_session, created_ms=created,
        completed_ms=completed, parent_id=text(obj.get("parentID")), model=text(obj.get("modelID")),
        upstream_provider=text(obj.get("providerID")), mode=text(obj.get("mode")),
        agent=text(obj.get("agent")), input_tokens=inp, output_tokens=out, reasoning_tokens=reasoning,
        cache_read_tokens=cache_read, cache_write_tokens=cache_write, cost_logged=_cost(obj.get("cost")),
        project=project_of_path(obj.get("path")),
    )
    if tokens:
        msg.extra["tokens"] = _numbers(tokens)
    for key in ("finish", "variant"):
        if text(obj.get(key)):
            msg.extra[key] = obj[key]
    error = obj.get("error")
    if isinstance(error, dict) and text(error.get("name")):
        msg.extra["error"] = error["name"]
    return msg


def normalize_tokens(tokens: Dict[str, Any]) -> Tuple[int, int, int, int, int]:
    """(input, output with reasoning, reasoning, cache_read, cache_write) of a tokens object."""
    cache = tokens.get("cache") if isinstance(tokens.get("cache"), dict) else {}
    inp, out, reasoning = _count(tokens.get("input")), _count(tokens.get("output")), _count(tokens.get("reasoning"))
    cache_read, cache_write = _count(cache.get("read")), _count(cache.get("write"))
    total = tokens.get("total")
    inside = _is_number(total) and total == inp + cache_read + cache_write + out
    if reasoning and not inside:
        out += reasoning
    return inp, out, min(reasoning, out), cache_read, cache_write


def parse_tool_part(obj: Any, row_id: Optional[str] = None) -> Optional[ToolCall]:
    """A tool call in a final state from a part JSON document; None for other parts and running tools."""
    if not isinstance(obj, dict) or obj.get("type") != "tool":
        return None
    name = text(obj.get("tool"))
    state = obj.get("state") if isinstance(obj.get("state"), dict) else {}
    status = state.get("status")
    if name is None or status not in FINAL_TOOL_STATES:
        return None
    part_id = text(obj.get("id")) or row_id
    call_id = text(obj.get("callID")) or part_id
    if call_id is None:
        return None
    times = state.get("time") if isinstance(state.get("time"), dict) else {}
    return ToolCall(call_id=call_id, name=name, status=status, part_id=part_id,
                    started_ms=_ms(times.get("start")), ended_ms=_ms(times.get("end")))


def project_of_path(path: Any) -> Optional[str]:
    """The project of a message's path: the last component of path.root, else of path.cwd."""
    if not isinstance(path, dict):
        return None
    return project_name(path.get("root")) or project_name(path.get("cwd"))


def _is_number(value: Any) -> bool:
    kind = type(value)  # exact types: bool is an int subclass and no count
    return kind is int or (kind is float and math.isfinite(value))


def _count(value: Any) -> int:
    if type(value) is int:  # the usual case, checked first: this runs for every field of every message
        return value if value > 0 else 0
    if not _is_number(value) or value <= 0:
        return 0
    return int(math.floor(value + 0.5))  # rounded as the plugin rounds, so both paths store the same numbers


def _ms(value: Any) -> Optional[float]:
    return float(value) if _is_number(value) and value > 0 else None


def _cost(value: Any) -> Optional[float]:
    """OpenCode's own estimate; 0 (subscription providers) is no logged cost."""
    return float(value) if _is_number(value) and value > 0 else None


def _numbers(tokens: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in tokens.items():
        if isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if _is_number(v)}
        elif _is_number(value):
            out[key] = value
    return out


def compute_message_cost(msg: Message) -> Optional[float]:
    """USD for one message from the price table; None when the model is unknown."""
    return records.compute_cost(msg.model, msg.input_tokens, msg.output_tokens, msg.cache_read_tokens,
                                msg.cache_write_tokens)


def usage_event(msg: Message, account_id: str, project: Optional[str], source: str) -> UsageEvent:
    """The message_usage event of one assistant message; its key is the message id, as the plugin's."""
    raw = msg.raw
    raw["source"] = source
    return records.usage_event(PROVIDER_ID, account_id, records.Usage(
        msg.occurred_at, msg.id, msg.model, input_tokens=msg.input_tokens, output_tokens=msg.output_tokens,
        cache_read_tokens=msg.cache_read_tokens, cache_write_tokens=msg.cache_write_tokens,
        reasoning_tokens=msg.reasoning_tokens, cost_logged=msg.cost_logged, session_id=msg.session_id,
        project=project, turn_id=msg.parent_id, raw=raw), computed=compute_message_cost(msg))


def tool_event(call: ToolCall, msg: Message, account_id: str, project: Optional[str]) -> UsageEvent:
    """The tool_usage event of one tool part, keyed by the callID the plugin's tool.execute.after hook sends."""
    start = call.started_ms if call.started_ms is not None else call.ended_ms
    return records.tool_event(PROVIDER_ID, account_id, records.ToolCall(
        start / 1000.0 if start is not None else msg.occurred_at, call.call_id, call.name,
        session_id=msg.session_id, model=msg.model, project=project,
        raw={"part_id": call.part_id, "message_id": msg.id, "status": call.status}))
