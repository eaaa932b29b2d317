"""What an agent's parser returns (Usage, ToolCall), the field readers it uses, and the events made of them.

A parser is a pure function from one record of the agent's data to Usage and ToolCall values; the
collector dedups them and turns them into UsageEvents here, pricing each request once, the same way
for every agent: cost mode "auto" keeps a logged cost, else the price table's (None when the model
is unknown: the store reports it as unpriced).
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from openusage.core.events import UsageEvent, split_mcp_tool
from openusage.core.timeutil import parse_rfc3339

_PATH_SEP = re.compile(r"[\\/]")


class Skip(ValueError):
    """A record that looked like usage but cannot be used; `reason` names why (counted, never guessed)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Usage:
    """One request's usage as the agent recorded it (DESIGN section 5 token meanings)."""

    occurred_at: float  # epoch seconds, UTC
    key: Optional[str]  # the dedup id, stable across re-reads (None: the event's fingerprint)
    model: Optional[str] = None
    input_tokens: int = 0  # fresh input: cache reads and writes not included
    output_tokens: int = 0  # reasoning included
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0  # the part of output spent reasoning
    cost_logged: Optional[float] = None  # USD the agent logged, if it did
    session_id: Optional[str] = None
    project: Optional[str] = None
    turn_id: Optional[str] = None
    requests: int = 1
    raw: Optional[Dict[str, Any]] = None  # identifying fields and counts only, never content

    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens


@dataclass
class ToolCall:
    """One tool call, keyed by the agent's call id."""

    occurred_at: float
    call_id: str
    name: str
    session_id: Optional[str] = None
    model: Optional[str] = None
    project: Optional[str] = None
    turn_id: Optional[str] = None
    raw: Optional[Dict[str, Any]] = None


# --- field readers ----------------------------------------------------------------------------


def count(value: Any) -> int:
    """A token count: a non-negative int from an int or finite float, else 0 (bools are no counts)."""
    if type(value) is int:
        return value if value > 0 else 0
    if type(value) is not float or not math.isfinite(value):
        return 0
    return max(int(value), 0)


def text(value: Any) -> Optional[str]:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def number(value: Any) -> Optional[float]:
    """A finite number as float (bools are no numbers), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def moment(value: Any) -> Optional[float]:
    """Epoch seconds of an RFC 3339 time, or of a positive epoch number in seconds or milliseconds (a
    number above 1e11 is milliseconds: 1e11 seconds is the year 5138); None for anything else."""
    if isinstance(value, str):
        return parse_rfc3339(value)
    found = number(value)
    if found is None or found <= 0:
        return None
    return found / 1000.0 if found > 1e11 else found


def cost(value: Any) -> Optional[float]:
    """A logged USD cost: a finite number >= 0, else None."""
    found = number(value)
    return found if found is not None and found >= 0 else None


def project_name(directory: Any) -> Optional[str]:
    """The project of a working directory: its last component ('/' and '' give None; `\\` too)."""
    if not isinstance(directory, str):
        return None
    parts = [p for p in _PATH_SEP.split(directory) if p]
    return parts[-1] if parts else None


def project_from_cwd(cwd: str) -> str:
    """The project name of a working directory: its last path component (as the hook path does)."""
    return os.path.basename(cwd.rstrip("/")) or cwd


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# --- events -----------------------------------------------------------------------------------


def _pricing() -> Any:
    """The price table's module, imported on first use: a poll with nothing new never prices."""
    global _PRICING
    if _PRICING is None:
        from openusage.core import pricing

        _PRICING = pricing
    return _PRICING


_PRICING: Any = None


def compute_cost(model: Optional[str], input_tokens: int, output_tokens: int, cache_read_tokens: int = 0,
                 cache_write_tokens: int = 0) -> Optional[float]:
    """USD from the price table (model names normalised there); None when the model is unknown."""
    if model is None:
        return None
    return _pricing().compute_cost(model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)


PRICE_TABLE: Any = object()  # usage_event's default: price the request from the table


def usage_event(agent_id: str, account_id: str, usage: Usage, keep_raw: bool = True,
                computed: Optional[float] = PRICE_TABLE) -> UsageEvent:
    """The message_usage event of one request; `computed` when the agent priced it itself (None: unknown).

    Without keep_raw, an event with a key has no raw (an id-less one keeps it: its key is its fingerprint).
    """
    cost_usd, computed = _costs(usage, computed)
    return UsageEvent(
        source=agent_id, provider_id=agent_id, account_id=account_id, event_type="message_usage",
        occurred_at=usage.occurred_at, session_id=usage.session_id, turn_id=usage.turn_id,
        message_id=usage.key, model=usage.model, input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens, cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens, reasoning_tokens=usage.reasoning_tokens,
        cost_usd=cost_usd, cost_logged_usd=usage.cost_logged, cost_computed_usd=computed, requests=usage.requests,
        project=usage.project, raw=usage.raw if keep_raw or usage.key is None else None,
    )


def add_usage(builder: Any, agent_id: str, account_id: str, usage: Usage,
              computed: Optional[float] = PRICE_TABLE) -> None:
    """usage_event's event added to a BatchBuilder (store/batch.py) instead; the usage has a key."""
    cost_usd, computed = _costs(usage, computed)
    builder.add(agent_id, account_id, "message_usage", "message_id", usage.key, usage.occurred_at, usage.model,
                usage.project, usage.session_id, None, None, usage.input_tokens, usage.output_tokens,
                usage.cache_read_tokens, usage.cache_write_tokens, usage.reasoning_tokens, cost_usd,
                usage.cost_logged, computed, usage.requests, usage.raw)


def _costs(usage: Usage, computed: Optional[float]) -> Tuple[Optional[float], Optional[float]]:
    """(cost in "auto" mode, computed cost) of one request."""
    if computed is PRICE_TABLE:
        computed = compute_cost(usage.model, usage.input_tokens, usage.output_tokens, usage.cache_read_tokens,
                                usage.cache_write_tokens)
    return _pricing().apply_cost_mode("auto", usage.cost_logged, computed), computed


def tool_event(agent_id: str, account_id: str, call: ToolCall, keep_raw: bool = True) -> UsageEvent:
    """The tool_usage event of one tool call (MCP server split from the tool's name)."""
    return UsageEvent(
        source=agent_id, provider_id=agent_id, account_id=account_id, event_type="tool_usage",
        occurred_at=call.occurred_at, session_id=call.session_id, turn_id=call.turn_id,
        tool_call_id=call.call_id, tool_name=call.name, mcp_server=split_mcp_tool(call.name), model=call.model,
        requests=0, project=call.project, raw=call.raw if keep_raw else None,
    )


def add_tool(builder: Any, agent_id: str, account_id: str, call: ToolCall) -> None:
    """tool_event's event added to a BatchBuilder (store/batch.py) instead."""
    builder.add(agent_id, account_id, "tool_usage", "tool_call_id", call.call_id, call.occurred_at, call.model,
                call.project, call.session_id, call.name, split_mcp_tool(call.name), 0, 0, 0, 0, 0, None, None,
                None, 0, call.raw)
