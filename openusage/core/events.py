"""The normalized usage event and its dedup key (DESIGN section 6)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Optional

EVENT_TYPES = (
    "message_usage",
    "turn_completed",
    "tool_usage",
    "session_start",
    "session_end",
    "prompt_submitted",
    "limit_snapshot",
    "notification",
    "other",
)

# Keys of a hook payload that change between deliveries of the same fact and so stay out of the
# fingerprint.
_VOLATILE_KEYS = {"delivered_at", "retry", "attempt"}


# The part of a dedup key before an event's id, by the id field it is made of (UsageEvent.dedup_key).
KEY_PREFIXES = {"tool_call_id": "tc:", "message_id": "msg:", "turn_id": "turn:"}


def id_key(provider_id: str, event_type: str, field: str, ident: str) -> str:
    """The dedup key of an event whose key is made of `ident` in `field` (as UsageEvent.dedup_key)."""
    return f"{provider_id}|{event_type}|{KEY_PREFIXES[field]}{ident}"


@dataclass
class UsageEvent:
    """One normalized usage event (DESIGN section 6): a message, turn, tool call or other fact."""

    source: str
    provider_id: str
    account_id: str
    event_type: str
    occurred_at: float  # epoch seconds, UTC
    session_id: Optional[str] = None
    turn_id: Optional[str] = None
    message_id: Optional[str] = None
    tool_call_id: Optional[str] = None
    model: Optional[str] = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Optional[float] = None  # the cost in "auto" mode: logged if the source logs one, else computed
    cost_logged_usd: Optional[float] = None  # what the source logged ("display" mode), if it did
    cost_computed_usd: Optional[float] = None  # from tokens and the price table ("calculate" mode), if known
    requests: int = 0
    tool_name: Optional[str] = None
    project: Optional[str] = None
    mcp_server: Optional[str] = None
    raw: Optional[Dict[str, Any]] = field(default=None, repr=False)

    def total_tokens(self) -> int:
        """input + cache_read + cache_write + output (reasoning is part of output)."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens + self.output_tokens

    def dedup_key(self) -> str:
        """First present of tool_call_id, message_id, turn_id, else a payload fingerprint.

        Scoped by provider and event type: a tool call and the message that made it are two facts.
        """
        field = self.key_field()
        if field is not None:
            return id_key(self.provider_id, self.event_type, field, getattr(self, field))
        return f"{self.provider_id}|{self.event_type}|fp:" + self.fingerprint()

    def key_field(self) -> Optional[str]:
        """The id field dedup_key() is made of (KEY_PREFIXES), or None: the fingerprint."""
        return ("tool_call_id" if self.tool_call_id else "message_id" if self.message_id
                else "turn_id" if self.turn_id else None)

    def fingerprint(self) -> str:
        """SHA-256 of (source, account_id, event_type, occurred_at, stable payload subset)."""
        # occurred_at of a hook event is stamped by the hook command when it receives the payload and
        # travels with it through the spool, so a retried delivery has the same fingerprint.
        stable = _stable(self.raw) if self.raw is not None else None
        blob = json.dumps(
            [self.source, self.account_id, self.event_type, round(self.occurred_at, 3), stable],
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        import hashlib  # loaded on first use: reports and the dashboard never hash

        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _stable(payload: Any) -> Any:
    if isinstance(payload, dict):
        return {k: _stable(v) for k, v in payload.items() if k not in _VOLATILE_KEYS}
    if isinstance(payload, list):
        return [_stable(v) for v in payload]
    return payload


def split_mcp_tool(tool_name: Optional[str]) -> Optional[str]:
    """The MCP server of a tool named mcp__<server>__<tool>, else None."""
    if not tool_name or not tool_name.startswith("mcp__"):
        return None
    rest = tool_name[5:]
    server, sep, _ = rest.partition("__")
    return server if sep and server else None
