"""Codex rollout lines to usage (pure): envelopes, session metadata, token rows and their deltas, tool calls."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from openusage.agents import records
from openusage.agents.records import count, text
from openusage.core.events import UsageEvent
from openusage.core.timeutil import parse_rfc3339

PROVIDER_ID = "codex"
TOOL_ITEMS = {"function_call", "custom_tool_call", "local_shell_call"}


def envelope(obj: Dict[str, Any]) -> Tuple[Optional[str], Dict[str, Any], Any]:
    """(kind, payload, timestamp text) of a line; bare lines of 2025 builds are tolerated."""
    payload = obj.get("payload")
    if isinstance(payload, dict):
        return text(obj.get("type")), payload, obj.get("timestamp")
    if "instructions" in obj and "id" in obj:
        return "session_meta", obj, obj.get("timestamp")
    if obj.get("type") in TOOL_ITEMS:
        return "response_item", obj, obj.get("timestamp")
    return None, {}, None


def parse_session_meta(payload: Dict[str, Any], ts_text: Any) -> Dict[str, Any]:
    """sid, parent (fork or spawning thread), t0 (start), cwd and meta_model of a session_meta payload."""
    parent = text(payload.get("forked_from_id"))
    source = payload.get("source")
    if not parent and isinstance(source, dict):
        sub = source.get("subagent") or source.get("subAgent")
        spawn = (sub.get("thread_spawn") or sub.get("threadSpawn")) if isinstance(sub, dict) else None
        if isinstance(spawn, dict):
            parent = text(spawn.get("parent_thread_id"))
    t0 = parse_rfc3339(ts_text) if isinstance(ts_text, str) else None
    if t0 is None:
        t0 = parse_rfc3339(payload.get("timestamp"))  # type: ignore[arg-type]
    return {"sid": text(payload.get("id")), "parent": parent, "started_at": t0, "cwd": text(payload.get("cwd")),
            "meta_model": text(payload.get("model"))}


Usage = Tuple[int, int, int, int, int]  # input, cached input, output, reasoning output, total


@dataclass(frozen=True)
class TokenRow:
    total: Optional[Usage]
    last: Optional[Usage]
    model: Optional[str]  # info.model: only ccusage's synthetic files carry it

    @property
    def signature(self) -> str:
        """What a fork's copy of this row repeats exactly (timestamps differ)."""
        return f"{_sig(self.last)}|{_sig(self.total)}"


def _sig(usage: Optional[Usage]) -> str:
    return "-" if usage is None else ",".join(str(v) for v in usage)


def parse_token_row(payload: Dict[str, Any]) -> Optional[TokenRow]:
    """The usage of a token_count payload; None when it carries none (info null: limits only)."""
    info = payload.get("info")
    if not isinstance(info, dict):
        return None
    total, last = parse_usage(info.get("total_token_usage")), parse_usage(info.get("last_token_usage"))
    if total is None and last is None:
        return None
    return TokenRow(total, last, text(info.get("model")))


def parse_usage(obj: Any) -> Optional[Usage]:
    """A usage object as (input, cached, output, reasoning, total); legacy files lack total_tokens."""
    if not isinstance(obj, dict):
        return None
    inp, cached = count(obj.get("input_tokens")), count(obj.get("cached_input_tokens"))
    out, reasoning = count(obj.get("output_tokens")), count(obj.get("reasoning_output_tokens"))
    total = count(obj.get("total_tokens")) if "total_tokens" in obj else inp + out
    return inp, cached, out, reasoning, total


def usage_delta(prev: Optional[Usage], total: Optional[Usage], last: Optional[Usage]
                ) -> Tuple[Optional[Usage], Optional[Usage]]:
    """(usage of this row or None for a repeat, the new running total) from cumulative totals.

    Totals that go down (a reset) count this row's `last`; rows without totals (legacy) count `last`.
    """
    if total is None:
        return last, prev
    if prev is None:
        return total, total
    if total[:4] == prev[:4]:
        return None, prev
    if all(t >= p for t, p in zip(total[:4], prev[:4])):
        return tuple(t - p for t, p in zip(total, prev)), total  # type: ignore[return-value]
    return (last if last is not None else total), total


def split_usage(delta: Usage) -> Tuple[int, int, int, int]:
    """(fresh input, cache read, output, reasoning) as DESIGN section 5 counts them."""
    inp, cached, out, reasoning, _ = delta
    cached = min(cached, inp)
    return inp - cached, cached, out, min(reasoning, out)


def usage_event(delta: Usage, model: str, ts: float, account_id: str, session_id: str, message_id: str,
                turn_id: Optional[str], project: Optional[str], raw: Dict[str, Any]) -> UsageEvent:
    """The message_usage event of one request."""
    fresh, cached, out, reasoning = split_usage(delta)
    return records.usage_event(PROVIDER_ID, account_id, records.Usage(
        ts, message_id, model, input_tokens=fresh, output_tokens=out, cache_read_tokens=cached,
        reasoning_tokens=reasoning, session_id=session_id, project=project, turn_id=turn_id, raw=raw))


def parse_tool_call(payload: Dict[str, Any]) -> Optional[Tuple[str, str]]:
    """(call id, tool name) of a function_call, custom_tool_call or local_shell_call item."""
    kind = payload.get("type")
    if kind not in TOOL_ITEMS:
        return None
    call_id = text(payload.get("call_id")) or (text(payload.get("id")) if kind == "local_shell_call" else None)
    name = text(payload.get("name")) or ("local_shell" if kind == "local_shell_call" else None)
    if not call_id or not name:
        return None
    return call_id, name



def usage_dict(usage: Optional[Usage]) -> Optional[Dict[str, int]]:
    if usage is None:
        return None
    names = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens", "total_tokens")
    return dict(zip(names, usage))
