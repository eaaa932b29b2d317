"""Claude Code transcript lines to usage records (pure): what one assistant line holds, and its events."""
from __future__ import annotations

import json
from json.scanner import make_scanner
from typing import Any, Dict, List, Optional, Tuple

from openusage.agents import records
from openusage.agents.records import Skip, ToolCall, Usage, cost, count, text
from openusage.core.events import UsageEvent
from openusage.core.timeutil import parse_rfc3339

PROVIDER_ID = "claude_code"
SYNTHETIC_MODEL = "<synthetic>"


SkippedLine = Skip  # a line that looked like a usage line but cannot be used; `reason` names why


class AssistantLine:
    """The parts of one assistant transcript line that usage tracking needs (never its content).

    What the rules need of every line is read at once; what only a counted copy needs (session id,
    logged cost, uuid, version, agent id, fast mode) is read from the decoded line when asked: most
    lines are streaming copies that never become an event.
    """

    __slots__ = ("occurred_at", "message_id", "request_id", "model", "cwd", "sidechain", "tools", "usage",
                 "has_usage", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
                 "cache_write_1h_tokens", "_obj")

    def __init__(self, occurred_at: float, message_id: Optional[str] = None, request_id: Optional[str] = None,
                 model: Optional[str] = None, cwd: Optional[str] = None, sidechain: bool = False,
                 tools: Optional[List[Tuple[str, str]]] = None, obj: Optional[Dict[str, Any]] = None):
        self.occurred_at = occurred_at
        self.message_id = message_id
        self.request_id = request_id
        self.model = model
        self.cwd = cwd
        self.sidechain = sidechain
        self.tools: List[Tuple[str, str]] = tools if tools is not None else []  # (tool_use id, name)
        self.usage: Optional[Dict[str, Any]] = None
        self.has_usage = False
        self.input_tokens = self.output_tokens = self.cache_read_tokens = 0
        self.cache_write_5m_tokens = self.cache_write_1h_tokens = 0
        self._obj = obj if obj is not None else {}

    def __repr__(self) -> str:
        return f"AssistantLine(key={self.key!r}, model={self.model!r}, total={self.total_tokens()})"

    @property
    def session_id(self) -> Optional[str]:
        return text(self._obj.get("sessionId"))

    @property
    def cost_logged(self) -> Optional[float]:
        return cost(self._obj.get("costUSD")) if "costUSD" in self._obj else None

    @property
    def uuid(self) -> Optional[str]:
        return text(self._obj.get("uuid"))

    @property
    def version(self) -> Optional[str]:
        return text(self._obj.get("version"))

    @property
    def agent_id(self) -> Optional[str]:
        return text(self._obj.get("agentId")) if "agentId" in self._obj else None

    @property
    def fast(self) -> bool:
        return self.usage is not None and self.usage.get("speed") == "fast"

    @property
    def key(self) -> Optional[str]:
        """The message's dedup id: message.id + requestId, message.id alone, or None."""
        if self.message_id is None:
            return None
        return f"{self.message_id}:{self.request_id}" if self.request_id else self.message_id

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens

    def counts_as_request(self, total: Optional[int] = None) -> bool:
        """Usage lines count, except Claude Code's locally generated (API error) messages (`total`: the
        line's total_tokens(), when the caller has it)."""
        if not self.has_usage:
            return False
        return self.model != SYNTHETIC_MODEL or (self.total_tokens() if total is None else total) != 0

    @property
    def raw(self) -> Dict[str, Any]:
        """Identifying fields and the usage object; never message content (transcripts hold code)."""
        # Built on demand: most parsed lines are streaming copies that never become an event.
        raw: Dict[str, Any] = {"uuid": self.uuid, "requestId": self.request_id, "message_id": self.message_id,
                               "model": self.model, "isSidechain": self.sidechain, "version": self.version}
        if self.usage is not None:
            # Per-iteration copies (2026 builds) repeat the counts; they only make the row bigger.
            usage = self.usage
            raw["usage"] = {k: v for k, v in usage.items() if k != "iterations"} if "iterations" in usage else usage
        if self.agent_id:
            raw["agentId"] = self.agent_id
        if self.cost_logged is not None:
            raw["costUSD"] = self.cost_logged
        return raw


_scan_json = make_scanner(json.JSONDecoder())  # the C scanner, without json.loads' wrappers


def parse_raw_line(raw: bytes) -> Optional[AssistantLine]:
    """parse_line for one line of bytes; cheap substring tests skip the lines that cannot matter."""
    # Most bytes in a transcript are user lines (tool results, file contents): never decode those.
    # "assistant" comes early in a line and "usage" late (after the content): each test ends soon.
    if b"assistant" not in raw:
        return None
    has_tools = b'"tool_use"' in raw
    if not has_tools and raw.rfind(b'"usage"') < 0:
        return None
    try:
        text = raw.decode("utf-8").strip()
        obj, end = _scan_json(text, 0)
    except (ValueError, StopIteration):  # ValueError covers UnicodeDecodeError and JSONDecodeError
        raise SkippedLine("bad_json") from None
    if end != len(text):
        raise SkippedLine("bad_json")  # trailing bytes after the object
    return parse_line(obj, has_tools, own=True)


def parse_line(obj: Any, has_tools: bool = True, own: bool = False) -> Optional[AssistantLine]:
    """The usage-relevant parts of a decoded line; None for lines without usage or tool calls.

    has_tools=False: the caller knows the line holds no tool call (its bytes never say "tool_use").
    own=True: `obj` is the caller's to change, and the message's content (its bulk) is dropped from it:
    the line keeps the decoded object for what it reads later, and must not keep the content alive.
    Raises SkippedLine("bad_timestamp") for an assistant line whose timestamp does not parse.
    """
    # Runs for every assistant line of every transcript (a cold scan: 200,000 and more): plain dict
    # access and the field readers' common cases inline (text: a non-empty str; count: an int >= 0).
    if type(obj) is not dict:
        return None
    get = obj.get
    message = get("message")
    if type(message) is not dict:
        return None
    kind = get("type")
    # Minimal lines (ccusage's own test data) carry only message.role.
    if kind != "assistant" and (kind is not None or message.get("role") != "assistant"):
        return None
    usage = message.get("usage")
    content = message.pop("content", None) if own else message.get("content")
    tools = _tool_uses(content) if has_tools else _NO_TOOLS
    if type(usage) is not dict and not tools:
        return None
    occurred = parse_rfc3339(get("timestamp"))  # type: ignore[arg-type]
    if occurred is None:
        raise SkippedLine("bad_timestamp")
    v = message.get("id")
    mid = v if type(v) is str and v else None
    v = get("requestId")
    rid = v if type(v) is str and v else None
    v = message.get("model")
    model = v if type(v) is str and v else None
    v = get("cwd")
    line = AssistantLine(occurred, mid, rid, model, v if type(v) is str and v else None,
                         get("isSidechain") is True, tools, obj)
    if type(usage) is dict:
        line.has_usage = True
        line.usage = usage
        v = usage.get("input_tokens")
        line.input_tokens = v if type(v) is int and v >= 0 else count(v)
        v = usage.get("output_tokens")
        line.output_tokens = v if type(v) is int and v >= 0 else count(v)
        v = usage.get("cache_read_input_tokens")
        line.cache_read_tokens = v if type(v) is int and v >= 0 else count(v)
        split = usage.get("cache_creation")
        if type(split) is dict:
            line.cache_write_5m_tokens, line.cache_write_1h_tokens = _cache_writes(usage)
        else:  # no 5m/1h split: the legacy total counts as 5-minute writes
            v = usage.get("cache_creation_input_tokens")
            line.cache_write_5m_tokens = v if type(v) is int and v >= 0 else count(v)
    return line


_NO_TOOLS: List[Tuple[str, str]] = []  # shared, never appended to


def _cache_writes(usage: Dict[str, Any]) -> Tuple[int, int]:
    """(5-minute, 1-hour) cache writes; the legacy total counts as 5-minute writes without a split."""
    legacy = count(usage.get("cache_creation_input_tokens"))
    split = usage.get("cache_creation")
    if isinstance(split, dict):
        five = count(split.get("ephemeral_5m_input_tokens"))
        hour = count(split.get("ephemeral_1h_input_tokens"))
        if five or hour:
            return five, hour
    return legacy, 0


def _tool_uses(content: Any) -> List[Tuple[str, str]]:
    if not isinstance(content, list):
        return []
    out = []
    for block in content:
        if type(block) is dict and block.get("type") == "tool_use":
            tool_id, name = text(block.get("id")), text(block.get("name"))
            if tool_id and name:
                out.append((tool_id, name))
    return out


def compute_line_cost(line: AssistantLine) -> Optional[float]:
    """USD for one request from the price table (fast mode at the model's multiplier); None if unknown."""
    if line.model is None:
        return None
    pricing = records._pricing()
    found = pricing.compute_cost(line.model, line.input_tokens, line.output_tokens, line.cache_read_tokens,
                                 line.cache_write_5m_tokens, line.cache_write_1h_tokens)
    if found is not None and line.fast:
        res = pricing.resolve(line.model)
        if res is not None and res.price.fast_multiplier:
            found *= res.price.fast_multiplier
    return found


def usage_of(line: AssistantLine, session_id: Optional[str], project: Optional[str], keep_raw: bool = True
             ) -> Usage:
    """The request of one assistant line (the session id of the line wins over the path's)."""
    key = line.key
    # Positional (occurred_at, key, model, input, output, cache read, cache write, reasoning, logged
    # cost, session, project, turn, requests, raw): this runs for every message of a catch-up read.
    return Usage(line.occurred_at, key, line.model, line.input_tokens, line.output_tokens, line.cache_read_tokens,
                 line.cache_write_tokens, 0, line.cost_logged,
                 line.session_id or session_id, project, None, 1, line.raw if keep_raw or key is None else None)


def call_of(line: AssistantLine, tool_id: str, tool_name: str, session_id: Optional[str], project: Optional[str],
            keep_raw: bool = True) -> ToolCall:
    """One tool_use block of an assistant line; its id matches the PostToolUse hook's tool_use_id."""
    return ToolCall(line.occurred_at, tool_id, tool_name, session_id=line.session_id or session_id,
                    model=line.model, project=project,
                    raw={"uuid": line.uuid, "message_id": line.message_id, "isSidechain": line.sidechain}
                    if keep_raw else None)


def usage_event(line: AssistantLine, account_id: str, session_id: Optional[str],
                project: Optional[str], keep_raw: bool = True) -> UsageEvent:
    """The message_usage event of one assistant line.

    Without keep_raw, an event with a key has no raw (an id-less one keeps it: its key is its fingerprint).
    """
    return records.usage_event(PROVIDER_ID, account_id, usage_of(line, session_id, project, keep_raw),
                               computed=compute_line_cost(line))


def tool_event(line: AssistantLine, tool_id: str, tool_name: str, account_id: str, session_id: Optional[str],
               project: Optional[str], keep_raw: bool = True) -> UsageEvent:
    """The tool_usage event of one tool_use block."""
    return records.tool_event(PROVIDER_ID, account_id, call_of(line, tool_id, tool_name, session_id, project,
                                                               keep_raw), keep_raw)
