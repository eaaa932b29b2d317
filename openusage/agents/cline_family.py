"""Cline and its forks Roo Code and Kilo Code: usage read from each task's UI message log.

Format facts (cline/cline and RooCodeInc/Roo-Code src/shared/getApiMetrics.ts, ExtensionMessage's
ClineMessage; Kilo Code keeps Roo's): each is a VS Code extension keeping its tasks under its
globalStorage folder, in every VS Code variant (Code, Insiders, VSCodium, Cursor, Windsurf, ...) and
in `~/.vscode-server/data/User` on remote hosts: `<globalStorage>/<extension id>/tasks/<task
id>/ui_messages.json`, a JSON array the extension rewrites as the task runs. A message {ts (epoch
ms), type: "say"|"ask", say|ask, text, partial, modelInfo?} with `say == "api_req_started"` is one
API request; its `text` is JSON {request, tokensIn, tokensOut, cacheWrites, cacheReads, cost,
apiProtocol?}, the numbers filled in (the message rewritten) when the request finishes. With
apiProtocol "openai" tokensIn includes both caches; otherwise (Anthropic style) it is fresh input.
The model is the message's `modelInfo.modelId` (newer Cline) or the task's `task_metadata.json`
`model_usage[]` {ts, model_id} in force at the request. A request is keyed by its task id and
`ts`; tool uses (`say`/`ask == "tool"`, text {"tool": name}, partial copies skipped) the same way.
"""
from __future__ import annotations

import json
import os
from typing import Any, List, Optional

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import ToolCall, Usage, cost, count, number, text
from openusage.agents.roots import Roots
from openusage.agents.sources import JsonSource

_USER_DIRS = ("$XDG_CONFIG_HOME/Code/User", "$XDG_CONFIG_HOME/Code - Insiders/User", "$XDG_CONFIG_HOME/VSCodium/User",
              "$XDG_CONFIG_HOME/Cursor/User", "$XDG_CONFIG_HOME/Windsurf/User", "~/.vscode-server/data/User",
              "~/.vscode-server-insiders/data/User", "~/.vscode-remote/data/User", "~/.cursor-server/data/User")
_MAC_DIRS = ("~/Library/Application Support/Code/User", "~/Library/Application Support/Code - Insiders/User",
             "~/Library/Application Support/VSCodium/User", "~/Library/Application Support/Cursor/User",
             "~/Library/Application Support/Windsurf/User")


def storage_roots(extension: str) -> Roots:
    """The extension's globalStorage folder in every VS Code variant."""
    return Roots(defaults=tuple(f"{d}/globalStorage/{extension}" for d in _USER_DIRS),
                 darwin=tuple(f"{d}/globalStorage/{extension}" for d in _MAC_DIRS))


def model_usage(path: str) -> List[tuple]:
    """(ts ms, model id) of a task_metadata.json's model_usage, oldest first."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.loads(fh.read(16 * 1024 * 1024))
    except (OSError, ValueError):
        return []
    out = []
    for entry in (data.get("model_usage") or []) if isinstance(data, dict) else []:
        if isinstance(entry, dict) and text(entry.get("model_id")):
            out.append((number(entry.get("ts")) or 0.0, entry["model_id"]))
    return sorted(out)


def _model_at(history: List[tuple], ts: float) -> Optional[str]:
    found = None
    for at, model in history:
        if at <= ts:
            found = model
    return found or (history[0][1] if history else None)


def parse_task_file(doc: Any, found: Found) -> List[Any]:
    task = found.parts[-1] if found.parts else found.stem
    return parse_ui_messages(doc, task, model_usage(os.path.join(os.path.dirname(found.path), "task_metadata.json")))


def parse_ui_messages(doc: Any, task: str, history: List[tuple]) -> List[Any]:
    """The finished API requests and the tool uses of one task's ui_messages.json."""
    if not isinstance(doc, list):
        return []
    out: List[Any] = []
    for message in doc:
        if not isinstance(message, dict) or message.get("partial") is True:
            continue
        ts = number(message.get("ts"))
        kind = message.get("say") if message.get("type") == "say" else message.get("ask")
        if ts is None or ts <= 0 or kind not in ("api_req_started", "tool"):
            continue
        try:
            body = json.loads(message.get("text") or "")
        except (TypeError, ValueError):
            continue
        if not isinstance(body, dict):
            continue
        key = f"{task}:{int(ts)}"
        if kind == "tool":
            name = text(body.get("tool"))
            if name:
                out.append(ToolCall(ts / 1000.0, key, name, session_id=task))
            continue
        if not any(k in body for k in ("tokensIn", "tokensOut", "cacheReads", "cacheWrites", "cost")):
            continue  # the request has not finished yet
        info = message.get("modelInfo")
        model = (text(info.get("modelId")) if isinstance(info, dict) else None) or _model_at(history, ts)
        tokens_in, cache_read, cache_write = count(body.get("tokensIn")), count(body.get("cacheReads")), \
            count(body.get("cacheWrites"))
        fresh = max(tokens_in - cache_read - cache_write, 0) if body.get("apiProtocol") == "openai" else tokens_in
        out.append(Usage(ts / 1000.0, key, model, input_tokens=fresh, output_tokens=count(body.get("tokensOut")),
                         cache_read_tokens=cache_read, cache_write_tokens=cache_write,
                         cost_logged=cost(body.get("cost")), session_id=task,
                         raw={"task": task, "ts": int(ts), "model": model}))
    return out


_SOURCES = (JsonSource("tasks/*/ui_messages.json", parse_task_file),)


class ClineProvider(AgentProvider):
    id = "cline"
    name = "Cline"
    roots = storage_roots("saoudrizwan.claude-dev")
    markers = ("tasks",)
    nothing = "no Cline tasks found"
    sources = _SOURCES


class RooCodeProvider(AgentProvider):
    id = "roo_code"
    name = "Roo Code"
    roots = storage_roots("rooveterinaryinc.roo-cline")
    markers = ("tasks",)
    nothing = "no Roo Code tasks found"
    sources = _SOURCES


class KiloCodeProvider(AgentProvider):
    id = "kilo_code"
    name = "Kilo Code"
    roots = storage_roots("kilocode.kilo-code")
    markers = ("tasks",)
    nothing = "no Kilo Code tasks found"
    sources = _SOURCES
