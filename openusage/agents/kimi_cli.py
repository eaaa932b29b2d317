"""Kimi CLI (MoonshotAI/kimi-cli): usage read from each session's wire log.

Format facts (src/kimi_cli/wire/file.py, wire/types.py, kosong's TokenUsage): sessions are
`<share dir>/sessions/<md5 of the work dir>/<session id>/wire.jsonl`, the share dir being
$KIMI_SHARE_DIR, else `~/.kimi`; `<share dir>/kimi.json` lists the work dirs ({"work_dirs": [{path,
...}]}). A wire file starts with `{"type": "metadata", "protocol_version"}`, then one
`{"timestamp": <epoch s, float>, "message": {"type", "payload"}}` per wire message, appended. A
`StatusUpdate` payload's `token_usage` is the current step's {input_other, output,
input_cache_read, input_cache_creation} (input_other excludes both caches), with the step's
`message_id`; a StatusUpdate with `token_usage: null` only updates other status. A `SubagentEvent`
wraps a subagent's event in `payload.event` {type, payload}: its usage is booked to the session
that ran it. `ToolCall` payloads carry `id` and `function.name`. The wire records no model name:
the `default_model` configured in `<share dir>/config.toml` prices the steps.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any, Dict, List, Optional

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import Skip, ToolCall, Usage, count, number, project_name, text
from openusage.agents.roots import EnvRoot, Roots
from openusage.agents.sources import JsonlSource

PROVIDER_ID = "kimi_cli"
_DEFAULT_MODEL = re.compile(r'^\s*default_model\s*=\s*"([^"]+)"', re.M)


def work_dirs(path: str) -> Dict[str, str]:
    """md5 of a work dir -> its project name, from kimi.json's work_dirs."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.loads(fh.read(4 * 1024 * 1024))
    except (OSError, ValueError):
        return {}
    out = {}
    for entry in (data.get("work_dirs") or []) if isinstance(data, dict) else []:
        wd = text(entry.get("path")) if isinstance(entry, dict) else None
        if wd:
            out[hashlib.md5(wd.encode("utf-8")).hexdigest()] = project_name(wd) or wd
    return out


def default_model(path: str) -> Optional[str]:
    """`default_model` of Kimi CLI's config.toml (a top-level string key)."""
    try:
        with open(path, encoding="utf-8") as fh:
            found = _DEFAULT_MODEL.search(fh.read(1024 * 1024))
    except (OSError, UnicodeDecodeError):
        return None
    return found.group(1) if found else None


def _scope(ctx: Dict[str, Any], found: Found) -> None:
    """Session, project and model of a wire file, looked up once per file and kept in its carry-over."""
    if "session" in ctx:
        return
    share = os.path.dirname(found.root.rstrip("/"))  # the root is the share dir's sessions folder
    bucket = found.parts[-2] if len(found.parts) >= 2 else ""
    ctx["session"] = found.parts[-1] if found.parts else found.stem
    ctx["project"] = work_dirs(os.path.join(share, "kimi.json")).get(bucket.rsplit("_", 1)[-1])
    ctx["model"] = default_model(os.path.join(share, "config.toml"))


def parse_wire_line(obj: Dict[str, Any], ctx: Dict[str, Any], found: Found) -> List[Any]:
    _scope(ctx, found)
    return parse_wire_record(obj, ctx["session"], ctx.get("model"), ctx.get("project"))


def parse_wire_record(obj: Dict[str, Any], session: str, model: Optional[str], project: Optional[str]) -> List[Any]:
    """Records of one wire record."""
    message = obj.get("message")
    if not isinstance(message, dict):
        return []
    stamp = number(obj.get("timestamp"))
    if stamp is None or stamp <= 0:
        raise Skip("bad_timestamp")
    kind, payload = message.get("type"), message.get("payload")
    subagent = None
    if kind == "SubagentEvent" and isinstance(payload, dict) and isinstance(payload.get("event"), dict):
        subagent = text(payload.get("agent_id")) or "subagent"
        kind, payload = payload["event"].get("type"), payload["event"].get("payload")
    if not isinstance(payload, dict):
        return []
    if kind == "ToolCall":
        function = payload.get("function")
        name = text(function.get("name")) if isinstance(function, dict) else None
        call_id = text(payload.get("id"))
        return [ToolCall(stamp, call_id, name, session_id=session, model=model, project=project)] \
            if call_id and name else []
    usage = payload.get("token_usage")
    if kind != "StatusUpdate" or not isinstance(usage, dict):
        return []
    step = text(payload.get("message_id")) or f"{subagent or ''}@{stamp!r}"
    return [Usage(
        stamp, f"{session}:{step}", model, input_tokens=count(usage.get("input_other")),
        output_tokens=count(usage.get("output")), cache_read_tokens=count(usage.get("input_cache_read")),
        cache_write_tokens=count(usage.get("input_cache_creation")), session_id=session, project=project,
        raw={"session": session, "message_id": step, "subagent": subagent, "token_usage": usage},
    )]


class KimiCLIProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Kimi CLI"
    roots = Roots(defaults=("~/.kimi/sessions",), env=(EnvRoot("KIMI_SHARE_DIR", "sessions"),))
    nothing = "no Kimi CLI sessions found"
    sources = (JsonlSource("*/*/wire.jsonl", parse_wire_line, markers=(b"StatusUpdate", b"ToolCall")),)
