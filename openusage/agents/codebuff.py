"""Codebuff (formerly Manicode): usage read from the chat files its CLI writes.

Format facts (CodebuffAI/codebuff cli/src/utils/config-dir.ts, cli/src/project-files.ts,
cli/src/utils/run-state-storage.ts, cli/src/types/chat.ts; the readers of ryoppippi/ccusage
apps/codebuff and junhoyeo/tokscale sessions/codebuff.rs for the usage shapes): the CLI keeps its data
in `~/.config/manicode` (`manicode-dev`, `manicode-staging` on the other release channels: the home's
`.config`, not $XDG_CONFIG_HOME). A chat is `projects/<basename of the project dir>/chats/<chatId>/
chat-messages.json`, the chatId being the chat's start as ISO 8601 with every `:` replaced by `-`
(`2026-11-30T09-15-00.000Z`). The file is a JSON array of ChatMessage {id, variant ("user", "ai",
"agent", "error"), timestamp, credits, metadata, blocks}, written over whole (not renamed into place)
each time the chat is saved.

Usage of an assistant message (`variant` "ai"/"agent" or `role` "assistant") is the first of these
that counts tokens, taken whole (two shapes are never mixed): `metadata.usage`,
`metadata.codebuff.usage`, the last assistant entry of the turn (after its last user entry) in
`metadata.runState.sessionState.mainAgentState.messageHistory` with `providerOptions.usage` or
`providerOptions.codebuff.usage` (the same request seen again in a later message's run state is
not counted again). Field names come camelCase and snake_case. Input: Anthropic-named
`inputTokens`/`input_tokens` is fresh input (cache reads `cacheReadInputTokens` and writes
`cacheCreationInputTokens` are apart, as both other readers add them); OpenAI/OpenRouter-named
`promptTokens`/`prompt_tokens` is the whole prompt, its cached part in
`prompt(_)tokens_details.cached(_)tokens`, so fresh = prompt - cached. `cachedTokensCreated` is a
cache write (ccusage; tokscale reads it as a cache read). The model is `metadata.model` (or `modelId`,
`codebuff.model`), else the usage object's or `providerOptions.codebuff.model`; none is unpriced.

`credits` are Codebuff's credits, not money: kept in raw only, the price table prices every request.
A message's time is its own `timestamp`/`createdAt`/`metadata.timestamp` when that is a date (ISO or
epoch ms); the CLI writes a clock time ("10:42 AM") there, so next comes the epoch ms its ids carry
(`ai-<ms>-<hex>`, cli/src/utils/send-message-helpers.ts), then the chatId's time. Keys are
"<chatId>:<message id>", so a rewritten chat grows its messages and never counts one twice; a message
without an id (the CLI always writes one) is keyed by the store's fingerprint of its time and counts.
Tool blocks {toolCallId, toolName} (nested in agent blocks too) are the chat's tool calls.
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import Skip, ToolCall, Usage, count, moment, number, text
from openusage.agents.roots import EnvRoot, Roots
from openusage.agents.sources import JsonSource
from openusage.core.timeutil import parse_rfc3339

PROVIDER_ID = "codebuff"
ASSISTANT = ("ai", "agent", "assistant")

_INPUT = ("inputTokens", "input_tokens")
_PROMPT = ("promptTokens", "prompt_tokens")
_OUTPUT = ("outputTokens", "output_tokens", "completionTokens", "completion_tokens")
_CACHE_READ = ("cacheReadInputTokens", "cache_read_input_tokens")
_CACHE_WRITE = ("cacheCreationInputTokens", "cache_creation_input_tokens", "cacheCreationTokens",
                "cache_creation_tokens", "cachedTokensCreated", "cached_tokens_created")
_DETAILS = (("promptTokensDetails", "cachedTokens"), ("prompt_tokens_details", "cached_tokens"))
_CHAT_ID = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2})-(\d{2})-(\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?))$")
_ID_MS = re.compile(r"[a-z]+-(\d{13})(?:-|$)")

Tokens = Tuple[int, int, int, int]  # fresh input, output, cache read, cache write


def _first(obj: Dict[str, Any], names: Tuple[str, ...]) -> int:
    for name in names:
        found = count(obj.get(name))
        if found:
            return found
    return 0


def tokens(usage: Any) -> Optional[Tokens]:
    """(fresh input, output, cache read, cache write) of one usage object; None when it counts nothing."""
    if not isinstance(usage, dict):
        return None
    cached = 0
    for outer, inner in _DETAILS:
        details = usage.get(outer)
        if isinstance(details, dict) and count(details.get(inner)):
            cached = count(details.get(inner))
            break
    cache_read = _first(usage, _CACHE_READ) or cached
    fresh = _first(usage, _INPUT)
    if not fresh:
        fresh = max(_first(usage, _PROMPT) - cache_read, 0)  # a prompt count includes its cached part
    out = (fresh, _first(usage, _OUTPUT), cache_read, _first(usage, _CACHE_WRITE))
    return out if any(out) else None


def _usage_of(metadata: Dict[str, Any]) -> Optional[Tuple[str, Tokens, Optional[str]]]:
    """(where, tokens, model named beside them) of the first place of a message's metadata that counts tokens."""
    codebuff = metadata.get("codebuff") if isinstance(metadata.get("codebuff"), dict) else {}
    for where, usage in (("metadata.usage", metadata.get("usage")), ("metadata.codebuff.usage", codebuff.get("usage"))):
        found = tokens(usage)
        if found is not None:
            return where, found, text(usage.get("model"))
    run = metadata.get("runState")
    for key in ("sessionState", "mainAgentState", "messageHistory"):
        run = run.get(key) if isinstance(run, dict) else None
    for entry in reversed(run) if isinstance(run, list) else ():
        if isinstance(entry, dict) and entry.get("role") == "user":
            break  # the turn's start: an earlier turn's request is an earlier message's
        options = entry.get("providerOptions") if isinstance(entry, dict) and entry.get("role") == "assistant" else None
        if not isinstance(options, dict):
            continue
        routed = options.get("codebuff") if isinstance(options.get("codebuff"), dict) else {}
        for usage in (options.get("usage"), routed.get("usage")):
            found = tokens(usage)
            if found is not None:
                return "runState", found, text(usage.get("model")) or text(routed.get("model"))
    return None


def chat_started(chat_id: str) -> Optional[float]:
    """The time a chatId names ("2026-11-30T09-15-00.000Z": the `:` of the time part are `-`)."""
    match = _CHAT_ID.fullmatch(chat_id)
    return parse_rfc3339(":".join(match.groups())) if match else None


def message_time(message: Dict[str, Any], started: Optional[float]) -> Optional[float]:
    """The message's own date, else the epoch ms of its id, else the chat's start."""
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    for value in (message.get("timestamp"), message.get("createdAt"), metadata.get("timestamp")):
        found = moment(value)
        if found is not None:
            return found
    match = _ID_MS.match(message["id"]) if text(message.get("id")) else None
    return int(match.group(1)) / 1000.0 if match else started


def parse_chat_file(doc: Any, found: Found) -> List[Any]:
    project = found.parts[1] if len(found.parts) == 4 else None
    chat = found.parts[-1] if found.parts else found.stem
    return parse_chat(doc, chat, project, os.path.basename(found.root.rstrip("/\\")) or None)


def parse_chat(doc: Any, chat: str, project: Optional[str], channel: Optional[str] = None) -> List[Any]:
    """The usage of every assistant message of one chat and its tool calls (a Skip per message with no time)."""
    if not isinstance(doc, list):
        return []
    started = chat_started(chat)
    out: List[Any] = []
    from_runs = set()  # (the run's model, tokens) taken from a run state: another message's copy is not counted
    for message in doc:
        if not isinstance(message, dict) or (message.get("variant") or message.get("role")) not in ASSISTANT:
            continue
        metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
        counted = _usage_of(metadata)
        calls = list(_tool_blocks(message.get("blocks")))
        if counted is None and not calls:
            continue
        at = message_time(message, started)
        if at is None:
            out.append(Skip("bad_timestamp"))
            continue
        mid = text(message.get("id"))
        codebuff = metadata.get("codebuff") if isinstance(metadata.get("codebuff"), dict) else {}
        model = text(metadata.get("model")) or text(metadata.get("modelId")) or text(codebuff.get("model"))
        model = model or (counted[2] if counted is not None else None)
        for call_id, name in calls:
            out.append(ToolCall(at, f"{chat}:{call_id}", name, session_id=chat, model=model, project=project))
        if counted is None:
            continue
        where, found, named = counted
        if where == "runState":
            if (named, found) in from_runs:
                continue
            from_runs.add((named, found))
        fresh, output, cache_read, cache_write = found
        out.append(Usage(
            at, f"{chat}:{mid}" if mid else None, model, input_tokens=fresh, output_tokens=output,
            cache_read_tokens=cache_read, cache_write_tokens=cache_write, session_id=chat, project=project,
            raw={"chat": chat, "id": mid, "channel": channel, "model": model, "usage_from": where,
                 "tokens": [fresh, output, cache_read, cache_write],
                 # credits come once a message completes: an id-less message's raw (its key) leaves them out
                 "credits": number(message.get("credits")) if mid else None},
        ))
    return out


def _tool_blocks(blocks: Any) -> Iterator[Tuple[str, str]]:
    """(toolCallId, toolName) of the tool blocks of a message, agent blocks' nested blocks included."""
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool":
            call_id, name = text(block.get("toolCallId")), text(block.get("toolName"))
            if call_id and name:
                yield call_id, name
        elif block.get("type") == "agent":
            yield from _tool_blocks(block.get("blocks"))


class CodebuffProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Codebuff"
    roots = Roots(defaults=("~/.config/manicode", "~/.config/manicode-dev", "~/.config/manicode-staging"),
                  env=(EnvRoot("CODEBUFF_DATA_DIR"),))
    markers = ("projects",)
    nothing = "no Codebuff chats found"
    sources = (JsonSource("projects/*/chats/*/chat-messages.json", parse_chat_file),)
