"""Mux (coder/mux, the coding agent multiplexer): usage read from each workspace's chat history.

Format facts (coder/mux: src/common/constants/paths.ts, src/node/services/historyService.ts,
sessionUsageService.ts, analytics/etl.ts, src/common/types/message.ts, common/utils/tokens/*): the root
is $MUX_ROOT, else `~/.mux` (Mux moves a pre-rebrand `~/.cmux` there at start; `~/.cmux` itself is not
read, another tool, manaflow's cmux terminal, goes by that name). Each workspace has
`sessions/<workspace id>/` (config.json's {"projects": [[project path, {"workspaces": [{id, name,
path}]}]]} says whose project it is), holding `chat.jsonl` (the active epoch: one message per line,
rewritten whole at every stream end), `chat-archive.jsonl` (older epochs moved out of chat.jsonl when a
compaction boundary lands; full history = archive + chat), `metadata.json` ({projectPath, projectName,
name, parentWorkspaceId}: older workspaces and archived sub-agents), `headless-usage.jsonl` (usage of
calls that make no chat row: title/status generation, memory sweeps, dropped aborted turns) and
`subagent-transcripts/<child id>/` (a finished sub-agent's session dir, archived into its parent's).

What is counted: every assistant message {id, role, metadata {model "<provider>:<model>", timestamp
(epoch ms), usage, providerMetadata, toolModelUsages, costsIncluded}} under its message id (Mux's stream
manager makes it once per stream from the time and a random part). The key names no workspace on
purpose: one message is found in chat.jsonl, in the archive after a rotation, in a parent's
subagent-transcripts copy, and in every fork of its workspace (Mux copies the chat files into a fork
verbatim and resets only the fork's ledger), and it is counted once. Each of its toolModelUsages (models
a tool called) is "<message id>:tool<n>", and each headless-usage.jsonl line {timestamp, source, model,
usage, providerMetadata} "headless:<timestamp>:<source>:<model>". Mux keeps the two disjoint: a turn's
usage is on exactly one of its chat row and a sidecar line. The session is the workspace the copy was
first read in.

Not read: session-usage.json. It is Mux's cumulative ledger per workspace and model (byModel, dated
only by lastRequest.timestamp) and sums the very messages above, so reading it too would count them
twice; when a sub-agent workspace is deleted its totals are added to its parent's ledger (a
ledger-per-workspace count would count the child a second time), and a fork's ledger starts empty
while its chat holds the copied history. The chat files carry each request with its own time, model
and id. What only the ledger knows is left out, by design: usage of messages a compaction removed
before Mux kept chat-archive.jsonl (a legacy compaction summary's `historicalUsage`).

Token meanings (`usage` is the AI SDK's flat V2 shape, as Mux persists it): fresh input =
inputTokens - cachedInputTokens - providerMetadata.anthropic.cacheCreationInputTokens, floored at 0
(Mux's own createDisplayUsage: since AI SDK 6 inputTokens includes the cache for every provider; an
older Anthropic row, whose input left the cache out, is under-counted by up to its cache tokens, the
same as in Mux's own Costs tab and analytics);
cache read = cachedInputTokens; cache write = that cacheCreationInputTokens; outputTokens includes
reasoningTokens (Mux shows output minus reasoning beside reasoning). The chat rows carry no cost:
the price table prices them. A request a subscription covers (metadata.costsIncluded,
providerMetadata.mux.costsIncluded), which Mux shows at $0, is priced from the table too, as every
agent's subscription use is (the API price of what was used; a $0 would read as a missing price);
its raw record says `costs_included`.
The model is the key after its first ":" (the provider is routing, not the model's name).
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import Skip, Usage, count, number, project_name, text
from openusage.agents.roots import EnvRoot, Roots
from openusage.agents.sources import JsonlSource
from openusage.core.timeutil import parse_rfc3339

PROVIDER_ID = "mux"
_JSON_MAX = 4 * 1024 * 1024
_ARCHIVED = "subagent-transcripts"
_CONFIG: Dict[str, Any] = {}  # config.json path -> ((inode, size, mtime), its workspace projects)


def model_name(key: Any) -> Optional[str]:
    """The model of a Mux model key: what follows the first ":" ("anthropic:claude-x" -> "claude-x")."""
    key = text(key)
    if key is None:
        return None
    return text(key.split(":", 1)[1].strip() if ":" in key else key.strip())


def tokens(usage: Dict[str, Any], provider_metadata: Any) -> Dict[str, int]:
    """openusage's counts of one persisted AI SDK usage (fresh input, output with reasoning inside)."""
    meta = provider_metadata if isinstance(provider_metadata, dict) else {}
    anthropic = meta.get("anthropic") if isinstance(meta.get("anthropic"), dict) else {}
    openai = meta.get("openai") if isinstance(meta.get("openai"), dict) else {}
    cached, cache_write = count(usage.get("cachedInputTokens")), count(anthropic.get("cacheCreationInputTokens"))
    reasoning = count(usage.get("reasoningTokens") if usage.get("reasoningTokens") is not None
                      else openai.get("reasoningTokens"))
    output = max(count(usage.get("outputTokens")), reasoning)
    return {"input_tokens": max(count(usage.get("inputTokens")) - cached - cache_write, 0), "output_tokens": output,
            "cache_read_tokens": cached, "cache_write_tokens": cache_write, "reasoning_tokens": reasoning}


def workspace(found: Found) -> str:
    """The workspace id of a session file: the name of the folder it is in."""
    return found.parts[-1] if found.parts else found.stem


def project(found: Found, ctx: Dict[str, Any]) -> Optional[str]:
    """The workspace's project: config.json's, else its metadata.json's; an archived sub-agent's, else its
    parent's (read once per file and kept in its carry-over)."""
    if "project" not in ctx:
        folder = os.path.dirname(found.path)
        owners = [(workspace(found), folder)]
        if len(found.parts) >= 4 and found.parts[-2] == _ARCHIVED:
            owners.append((found.parts[-3], os.path.dirname(os.path.dirname(folder))))
        listed = _config_projects(found.root)
        name = None
        for wid, where in owners:
            name = listed.get(wid) or _metadata_project(where)
            if name:
                break
        ctx["project"] = name or ""
    return ctx["project"] or None


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.loads(fh.read(_JSON_MAX))
    except (OSError, ValueError):
        return None


def _config_projects(root: str) -> Dict[str, str]:
    """Workspace id -> project name, from config.json {"projects": [[path, {"workspaces": [{id}]}]]}.

    Parsed once while the file stays the same (a first read meets it once per session file)."""
    path = os.path.join(root, "config.json")
    try:
        st = os.stat(path)
    except OSError:
        return {}
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    cached = _CONFIG.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    projects = _workspace_projects(_read_json(path))
    _CONFIG[path] = (stamp, projects)
    return projects


def _workspace_projects(config: Any) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for entry in (config.get("projects") or ()) if isinstance(config, dict) else ():
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], dict)):
            continue
        name = project_name(entry[0])
        for ws in entry[1].get("workspaces") or ():
            wid = text(ws.get("id")) if isinstance(ws, dict) else None
            if wid and name:
                out[wid] = name
    return out


def _metadata_project(folder: str) -> Optional[str]:
    meta = _read_json(os.path.join(folder, "metadata.json"))
    if not isinstance(meta, dict):
        return None
    return text(meta.get("projectName")) or project_name(meta.get("projectPath"))


def _when(value: Any, fallback: Any = None) -> Optional[float]:
    ms = number(value)
    if ms is not None and ms > 0:
        return ms / 1000.0
    return parse_rfc3339(fallback) if isinstance(fallback, str) else None


def _included(metadata: Dict[str, Any], provider_metadata: Any) -> bool:
    mux = provider_metadata.get("mux") if isinstance(provider_metadata, dict) else None
    return metadata.get("costsIncluded") is True or (isinstance(mux, dict) and mux.get("costsIncluded") is True)


def _usage(at: float, key: str, raw_model: Any, usage: Any, provider_metadata: Any, included: bool, sid: str,
           where: Optional[str], raw: Dict[str, Any]) -> Optional[Usage]:
    if not isinstance(usage, dict):
        return None
    counts = tokens(usage, provider_metadata)
    if not any(counts.values()):
        return None
    model = model_name(raw_model)
    if included:
        raw = dict(raw, costs_included=True)
    return Usage(at, key, model, session_id=sid, project=where, raw=dict(raw, session=sid, model=text(raw_model)),
                 **counts)


def parse_message(obj: Dict[str, Any], ctx: Dict[str, Any], found: Found) -> List[Any]:
    """The usage of one chat line: an assistant message's own and that of the models its tools called."""
    metadata, mid = obj.get("metadata"), text(obj.get("id"))
    if obj.get("role") != "assistant" or not isinstance(metadata, dict) or mid is None:
        return []
    tools = metadata.get("toolModelUsages")
    if not isinstance(metadata.get("usage"), dict) and not isinstance(tools, list):
        return []
    at = _when(metadata.get("timestamp"), obj.get("createdAt"))
    if at is None:
        raise Skip("bad_timestamp")
    sid, where = workspace(found), project(found, ctx)
    included = _included(metadata, metadata.get("providerMetadata"))
    out = [_usage(at, mid, metadata.get("model"), metadata.get("usage"), metadata.get("providerMetadata"),
                  included, sid, where, {"id": mid})]
    for n, tool in enumerate(tools if isinstance(tools, list) else ()):
        if isinstance(tool, dict):
            out.append(_usage(at, f"{mid}:tool{n}", tool.get("model"), tool.get("usage"),
                              tool.get("providerMetadata"), included, sid, where, {"id": mid, "tool_usage": n}))
    return [u for u in out if u is not None]


def parse_headless(obj: Dict[str, Any], ctx: Dict[str, Any], found: Found) -> List[Any]:
    """The usage of one headless-usage.jsonl line (a call that made no chat row)."""
    if not isinstance(obj.get("usage"), dict):
        return []
    stamp = number(obj.get("timestamp"))
    if stamp is None or stamp <= 0:
        raise Skip("bad_timestamp")
    sid, source = workspace(found), text(obj.get("source")) or "headless"
    key = f"headless:{int(stamp)}:{source}:{text(obj.get('model')) or ''}"
    record = _usage(stamp / 1000.0, key, obj.get("model"), obj["usage"],
                    obj.get("providerMetadata"), _included(obj, obj.get("providerMetadata")), sid,
                    project(found, ctx), {"source": source})
    return [record] if record is not None else []


_MARKERS = (b'"assistant"',)


class MuxProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Mux"
    roots = Roots(defaults=("~/.mux",), env=(EnvRoot("MUX_ROOT", many=False),))
    markers = ("sessions",)
    nothing = "no Mux sessions found"
    sources = tuple(
        JsonlSource(folder + name, parse, markers=markers)
        for folder in ("sessions/*/", f"sessions/*/{_ARCHIVED}/*/")
        for name, parse, markers in (("chat-archive.jsonl", parse_message, _MARKERS),
                                     ("chat.jsonl", parse_message, _MARKERS),
                                     ("headless-usage.jsonl", parse_headless, (b'"usage"',)))
    )
