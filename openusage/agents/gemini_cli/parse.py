"""Gemini CLI message records to usage (pure): tokens as recorded, tool calls, message and correction events."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from openusage.agents import records
from openusage.agents.records import Skip, count
from openusage.core.events import UsageEvent
from openusage.core.timeutil import parse_rfc3339

PROVIDER_ID = "gemini_cli"


SkippedLine = Skip  # a record that looked like usage but cannot be used; `reason` names why


@dataclass
class Scope:
    """Who one file's events belong to."""

    sid: str  # the file's own session id (message keys are scoped by it)
    session_id: str  # the session the usage is booked to: the parent's for a subagent
    project: str
    subagent: bool



@dataclass(frozen=True)
class Tokens:
    """A gemini message's `tokens` as recorded (API usageMetadata names in the comments)."""

    input: int = 0  # promptTokenCount, cached included
    output: int = 0  # candidatesTokenCount
    cached: int = 0  # cachedContentTokenCount
    thoughts: int = 0  # thoughtsTokenCount
    tool: int = 0  # toolUsePromptTokenCount, not part of promptTokenCount
    total: int = 0  # totalTokenCount

    @property
    def fresh_input(self) -> int:
        return max(self.input - self.cached, 0) + self.tool

    @property
    def billed_output(self) -> int:
        return self.output + self.thoughts

    def as_dict(self) -> Dict[str, int]:
        return {"input": self.input, "output": self.output, "cached": self.cached, "thoughts": self.thoughts,
                "tool": self.tool, "total": self.total}


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    occurred_at: Optional[float]
    status: Optional[str]


@dataclass
class GeminiMessage:
    """The usage-relevant parts of one gemini message record (never its content or thoughts)."""

    id: str
    occurred_at: float
    model: Optional[str] = None
    tokens: Optional[Tokens] = None
    tool_calls: List[ToolCall] = field(default_factory=list)


class Emitted(NamedTuple):
    """What is counted for one message so far: its tokens and model, and the revision of its last correction."""

    input: int
    output: int
    cached: int
    thoughts: int
    tool: int
    model: Optional[str]
    rev: int = 0

    @classmethod
    def of(cls, msg: GeminiMessage, rev: int = 0) -> Emitted:
        t = msg.tokens or Tokens()
        return cls(t.input, t.output, t.cached, t.thoughts, t.tool, msg.model, rev)

    @property
    def tokens(self) -> Tokens:
        return Tokens(input=self.input, output=self.output, cached=self.cached, thoughts=self.thoughts,
                      tool=self.tool)

    def same_usage(self, other: Emitted) -> bool:
        """The same tokens and model, whatever the revisions."""
        return self[:6] == other[:6]

    def to_json(self) -> Dict[str, Any]:
        return self._asdict()

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> Emitted:
        return cls(**{name: data[name] for name in cls._fields})

    @classmethod
    def from_list(cls, old: List[Any]) -> Emitted:
        """The positional form of state version 1: [input, output, cached, thoughts, tool, model, rev]."""
        return cls(*old[:7])


def parse_message(obj: Any) -> Optional[GeminiMessage]:
    """A gemini message record with tokens or tool calls; None for anything else.

    Raises SkippedLine("bad_timestamp") for such a record whose timestamp does not parse.
    """
    if not isinstance(obj, dict) or obj.get("type") != "gemini":
        return None
    mid = obj.get("id")
    if not isinstance(mid, str) or not mid:
        return None
    tokens = parse_tokens(obj.get("tokens"))
    raw_calls = obj.get("toolCalls")
    if tokens is None and not raw_calls:
        return None
    occurred = parse_rfc3339(obj.get("timestamp"))  # type: ignore[arg-type]
    if occurred is None:
        raise SkippedLine("bad_timestamp")
    model = obj.get("model")
    return GeminiMessage(id=mid, occurred_at=occurred, model=model if isinstance(model, str) and model else None,
                         tokens=tokens, tool_calls=_tool_calls(raw_calls))


def parse_tokens(value: Any) -> Optional[Tokens]:
    """The recorded token counts; None while the message has none (`null` or absent)."""
    if not isinstance(value, dict):
        return None
    return Tokens(input=count(value.get("input")), output=count(value.get("output")),
                  cached=count(value.get("cached")), thoughts=count(value.get("thoughts")),
                  tool=count(value.get("tool")), total=count(value.get("total")))


def _tool_calls(value: Any) -> List[ToolCall]:
    if not isinstance(value, list):
        return []
    out = []
    for call in value:
        if not isinstance(call, dict):
            continue
        call_id, name = call.get("id"), call.get("name")
        if isinstance(call_id, str) and call_id and isinstance(name, str) and name:
            status = call.get("status")
            out.append(ToolCall(call_id, name, parse_rfc3339(call.get("timestamp")),  # type: ignore[arg-type]
                                status if isinstance(status, str) else None))
    return out


def compute_message_cost(model: Optional[str], tokens: Tokens) -> Optional[float]:
    """USD for one request from the price table (long-context tiers applied there); None if unknown."""
    return records.compute_cost(model, tokens.fresh_input, tokens.billed_output, tokens.cached)


def message_event(msg: GeminiMessage, account_id: str, scope: Scope) -> UsageEvent:
    """The message_usage event of one gemini message with tokens."""
    tokens = msg.tokens or Tokens()
    computed = compute_message_cost(msg.model, tokens)
    return _usage(msg, account_id, scope, f"{scope.sid}:{msg.id}", msg.model,
                  (tokens.fresh_input, tokens.billed_output, tokens.cached, tokens.thoughts), computed, 1,
                  {"sessionId": scope.sid, "id": msg.id, "model": msg.model, "tokens": tokens.as_dict()})


def correction_events(msg: GeminiMessage, old: Emitted, rev: int, account_id: str,
                      scope: Scope) -> List[UsageEvent]:
    """Events that turn an emitted message's numbers into the new record's (a signed difference)."""
    before = old.tokens
    old_model = old.model
    after = msg.tokens or Tokens()
    key = f"{scope.sid}:{msg.id}#r{rev}"
    raw = {"sessionId": scope.sid, "id": msg.id, "model": msg.model, "tokens": after.as_dict(),
           "revision": rev, "replaces": {"model": old_model, "tokens": before.as_dict()}}

    def parts(t: Tokens) -> Tuple[int, int, int, int]:
        return (t.fresh_input, t.billed_output, t.cached, t.thoughts)

    old_cost = compute_message_cost(old_model, before)
    new_cost = compute_message_cost(msg.model, after)
    if old_model == msg.model:
        diff = tuple(a - b for a, b in zip(parts(after), parts(before)))
        cost = new_cost - old_cost if new_cost is not None and old_cost is not None else None
        return [_usage(msg, account_id, scope, key, msg.model, diff, cost, 0, raw)]
    # Another model: take the old numbers back under the old model, book the new under the new one.
    undo = tuple(-v for v in parts(before))
    return [
        _usage(msg, account_id, scope, key + "-", old_model, undo, -old_cost if old_cost is not None else None,
               0, raw),
        _usage(msg, account_id, scope, key, msg.model, parts(after), new_cost, 0, raw),
    ]


def _usage(msg: GeminiMessage, account_id: str, scope: Scope, key: str, model: Optional[str],
           counts: Tuple[int, ...], computed: Optional[float], requests: int, raw: Dict[str, Any]) -> UsageEvent:
    fresh, output, cached, thoughts = counts
    if scope.subagent:
        raw = dict(raw, kind="subagent", parentSessionId=scope.session_id)
    return records.usage_event(PROVIDER_ID, account_id, records.Usage(
        msg.occurred_at, key, model, input_tokens=fresh, output_tokens=output, cache_read_tokens=cached,
        reasoning_tokens=thoughts, session_id=scope.session_id, project=scope.project, requests=requests,
        raw=raw), computed=computed)


def tool_event(msg: GeminiMessage, call: ToolCall, account_id: str, scope: Scope) -> UsageEvent:
    """The tool_usage event of one toolCalls[] entry, keyed by its call id."""
    raw: Dict[str, Any] = {"sessionId": scope.sid, "messageId": msg.id, "status": call.status}
    if scope.subagent:
        raw.update(kind="subagent", parentSessionId=scope.session_id)
    return records.tool_event(PROVIDER_ID, account_id, records.ToolCall(
        call.occurred_at if call.occurred_at is not None else msg.occurred_at, call.id, call.name,
        session_id=scope.session_id, model=msg.model, project=scope.project, raw=raw))
