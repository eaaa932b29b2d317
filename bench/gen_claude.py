"""Generate a Claude Code config dir of realistic transcripts, for the parse benchmark and the
ccusage comparison.

python bench/gen_claude.py DIR [--mb 500] [--seed 1] [--days 30] [--tool-results]

Each session file holds user lines (with bulky text, like real prompts and tool results) and
assistant lines with usage; an assistant message is written as streaming copies (same message.id
and requestId, growing output_tokens), some sessions use several models, some have subagent files,
timestamps spread over the last DAYS days (so days cross midnight in every zone).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from datetime import datetime, timezone

MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001")
TOOLS = ("Read", "Edit", "Bash", "Grep", "mcp__github__search_code", "mcp__linear__create_issue")
FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor " * 40


def _ts(epoch: float) -> str:
    dt = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _line(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":")) + "\n"


def session_lines(rnd: random.Random, session: str, cwd: str, start: float, messages: int,
                  tool_results: bool = False):
    """The lines of one session file, and the (message key, final usage, model, time) of each message.

    tool_results: each tool call is answered by a user line carrying its output (1-24 KB, in the
    message and again in toolUseResult, as Claude Code writes it), the bulk of a real transcript.
    """
    lines = []
    truth = []
    t = start
    parent = None
    model = rnd.choice(MODELS)
    for _ in range(messages):
        if rnd.random() < 0.1:
            model = rnd.choice(MODELS)
        t += rnd.uniform(5, 240)
        user_id = str(uuid.UUID(int=rnd.getrandbits(128)))
        lines.append(_line({"parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": cwd,
                            "sessionId": session, "version": "2.0.14", "type": "user",
                            "message": {"role": "user", "content": FILLER[: rnd.randint(200, 3000)]},
                            "uuid": user_id, "timestamp": _ts(t)}))
        parent = user_id
        msg_id = "msg_01" + uuid.UUID(int=rnd.getrandbits(128)).hex[:22]
        req_id = "req_01" + uuid.UUID(int=rnd.getrandbits(128)).hex[:22]
        usage = {"input_tokens": rnd.randint(1, 40), "cache_creation_input_tokens": rnd.randint(0, 6000),
                 "cache_read_input_tokens": rnd.randint(0, 120000), "output_tokens": rnd.randint(20, 2500)}
        tool = rnd.choice(TOOLS) if rnd.random() < 0.5 else None
        copies = rnd.choice((1, 2, 3))
        for copy in range(copies):
            t += rnd.uniform(0.2, 3)
            final = copy == copies - 1
            shown = dict(usage, output_tokens=usage["output_tokens"] if final else rnd.randint(1, 10),
                         service_tier="standard")
            content = [{"type": "text", "text": FILLER[: rnd.randint(100, 1500)]}]
            tool_id = ""
            if tool and final:
                tool_id = "toolu_01" + uuid.UUID(int=rnd.getrandbits(128)).hex[:22]
                content.append({"type": "tool_use", "id": tool_id, "name": tool, "input": {"path": "/tmp/x"}})
            line_id = str(uuid.UUID(int=rnd.getrandbits(128)))
            lines.append(_line({"parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": cwd,
                                "sessionId": session, "version": "2.0.14", "type": "assistant",
                                "message": {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                                            "content": content, "stop_reason": "end_turn" if final else None,
                                            "usage": shown},
                                "requestId": req_id, "uuid": line_id, "timestamp": _ts(t)}))
            parent = line_id
            if tool and final and tool_results:
                output = (FILLER * 8)[: rnd.randint(1024, 24 * 1024)]
                result_id = str(uuid.UUID(int=rnd.getrandbits(128)))
                lines.append(_line({"parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": cwd,
                                    "sessionId": session, "version": "2.0.14", "type": "user",
                                    "message": {"role": "user", "content": [
                                        {"type": "tool_result", "tool_use_id": tool_id, "content": output}]},
                                    "toolUseResult": {"stdout": output, "stderr": "", "interrupted": False},
                                    "uuid": result_id, "timestamp": _ts(t + 0.5)}))
                parent = result_id
        truth.append((f"{msg_id}:{req_id}", usage, model, t))
    return lines, truth


def generate(root: str, megabytes: float, seed: int = 1, days: int = 30, now: float = None,
             tool_results: bool = False) -> dict:
    """Write transcripts under root/projects until about `megabytes` are written; a summary."""
    rnd = random.Random(seed)
    now = time.time() if now is None else now
    target = megabytes * 1024 * 1024
    written = 0
    files = messages = 0
    projects = [f"/home/dev/src/{name}" for name in ("web-app", "api-server", "cli-tool", "infra", "docs-site")]
    while written < target:
        cwd = rnd.choice(projects)
        folder = os.path.join(root, "projects", cwd.replace("/", "-"))
        os.makedirs(folder, exist_ok=True)
        session = str(uuid.UUID(int=rnd.getrandbits(128)))
        start = now - rnd.uniform(0, days * 86400) - 3600
        lines, truth = session_lines(rnd, session, cwd, start, rnd.randint(5, 120), tool_results)
        path = os.path.join(folder, f"{session}.jsonl")
        with open(path, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
        last = truth[-1][3] if truth else start
        os.utime(path, (last, last))  # like a real transcript: last modified at its last message
        written += sum(len(line) for line in lines)
        files += 1
        messages += len(truth)
        if rnd.random() < 0.15:
            sub = os.path.join(folder, session, "subagents")
            os.makedirs(sub, exist_ok=True)
            sub_lines, sub_truth = session_lines(rnd, session, cwd, start + 60, rnd.randint(3, 20), tool_results)
            sub_lines = [line.replace('"isSidechain":false', '"isSidechain":true') for line in sub_lines]
            sub_path = os.path.join(sub, f"agent-{rnd.getrandbits(32):08x}.jsonl")
            with open(sub_path, "w", encoding="utf-8") as fh:
                fh.writelines(sub_lines)
            sub_last = min(sub_truth[-1][3], now) if sub_truth else start
            os.utime(sub_path, (sub_last, sub_last))
            written += sum(len(line) for line in sub_lines)
            files += 1
            messages += len(sub_truth)
    return {"bytes": written, "files": files, "messages": messages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir")
    parser.add_argument("--mb", type=float, default=500.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--tool-results", action="store_true", help="answer tool calls with their output")
    args = parser.parse_args()
    started = time.time()
    summary = generate(args.dir, args.mb, args.seed, args.days, tool_results=args.tool_results)
    print(json.dumps(dict(summary, seconds=round(time.time() - started, 1))))


if __name__ == "__main__":
    main()
