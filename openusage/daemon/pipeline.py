"""Hook ingestion: turn a hook payload into normalized events, link providers, hand to the writer.

Claude Code and Codex hooks carry no token counts: a hook is a tool-call/session/turn event to
store, and a hint to read the agent's log tail now (the same dedup keys make the two paths count
each fact once).
"""
from __future__ import annotations

import json
import math
import os
import re
from typing import Any, Dict, List, Optional, Tuple

from openusage import agents
from openusage.core import pricing
from openusage.core.events import EVENT_TYPES, UsageEvent, split_mcp_tool
from openusage.core.timeutil import to_epoch
from openusage.daemon.spool import MAX_BODY

MAX_BATCH = 1000  # events in one POST

# Hook source names as agents call them -> our provider ids (from each agent's row).
SOURCE_PROVIDERS = agents.hook_sources()

_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

# Claude Code / Codex hook_event_name -> event_type (from the agents' rows)
_HOOK_EVENTS = agents.hook_events()


class HookError(ValueError):
    """The delivery can never be ingested (answered with 400, spooled copies go to bad/)."""


def valid_source(source: str) -> bool:
    return bool(_SOURCE_NAME.match(source))


def parse_body(body: bytes) -> List[Dict[str, Any]]:
    """The payloads of one delivery: a JSON object or an array of objects."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HookError("body is not UTF-8") from exc
    if not text.strip():
        raise HookError("empty body")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser goes
        raise HookError(f"malformed JSON: {exc}") from exc
    items = data if isinstance(data, list) else [data]
    if not items:
        raise HookError("empty array")
    if len(items) > MAX_BATCH:
        raise HookError(f"too many payloads in one delivery ({len(items)} > {MAX_BATCH})")
    for item in items:
        if not isinstance(item, dict):
            raise HookError("each payload must be a JSON object")
    return items


def normalize(
    source: str,
    payload: Dict[str, Any],
    account_id: Optional[str],
    received_at: float,
    links: Dict[str, str],
) -> UsageEvent:
    """One hook payload as a normalized event (provider linked, account defaulted)."""
    provider_id = SOURCE_PROVIDERS.get(source, source.replace("-", "_"))
    if source in ("codex", "codex-cli") and payload.get("type") == "agent-turn-complete":
        ev = _codex_notify(payload, received_at)
        payload = _without_content(payload)
    elif "hook_event_name" in payload:
        ev = _agent_hook(payload, received_at)
        payload = _without_content(payload)
    else:
        ev = _generic(payload, received_at)

    if isinstance(payload.get("provider_id"), str) and payload["provider_id"]:
        provider_id = payload["provider_id"]
    provider_id = links.get(provider_id, provider_id)
    ev.source = source
    ev.provider_id = provider_id
    ev.account_id = account_id or _str(payload.get("account_id")) or provider_id
    ev.raw = payload
    return ev


# Fields of agent hooks that hold what the user and the model wrote (prompts, commands, file
# contents, answers). They are never stored: a command line or a file can hold a secret, and the log
# collectors keep no content either. The marker keeps the key, so one can tell the field was sent.
_CONTENT_KEYS = frozenset({"tool_input", "tool_response", "prompt", "message", "last_assistant_message",
                           "input-messages", "last-assistant-message"})
OMITTED = "[omitted]"


def _without_content(payload: Dict[str, Any]) -> Dict[str, Any]:
    if not _CONTENT_KEYS.intersection(payload):
        return payload
    return {k: (OMITTED if k in _CONTENT_KEYS and v is not None else v) for k, v in payload.items()}


def _blank(event_type: str, occurred_at: float) -> UsageEvent:
    return UsageEvent(source="", provider_id="", account_id="", event_type=event_type, occurred_at=occurred_at)


def _project(cwd: Any) -> Optional[str]:
    if isinstance(cwd, str) and cwd.strip():
        return os.path.basename(cwd.rstrip("/")) or cwd
    return None


def _str(value: Any) -> Optional[str]:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _agent_hook(p: Dict[str, Any], received_at: float) -> UsageEvent:
    name = p.get("hook_event_name")
    ev = _blank(_HOOK_EVENTS.get(name, "other") if isinstance(name, str) else "other", received_at)
    ev.session_id = _str(p.get("session_id"))
    ev.project = _project(p.get("cwd"))
    ev.turn_id = _str(p.get("prompt_id")) if ev.event_type == "prompt_submitted" else None
    if ev.event_type == "tool_usage":
        ev.tool_name = _str(p.get("tool_name"))
        ev.tool_call_id = _str(p.get("tool_use_id")) or _str(p.get("tool_call_id"))
        ev.mcp_server = split_mcp_tool(ev.tool_name)
    ev.model = _model_name(p.get("model"))
    return ev


def _codex_notify(p: Dict[str, Any], received_at: float) -> UsageEvent:
    ev = _blank("turn_completed", received_at)
    ev.session_id = _str(p.get("thread-id"))
    ev.turn_id = _str(p.get("turn-id"))
    ev.project = _project(p.get("cwd"))
    return ev


def _model_name(model: Any) -> Optional[str]:
    if isinstance(model, dict):
        return _str(model.get("id"))
    return _str(model)


MAX_COUNT = 2 ** 53  # a larger token or request count is garbage (and past what SQLite stores)
MAX_COST = 1e9  # USD for one event; more is garbage, and sums of such would overflow to inf
# Event times the store can bucket into local days: after 1970 and before the year 5000.
LATEST_EPOCH = 95_000_000_000.0


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)) and 0 <= value < MAX_COUNT:
        return int(value)
    return 0


def _occurred_at(p: Dict[str, Any], received_at: float) -> float:
    value = p.get("occurred_at") or p.get("timestamp")
    if value is None:
        return received_at
    try:
        occurred = to_epoch(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise HookError(f"occurred_at is not a time: {exc}") from exc
    if occurred is None:
        return received_at
    if not (math.isfinite(occurred) and 0 < occurred < LATEST_EPOCH):
        raise HookError("occurred_at out of range")
    return occurred


def _generic(p: Dict[str, Any], received_at: float) -> UsageEvent:
    """Payloads in our own event shape (plugins, scripts): fields named as in DESIGN section 6."""
    event_type = p.get("event_type") or p.get("type")
    if event_type not in EVENT_TYPES:
        event_type = "other"
    ev = _blank(event_type, _occurred_at(p, received_at))
    for key in ("session_id", "turn_id", "message_id", "tool_call_id", "tool_name", "project", "mcp_server"):
        setattr(ev, key, _str(p.get(key)))
    ev.model = _model_name(p.get("model"))
    usage = p.get("usage") if isinstance(p.get("usage"), dict) else p
    ev.input_tokens = _int(usage.get("input_tokens"))
    ev.output_tokens = _int(usage.get("output_tokens"))
    ev.cache_read_tokens = _int(usage.get("cache_read_tokens"))
    ev.cache_write_tokens = _int(usage.get("cache_write_tokens"))
    ev.reasoning_tokens = _int(usage.get("reasoning_tokens"))
    cost = p.get("cost_usd")
    logged = float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None
    ev.cost_logged_usd = logged if logged is not None and math.isfinite(logged) and 0 <= logged < MAX_COST else None
    if ev.event_type == "message_usage" and ev.model:
        # Priced like a collector prices the same message, so the copy that arrives first (hook or
        # log) carries the same costs in every cost mode.
        ev.cost_computed_usd = pricing.compute_cost(ev.model, ev.input_tokens, ev.output_tokens,
                                                    ev.cache_read_tokens, ev.cache_write_tokens)
    ev.cost_usd = pricing.apply_cost_mode("auto", ev.cost_logged_usd, ev.cost_computed_usd)
    ev.requests = _int(p.get("requests")) or (1 if ev.event_type == "message_usage" else 0)
    if ev.mcp_server is None:
        ev.mcp_server = split_mcp_tool(ev.tool_name)
    return ev


def events_from_delivery(
    source: str, body: bytes, account_id: Optional[str], received_at: float, links: Dict[str, str]
) -> Tuple[List[UsageEvent], List[str]]:
    """All events of one delivery, and the provider ids whose logs should be read now."""
    if not valid_source(source):
        raise HookError(f"invalid source name {source[:80]!r}")
    if len(body) > MAX_BODY:  # every path into the store: the socket checks it first, the spool here
        raise HookError(f"body over the limit of {MAX_BODY} bytes")
    if account_id is not None and not isinstance(account_id, str):
        raise HookError("account_id is not a string")
    if not 0 < received_at < LATEST_EPOCH:  # a spooled record's time is checked here too (NaN fails)
        raise HookError("receipt time out of range")
    events = [normalize(source, p, account_id, received_at, links) for p in parse_body(body)]
    return events, sorted({e.provider_id for e in events} | {SOURCE_PROVIDERS.get(source, source)})
