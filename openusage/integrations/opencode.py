"""OpenCode: a plugin file in OpenCode's global plugin directory.

OpenCode loads every .js/.ts file in $XDG_CONFIG_HOME/opencode/plugins/ (default ~/.config) at start,
so no opencode.json entry is needed. The plugin starts our hook with one event on stdin for each
finished assistant message (tokens and cost, in the generic event shape of daemon/pipeline.py) and
for each tool call. It uses OpenCode's v1 plugin API (one exported plugin function, the `event` and
`tool.execute.after` hooks), which every v1 loader accepts.

Its events carry provider_id "opencode" (the upstream provider, e.g. "anthropic", goes in
upstream_provider) and the same ids, token mapping and project as the OpenCode collector
(agents/opencode/), so a message or tool call seen by both counts once, on the OpenCode tile.
"""
from __future__ import annotations

import json
import os
import shutil
from typing import Any, Dict, Optional

from openusage.integrations import artifact
from openusage.integrations.artifact import IntegrationError, Outcome, Status

ID = "opencode"
NAME = "OpenCode"
SOURCE = "opencode"
FILE_NAME = "openusage.js"
MARKER = "// openusage-plugin"  # first line of the file: marks it as ours

_PLUGIN = """// openusage-plugin: sends OpenCode's token usage, cost and tool calls to the openusage daemon.
// Written by `openusage integrations install opencode`; `openusage integrations upgrade opencode`
// rewrites it and `openusage integrations uninstall opencode` removes it, so edits are lost.
// Each event goes as JSON on the stdin of the openusage hook, started without waiting for it;
// no error of ours ever reaches OpenCode.
import { spawn } from "node:child_process"

const HOOK = __HOOK_ARGV__
const SEEN_LIMIT = 5000
const seen = new Set() // ids of the messages already sent
const providers = new Map() // sessionID -> providerID of its latest assistant message
let directory // the directory OpenCode was started in: the project of messages without a path

function send(event) {
  try {
    const child = spawn(HOOK[0], HOOK.slice(1), { stdio: ["pipe", "ignore", "ignore"] })
    child.on("error", () => {})
    child.stdin.on("error", () => {})
    child.stdin.end(JSON.stringify(event))
    child.unref()
  } catch {}
}

function count(value) {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.round(value) : 0
}

function baseName(dir) {
  const parts = typeof dir === "string" ? dir.split(/[\\\\/]/).filter(Boolean) : []
  return parts.length ? parts[parts.length - 1] : undefined
}

function projectOf(info) {
  const path = info.path || {}
  return baseName(path.root) || baseName(path.cwd) || baseName(directory)
}

// OpenCode stores reasoning beside output, except older records whose total shows it inside output;
// output_tokens includes reasoning once either way (the collector maps tokens the same way).
function outputOf(tokens, input, cacheRead, cacheWrite) {
  const output = count(tokens.output)
  const reasoning = count(tokens.reasoning)
  const inside = typeof tokens.total === "number" && tokens.total === input + cacheRead + cacheWrite + output
  return reasoning && !inside ? output + reasoning : output
}

function onMessage(info) {
  if (!info || info.role !== "assistant" || typeof info.id !== "string") return
  if (info.sessionID && info.providerID) providers.set(info.sessionID, info.providerID)
  const completed = info.time ? info.time.completed : undefined
  if (!completed || seen.has(info.id)) return
  if (seen.size >= SEEN_LIMIT) seen.clear()
  seen.add(info.id)
  const tokens = info.tokens || {}
  const cache = tokens.cache || {}
  const input = count(tokens.input)
  const cacheRead = count(cache.read)
  const cacheWrite = count(cache.write)
  const output = outputOf(tokens, input, cacheRead, cacheWrite)
  const event = {
    event_type: "message_usage",
    provider_id: "opencode",
    upstream_provider: info.providerID,
    mode: info.mode,
    agent: info.agent,
    model: info.modelID,
    session_id: info.sessionID,
    turn_id: info.parentID,
    message_id: info.id,
    input_tokens: input,
    output_tokens: output,
    reasoning_tokens: Math.min(count(tokens.reasoning), output),
    cache_read_tokens: cacheRead,
    cache_write_tokens: cacheWrite,
    // OpenCode's own estimate; 0 (subscription providers) is no logged cost
    cost_usd: typeof info.cost === "number" && Number.isFinite(info.cost) && info.cost > 0 ? info.cost : undefined,
    project: projectOf(info),
    occurred_at: completed,
  }
  const used = event.input_tokens + event.output_tokens + event.cache_read_tokens + event.cache_write_tokens
  if (used > 0 || event.cost_usd) send(event)
}

function onToolCall(input) {
  if (!input || typeof input.callID !== "string") return
  send({
    event_type: "tool_usage",
    provider_id: "opencode",
    upstream_provider: providers.get(input.sessionID),
    tool_name: input.tool,
    tool_call_id: input.callID,
    session_id: input.sessionID,
    occurred_at: Date.now(),
  })
}

export const OpenusagePlugin = async (ctx) => {
  try {
    directory = ctx && ctx.directory
  } catch {}
  return hooks
}

const hooks = {
  event: async ({ event }) => {
    try {
      if (event && event.type === "message.updated") onMessage(event.properties && event.properties.info)
    } catch {}
  },
  "tool.execute.after": async (input) => {
    try {
      onToolCall(input)
    } catch {}
  },
}
"""


def config_dir() -> str:
    base = os.environ.get("XDG_CONFIG_HOME")
    if not base or not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "opencode")


def default_target() -> str:
    return os.path.join(config_dir(), "plugins", FILE_NAME)


def detected() -> bool:
    return os.path.isdir(config_dir()) or shutil.which("opencode") is not None


def plugin_text() -> str:
    return _PLUGIN.replace("__HOOK_ARGV__", json.dumps(artifact.hook_argv(SOURCE), ensure_ascii=False))


def _first_missing_dir(path: str) -> Optional[str]:
    """The outermost directory of `path` that does not exist yet (what writing the plugin creates)."""
    missing = None
    while path and not os.path.isdir(path):
        missing, path = path, os.path.dirname(path)
        if path == missing:
            break
    return missing


def _remove_empty_dirs(path: str, stop: str) -> None:
    """Remove `path` and its parents up to `stop` while they are empty."""
    if path != stop and not path.startswith(stop.rstrip(os.sep) + os.sep):
        return
    while True:
        try:
            os.rmdir(path)
        except OSError:
            return
        if path == stop or os.path.dirname(path) == path:
            return
        path = os.path.dirname(path)


def _ours(text: str) -> bool:
    return text.startswith(MARKER)


def inspect(target: str) -> Status:
    try:
        text = artifact.read_text(target)
    except IntegrationError as exc:
        return Status(installed=False, current=False, error=str(exc))
    if text is None:
        return Status(installed=False, current=False)
    if not _ours(text):
        return Status(installed=False, current=False, detail="a plugin file not written by openusage is there")
    current = text == plugin_text() and artifact.script_current()
    return Status(installed=True, current=current, detail="plugin")


def install(target: str, chain: bool = False, state: Optional[Dict[str, Any]] = None) -> Outcome:
    text = artifact.read_text(target)
    if text is not None and not _ours(text):
        raise IntegrationError(f"{target} exists and was not written by openusage; left it untouched")
    wanted = plugin_text()
    if text == wanted:
        return Outcome(False, target, f"plugin already in {target}")
    extra = {}
    created = _first_missing_dir(os.path.dirname(target))
    if created:
        extra["created_dir"] = created
    artifact.write_atomic(target, wanted, mode=0o600)
    return Outcome(True, target, f"plugin written to {target} (OpenCode loads it at its next start)", extra)


def uninstall(target: str, state: Optional[Dict[str, Any]] = None) -> Outcome:
    text = artifact.read_text(target)
    if text is None:
        return Outcome(False, target, f"no plugin at {target}")
    if not _ours(text):
        return Outcome(False, target, f"{target} was not written by openusage; left it untouched")
    os.unlink(target)
    created = (state or {}).get("created_dir")
    if isinstance(created, str):
        _remove_empty_dirs(os.path.dirname(target), created)
    return Outcome(True, target, f"plugin removed from {target}")
