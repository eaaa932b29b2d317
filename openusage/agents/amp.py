"""Amp (Sourcegraph's ampcode): usage read from its thread files.

Format facts (Amp is closed source: as other trackers' Amp readers read its files): threads are
`<data dir>/threads/T-<uuid>.json`, the data dir being $AMP_DATA_DIR, else `$XDG_DATA_HOME/amp`
(`~/.local/share/amp`; macOS `~/Library/Application Support/amp`). A thread is one JSON document
Amp rewrites as the conversation goes on: {id, created (epoch ms), messages[], usageLedger}. An
assistant message carries `usage` {model, inputTokens, outputTokens, cacheCreationInputTokens,
cacheReadInputTokens, timestamp} (Anthropic style: input is fresh) and `tool_use` content blocks
{id, name}; its `messageId` is its number in the thread; a message still streaming has no usage yet.
`usageLedger.events[]` {id, timestamp, model, credits, tokens {input, output}, toMessageId} is the
older record of the same requests (the only one before Amp wrote `messages[].usage`), its
`tokens.input` being the whole prompt (fresh + cache reads + cache writes). An event and a message of
the same id are one request: the message's split stands, and where the ledger counts more input or
output the excess is added (as fresh input, output), so neither copy is undercounted and nothing is
counted twice. A request only the ledger knows is booked with its whole input as fresh input.
Credits are Amp's unit, not money: the price table prices every request.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from openusage.agents.base import AgentProvider
from openusage.agents.files import Found
from openusage.agents.records import ToolCall, Usage, count, moment, number, text
from openusage.agents.roots import EnvRoot, Roots
from openusage.agents.sources import JsonSource

PROVIDER_ID = "amp"


def parse_thread(doc: Any, found: Found) -> List[Any]:
    """Every request of one thread (messages and ledger merged by message id) and its tool calls."""
    if not isinstance(doc, dict) or not text(doc.get("id")):
        return []
    thread = doc["id"]
    created = moment(doc.get("created"))
    requests: Dict[str, Dict[str, Any]] = {}
    out: List[Any] = []
    for message in doc.get("messages") or ():
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        mid, usage = message.get("messageId"), message.get("usage")
        at = (moment(usage.get("timestamp")) if isinstance(usage, dict) else None) or created
        if at is None:
            continue
        if isinstance(usage, dict) and mid is not None:
            requests[str(mid)] = {"at": at, "model": text(usage.get("model")),
                                  "input": count(usage.get("inputTokens")), "output": count(usage.get("outputTokens")),
                                  "cache_read": count(usage.get("cacheReadInputTokens")),
                                  "cache_write": count(usage.get("cacheCreationInputTokens")), "credits": None}
        for block in message.get("content") or ():
            if isinstance(block, dict) and block.get("type") == "tool_use":
                call_id, name = text(block.get("id")), text(block.get("name"))
                if call_id and name:
                    out.append(ToolCall(at, call_id, name, session_id=thread))
    ledger = doc.get("usageLedger")
    for event in (ledger.get("events") or ()) if isinstance(ledger, dict) else ():
        if not isinstance(event, dict) or event.get("toMessageId") is None:
            continue
        at = moment(event.get("timestamp")) or created
        tokens = event.get("tokens") if isinstance(event.get("tokens"), dict) else {}
        if at is not None:
            _merge_ledger(requests, str(event["toMessageId"]), at, text(event.get("model")),
                          count(tokens.get("input")), count(tokens.get("output")), number(event.get("credits")))
    for mid, r in requests.items():
        out.append(Usage(r["at"], f"{thread}:{mid}", r["model"], input_tokens=r["input"], output_tokens=r["output"],
                         cache_read_tokens=r["cache_read"], cache_write_tokens=r["cache_write"], session_id=thread,
                         raw={"thread": thread, "messageId": mid, "model": r["model"], "credits": r["credits"]}))
    return out


def _merge_ledger(requests: Dict[str, Dict[str, Any]], mid: str, at: float, model: Optional[str], whole_input: int,
                  output: int, credits: Optional[float]) -> None:
    r = requests.get(mid)
    if r is None:
        requests[mid] = {"at": at, "model": model, "input": whole_input, "output": output, "cache_read": 0,
                         "cache_write": 0, "credits": credits}
        return
    r["model"] = r["model"] or model
    r["input"] += max(whole_input - (r["input"] + r["cache_read"] + r["cache_write"]), 0)
    r["output"] = max(r["output"], output)
    r["credits"] = credits


class AmpProvider(AgentProvider):
    id = PROVIDER_ID
    name = "Amp"
    roots = Roots(defaults=("$XDG_DATA_HOME/amp",), darwin=("~/Library/Application Support/amp",),
                  env=(EnvRoot("AMP_DATA_DIR"),))
    markers = ("threads",)
    nothing = "no Amp threads found"
    sources = (JsonSource("threads/*.json", parse_thread),)
