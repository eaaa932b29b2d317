"""Gemini CLI: usage and tool calls read from the chat recordings Gemini CLI writes.

Recordings are `<root>/<project>/chats/session-*.jsonl` (append-only), subagent sessions
`<root>/<project>/chats/<parentSessionId>/<sessionId>.jsonl`, and legacy whole-file
`<root>/<project>/chats/session-*.json`; roots are the entries of GEMINI_DATA_DIR, else
`$GEMINI_CLI_HOME/.gemini/tmp` or `~/.gemini/tmp` (FORMATS-REFERENCE.md section D). `<project>` is
a short slug from `~/.gemini/projects.json` or, before the migration, the sha256 of the project root.

Counting rules. A gemini message is appended again every time it changes (tokens, tool calls); the
last record of an id wins, and a record whose `tokens` is null never cancels tokens already read.
Gemini CLI fills `tokens` once and never rewrites them, so the first record carrying tokens is final
in practice: it becomes the message_usage event, keyed `<sessionId>:<id>` (a legacy `.json` and its
`.jsonl` continuation share the keys). Should a later record of the id still carry other numbers, a
correction event keyed `<sessionId>:<id>#r<n>` (the n-th change, in file order) adds the signed
difference, so the stored sum equals the last record's numbers. Keys and numbers depend only on the
file's content, never on where a poll stopped, so a file read again from the start (a cleared cache,
a replaced file) yields the same events and the store keeps one of each. A legacy `.json` holds only
the current copy of each message: a changed one is emitted again under its key (the store keeps the
larger copy). A `$set` checkpoint replaces the CLI's message list but repeats the same ids and
tokens, so its messages are read like appended records; a `$rewindTo` removes messages from the
conversation, but their tokens were spent and stay counted.

Token mapping (API usageMetadata): `input` (promptTokenCount) includes `cached`; `tool`
(toolUsePromptTokenCount, results of built-in tools fed back to the model) is NOT part of the prompt
count (totalTokenCount = prompt + candidates + tool + thoughts) and is billed as input; `thoughts` are
billed as output. So input = input - cached + tool, cache_read = cached, output = output + thoughts,
reasoning = thoughts, and input + cache_read + output equals the recorded `total`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from openusage.agents import tail
from openusage.core import pricing
from openusage.core.events import UsageEvent, split_mcp_tool
from openusage.core.snapshot import UsageSnapshot
from openusage.core.timeutil import parse_rfc3339
from openusage.providers import quota_common, quota_gemini
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, local_snapshot

PROVIDER_ID = "gemini_cli"
ENV_HOME = "GEMINI_CLI_HOME"
ENV_DATA_DIR = "GEMINI_DATA_DIR"
# A file untouched this long drops its per-message carry-over from the state; should it ever change
# again it is read from the start (the store drops the events it already holds).
COLD_AFTER_SECONDS = 2 * 86400
MAX_LEGACY_BYTES = 256 * 1024 * 1024

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Only lines holding one of these can matter; user and info records are never decoded.
_MARKERS = (b"gemini", b"$set", b"sessionId", b"$rewindTo")


class GeminiCLIProvider(Provider):
    id = PROVIDER_ID
    name = "Gemini CLI"
    source_modes = ("local",)
    env_vars = (ENV_HOME, ENV_DATA_DIR)
    poll_cost = "free: local logs, and the plan's usage endpoint at most once a minute"
    default_interval = 30.0
    emits_events = True
    widgets = {
        "figures": ["spend.total", "tokens.total", "tool_calls"],
        "gauges": ["pro", "flash"],
        "sections": ["models", "tools", "projects", "sessions"],
    }

    # --- detection --------------------------------------------------------------------------

    def detect(self, env: Dict[str, str], home: str,
               which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        """One account when a GEMINI_DATA_DIR entry or the Gemini CLI directory exists."""
        candidates = _data_dirs(env.get(ENV_DATA_DIR), home) + [gemini_dir(env.get, home)]
        for path in candidates:
            if os.path.isdir(path):
                return [AccountConfig(id=PROVIDER_ID, provider=PROVIDER_ID, detected_by=path)]
        return []

    # --- fetch ------------------------------------------------------------------------------

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        """A snapshot plus a lazy stream of events; the stream fills in the snapshot's counters."""
        roots = gemini_roots(ctx.env.get, ctx.fs.home)
        snapshot = local_snapshot(self, account, {"roots": roots}, roots, "no Gemini CLI chats found")
        if snapshot.status != "OK":
            return FetchResult(snapshot=snapshot, events=[])
        events = Collector(account.id, ctx.state, ctx.now, ctx.log).run(roots, snapshot)
        # The live plan quotas (quota_gemini) go on once the chats are read.
        events = quota_common.finish_with(events, lambda: quota_gemini.apply(snapshot, account, ctx))
        return FetchResult(snapshot=snapshot, events=events)  # type: ignore[arg-type]


# --- roots and files ---------------------------------------------------------------------------


def _expand(entry: str, home: str) -> str:
    if entry == "~" or entry.startswith("~/"):
        entry = os.path.join(home, entry[2:])
    return os.path.normpath(entry)


def _data_dirs(configured: Optional[str], home: str) -> List[str]:
    if not configured:
        return []
    out: List[str] = []
    for entry in configured.split(","):
        if entry.strip():
            path = _expand(entry.strip(), home)
            if path not in out:
                out.append(path)
    return out


def gemini_dir(env_get: Callable[[str], Optional[str]], home: str) -> str:
    """Gemini CLI's own directory: $GEMINI_CLI_HOME/.gemini, else ~/.gemini."""
    base = env_get(ENV_HOME)
    return os.path.join(_expand(base, home) if base else home, ".gemini")


def gemini_roots(env_get: Callable[[str], Optional[str]], home: str) -> List[str]:
    """The tmp directories holding per-project chats: GEMINI_DATA_DIR entries, else <gemini dir>/tmp."""
    return _data_dirs(env_get(ENV_DATA_DIR), home) or [os.path.join(gemini_dir(env_get, home), "tmp")]


@dataclass(frozen=True)
class ChatFile:
    path: str
    root: str
    project_dir: str  # the slug or hash folder under the root
    legacy: bool  # a whole-file .json recording
    parent_session: Optional[str] = None  # for subagent files: the folder named after the parent session


def iter_chat_files(roots: List[str]) -> Iterator[ChatFile]:
    """Every recording under the roots; a legacy .json whose .jsonl continuation exists is left out."""
    seen_roots = set()
    for root in roots:
        real = os.path.realpath(root)
        if real in seen_roots or not os.path.isdir(root):
            continue
        seen_roots.add(real)
        for project in _sorted_entries(root):
            chats = os.path.join(root, project, "chats")
            if os.path.isdir(chats):
                yield from _chats(root, project, chats)


def _chats(root: str, project: str, chats: str) -> Iterator[ChatFile]:
    names = _sorted_entries(chats)
    present = set(names)
    for name in names:
        path = os.path.join(chats, name)
        if name.endswith(".jsonl"):
            if os.path.isfile(path):
                yield ChatFile(path, root, project, False)
        elif name.endswith(".json"):
            # Resuming a legacy session copies it whole into `<name>l` and never writes the .json again.
            if name + "l" not in present and os.path.isfile(path):
                yield ChatFile(path, root, project, True)
        elif os.path.isdir(path):
            for sub in _sorted_entries(path):
                sub_path = os.path.join(path, sub)
                if sub.endswith(".jsonl") and os.path.isfile(sub_path):
                    yield ChatFile(sub_path, root, project, False, parent_session=name)


def _sorted_entries(path: str) -> List[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


# --- project names -------------------------------------------------------------------------------


def project_from_root(path: str) -> str:
    """The project name of a project root: its last path component (as the hook path names cwd)."""
    return os.path.basename(path.rstrip("/\\")) or path


class ProjectNames:
    """Maps a project folder (slug or legacy hash) back to a project name where Gemini CLI says whose it is.

    Sources: the registry `<gemini dir>/projects.json` ({"projects": {root: slug}}), from which the
    legacy sha256 names are recomputed, and the `.project_root` marker each slug folder holds.
    """

    def __init__(self, roots: List[str]):
        self._names: Dict[str, str] = {}
        self._markers: Dict[str, Optional[str]] = {}
        for root in roots:
            self._load_registry(os.path.join(os.path.dirname(root), "projects.json"))

    def _load_registry(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.loads(fh.read(4 * 1024 * 1024))
        except (OSError, ValueError):
            return
        projects = data.get("projects") if isinstance(data, dict) else None
        if not isinstance(projects, dict):
            return
        for root_path, slug in projects.items():
            if not isinstance(root_path, str) or not root_path:
                continue
            name = project_from_root(root_path)
            if isinstance(slug, str) and slug:
                self._names.setdefault(slug, name)
            self._names.setdefault(hashlib.sha256(root_path.encode("utf-8")).hexdigest(), name)

    def name(self, root: str, project_dir: str, project_hash: Optional[str] = None) -> str:
        known = self._names.get(project_dir) or self._marker(root, project_dir)
        if known:
            return known
        if project_hash and project_hash in self._names:
            return self._names[project_hash]
        # An unmapped legacy hash tells nothing; a short stable prefix keeps tables readable.
        return project_dir[:12] if _HEX64.match(project_dir) else project_dir

    def _marker(self, root: str, project_dir: str) -> Optional[str]:
        key = os.path.join(root, project_dir)
        if key not in self._markers:
            try:
                with open(os.path.join(key, ".project_root"), encoding="utf-8") as fh:
                    owner = fh.read(4096).strip()
            except (OSError, UnicodeDecodeError):
                owner = ""
            self._markers[key] = project_from_root(owner) if owner else None
        return self._markers[key]


# --- collecting ----------------------------------------------------------------------------------


@dataclass
class Counters(tail.ReadCounters):
    messages: int = 0
    corrections: int = 0
    tool_calls: int = 0
    checkpoints: int = 0
    rewinds: int = 0


@dataclass
class Scope:
    """Who one file's events belong to."""

    sid: str  # the file's own session id (message keys are scoped by it)
    session_id: str  # the session the usage is booked to: the parent's for a subagent
    project: str
    subagent: bool


class Collector:
    """One poll over every recording: yields events, advancing per-file cursors in `state`."""

    def __init__(self, account_id: str, state: Dict[str, Any], now: float,
                 log: Optional[logging.Logger] = None):
        self.account_id = account_id
        self.state = state
        self.now = now
        self.log = log or logging.getLogger(__name__)
        self.counters = Counters()

    def run(self, roots: List[str], snapshot: UsageSnapshot) -> Iterator[UsageEvent]:
        """Read every file, then fill in the snapshot and forget files that no longer exist."""
        files = self.state.setdefault("files", {})
        names = ProjectNames(roots)
        present = set()
        for f in iter_chat_files(roots):
            present.add(f.path)
            self.counters.files += 1
            yield from self._file(f, files, names)
        for gone in [p for p in files if p not in present]:
            del files[gone]
        self._finish(snapshot, files)

    def _file(self, f: ChatFile, files: Dict[str, Any], names: ProjectNames) -> Iterator[UsageEvent]:
        try:
            st = os.stat(f.path)
            if f.legacy:
                if _same_file(files.get(f.path), st):
                    self._maybe_cool(files[f.path], st)
                    return
                cursor = _working_copy(files.get(f.path), st, legacy=True)
                events = self._read_legacy(f, cursor, st, names)
            else:
                if tail.unchanged(self.state, f.path, st):
                    self._maybe_cool(files[f.path], st)
                    return
                cursor = _working_copy(tail.cursor_for(self.state, f.path, st), st, legacy=False)
                events = self._read_jsonl(f, cursor, names)
        except OSError as exc:
            # Vanished or unreadable between listing and reading: the next poll tries again.
            self.counters.files_failed += 1
            self.log.debug("gemini_cli: cannot read %s: %s", f.path, exc)
            return
        self.counters.files_read += 1
        yield from events
        # Committed only once the file's events are handed over, so an abandoned poll re-reads it.
        files[f.path] = cursor

    def _maybe_cool(self, cursor: Dict[str, Any], st: os.stat_result) -> None:
        ctx = cursor.get("ctx") or {}
        if "emitted" in ctx and st.st_mtime < self.now - COLD_AFTER_SECONDS:
            cursor["ctx"] = {"n": ctx.get("n", 0), "cold": True}

    # --- JSONL -----------------------------------------------------------------------------

    def _read_jsonl(self, f: ChatFile, cursor: Dict[str, Any], names: ProjectNames) -> List[UsageEvent]:
        ctx = cursor["ctx"]
        start = cursor.get("offset", 0)
        out: List[UsageEvent] = []
        scope: Optional[Scope] = None
        for obj in tail.iter_json_objects(f.path, cursor, _MARKERS, self.counters):
            if isinstance(obj.get("$rewindTo"), str):
                self.counters.rewinds += 1  # the tokens were spent: nothing already counted is taken back
                continue
            if isinstance(obj.get("$set"), dict):
                update = obj["$set"]
                _remember_metadata(ctx, update)
                messages = update.get("messages")
                if isinstance(messages, list):
                    self.counters.checkpoints += 1
                    scope = scope or self._scope(f, ctx, names)
                    for message in messages:
                        self._record(message, scope, ctx, out, legacy=False)
                continue
            if isinstance(obj.get("id"), str):
                scope = scope or self._scope(f, ctx, names)
                self._record(obj, scope, ctx, out, legacy=False)
            elif isinstance(obj.get("sessionId"), str):
                _remember_metadata(ctx, obj)
        self.counters.bytes_read += cursor.get("offset", 0) - start
        return out

    # --- legacy JSON -----------------------------------------------------------------------

    def _read_legacy(self, f: ChatFile, cursor: Dict[str, Any], st: os.stat_result,
                     names: ProjectNames) -> List[UsageEvent]:
        """The whole file again; events already emitted for an id are not emitted twice."""
        ctx = cursor["ctx"]
        # The signature is the one stat'ed before reading: a file rewritten meanwhile is read again.
        cursor.update(size=st.st_size, mtime=st.st_mtime_ns)
        with open(f.path, "rb") as fh:
            data = fh.read(MAX_LEGACY_BYTES)
        self.counters.bytes_read += len(data)
        try:
            doc = json.loads(data)
        except ValueError:
            self.counters.skip("bad_json")
            return []
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
            self.counters.skip("not_a_session")
            return []
        _remember_metadata(ctx, doc)
        scope = self._scope(f, ctx, names)
        out: List[UsageEvent] = []
        for message in doc["messages"]:
            self._record(message, scope, ctx, out, legacy=True)
        return out

    # --- shared ----------------------------------------------------------------------------

    def _scope(self, f: ChatFile, ctx: Dict[str, Any], names: ProjectNames) -> Scope:
        sid = ctx.get("sid")
        if not isinstance(sid, str):
            # No readable metadata line: the file name is the next most stable id.
            stem = os.path.basename(f.path).rsplit(".", 1)[0]
            sid = ctx["sid"] = stem
        project = names.name(f.root, f.project_dir, ctx.get("ph"))
        return Scope(sid=sid, session_id=f.parent_session or sid, project=project,
                     subagent=f.parent_session is not None)

    def _record(self, obj: Any, scope: Scope, ctx: Dict[str, Any], out: List[UsageEvent], legacy: bool) -> None:
        """One message record: events for its new tool calls and for new or changed tokens."""
        try:
            msg = parse_message(obj)
        except SkippedLine as exc:
            self.counters.skip(exc.reason)
            return
        if msg is None:
            return
        seen = ctx.setdefault("tools", {})
        for call in msg.tool_calls:
            if call.id not in seen:
                seen[call.id] = 1
                self.counters.tool_calls += 1
                out.append(tool_event(msg, call, self.account_id, scope))
        if msg.tokens is None:
            return  # not there yet, or a copy without them: never cancels tokens already read
        emitted: Dict[str, List[Any]] = ctx.setdefault("emitted", {})
        sig = msg.signature()
        old = emitted.get(msg.id)
        if old is None:
            out.append(message_event(msg, self.account_id, scope))
            ctx["n"] = ctx.get("n", 0) + 1
            self.counters.messages += 1
            emitted[msg.id] = sig + [0]
        elif old[:6] != sig:
            self.counters.corrections += 1
            if legacy:
                # Only the current copy is on disk: the same key again, the store keeps the larger copy.
                out.append(message_event(msg, self.account_id, scope))
                emitted[msg.id] = sig + [0]
            else:
                rev = int(old[6]) + 1
                out.extend(correction_events(msg, old, rev, self.account_id, scope))
                emitted[msg.id] = sig + [rev]

    def _finish(self, snapshot: UsageSnapshot, files: Dict[str, Any]) -> None:
        c = self.counters
        total = sum((cur.get("ctx") or {}).get("n", 0) for cur in files.values())
        snapshot.message = f"{_plural(total, 'message')} from {_plural(c.files, 'file')}"
        extras = snapshot.extras if snapshot.extras is not None else {}
        extras.update(
            files=c.files, files_read=c.files_read, files_failed=c.files_failed, bytes_read=c.bytes_read,
            lines_read=c.lines, messages_total=total, messages_new=c.messages, corrections_new=c.corrections,
            tool_calls_new=c.tool_calls, checkpoints_read=c.checkpoints, rewinds_read=c.rewinds,
            lines_skipped=sum(c.skipped.values()), skipped_reasons=dict(c.skipped),
        )
        snapshot.extras = extras


def _remember_metadata(ctx: Dict[str, Any], meta: Dict[str, Any]) -> None:
    """Session id and project hash from a metadata line; the first session id stays (keys must not move)."""
    sid = meta.get("sessionId")
    if isinstance(sid, str) and sid and "sid" not in ctx:
        ctx["sid"] = sid
    ph = meta.get("projectHash")
    if isinstance(ph, str) and ph:
        ctx["ph"] = ph


def _same_file(cursor: Optional[Dict[str, Any]], st: os.stat_result) -> bool:
    return (
        cursor is not None
        and cursor.get("dev") == st.st_dev
        and cursor.get("ino") == st.st_ino
        and cursor.get("size") == st.st_size
        and cursor.get("mtime") == st.st_mtime_ns
    )


def _working_copy(cursor: Optional[Dict[str, Any]], st: os.stat_result, legacy: bool) -> Dict[str, Any]:
    """A copy of a cursor to advance; a cooled or replaced file starts over so its carry-over is rebuilt."""
    ctx = (cursor or {}).get("ctx") or {}
    fresh = {"dev": st.st_dev, "ino": st.st_ino, "size": 0, "offset": 0, "ctx": {}}
    if cursor is None or ctx.get("cold"):
        return fresh
    if legacy and (cursor.get("dev") != st.st_dev or cursor.get("ino") != st.st_ino):
        # A legacy file is rewritten in place; another inode is another file (keys still dedup).
        return fresh
    copy = dict(cursor)
    copy["ctx"] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in ctx.items()}
    return copy


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# --- parsing (pure) ------------------------------------------------------------------------------


class SkippedLine(ValueError):
    """A record that looked like usage but cannot be used; `reason` names why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Tokens:
    """A gemini message's `tokens` as recorded (API usageMetadata names in the comments)."""

    input: int = 0  # promptTokenCount, cached included
    output: int = 0  # candidatesTokenCount
    cached: int = 0  # cachedContentTokenCount
    thoughts: int = 0  # thoughtsTokenCount
    tool: int = 0  # toolUsePromptTokenCount, not part of promptTokenCount
    total: int = 0  # totalTokenCount

    @property
    def fresh_input(self) -> int:
        return max(self.input - self.cached, 0) + self.tool

    @property
    def billed_output(self) -> int:
        return self.output + self.thoughts

    def as_dict(self) -> Dict[str, int]:
        return {"input": self.input, "output": self.output, "cached": self.cached, "thoughts": self.thoughts,
                "tool": self.tool, "total": self.total}


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    occurred_at: Optional[float]
    status: Optional[str]


@dataclass
class GeminiMessage:
    """The usage-relevant parts of one gemini message record (never its content or thoughts)."""

    id: str
    occurred_at: float
    model: Optional[str] = None
    tokens: Optional[Tokens] = None
    tool_calls: List[ToolCall] = field(default_factory=list)

    def signature(self) -> List[Any]:
        t = self.tokens or Tokens()
        return [t.input, t.output, t.cached, t.thoughts, t.tool, self.model]


def parse_message(obj: Any) -> Optional[GeminiMessage]:
    """A gemini message record with tokens or tool calls; None for anything else.

    Raises SkippedLine("bad_timestamp") for such a record whose timestamp does not parse.
    """
    if not isinstance(obj, dict) or obj.get("type") != "gemini":
        return None
    mid = obj.get("id")
    if not isinstance(mid, str) or not mid:
        return None
    tokens = parse_tokens(obj.get("tokens"))
    raw_calls = obj.get("toolCalls")
    if tokens is None and not raw_calls:
        return None
    occurred = parse_rfc3339(obj.get("timestamp"))  # type: ignore[arg-type]
    if occurred is None:
        raise SkippedLine("bad_timestamp")
    model = obj.get("model")
    return GeminiMessage(id=mid, occurred_at=occurred, model=model if isinstance(model, str) and model else None,
                         tokens=tokens, tool_calls=_tool_calls(raw_calls))


def parse_tokens(value: Any) -> Optional[Tokens]:
    """The recorded token counts; None while the message has none (`null` or absent)."""
    if not isinstance(value, dict):
        return None
    return Tokens(input=_count(value.get("input")), output=_count(value.get("output")),
                  cached=_count(value.get("cached")), thoughts=_count(value.get("thoughts")),
                  tool=_count(value.get("tool")), total=_count(value.get("total")))


def _tool_calls(value: Any) -> List[ToolCall]:
    if not isinstance(value, list):
        return []
    out = []
    for call in value:
        if not isinstance(call, dict):
            continue
        call_id, name = call.get("id"), call.get("name")
        if isinstance(call_id, str) and call_id and isinstance(name, str) and name:
            status = call.get("status")
            out.append(ToolCall(call_id, name, parse_rfc3339(call.get("timestamp")),  # type: ignore[arg-type]
                                status if isinstance(status, str) else None))
    return out


def _count(value: Any) -> int:
    if type(value) is int:
        return value if value > 0 else 0
    if not isinstance(value, float) or not math.isfinite(value):
        return 0
    return max(int(value), 0)


def compute_message_cost(model: Optional[str], tokens: Tokens) -> Optional[float]:
    """USD for one request from the price table (long-context tiers applied there); None if unknown."""
    if model is None:
        return None
    return pricing.compute_cost(model, tokens.fresh_input, tokens.billed_output, tokens.cached)


def message_event(msg: GeminiMessage, account_id: str, scope: Scope) -> UsageEvent:
    """The message_usage event of one gemini message with tokens."""
    tokens = msg.tokens or Tokens()
    computed = compute_message_cost(msg.model, tokens)
    return _usage(msg, account_id, scope, f"{scope.sid}:{msg.id}", msg.model,
                  (tokens.fresh_input, tokens.billed_output, tokens.cached, tokens.thoughts), computed, 1,
                  {"sessionId": scope.sid, "id": msg.id, "model": msg.model, "tokens": tokens.as_dict()})


def correction_events(msg: GeminiMessage, old: List[Any], rev: int, account_id: str,
                      scope: Scope) -> List[UsageEvent]:
    """Events that turn an emitted message's numbers into the new record's (a signed difference)."""
    before = Tokens(input=old[0], output=old[1], cached=old[2], thoughts=old[3], tool=old[4])
    old_model = old[5]
    after = msg.tokens or Tokens()
    key = f"{scope.sid}:{msg.id}#r{rev}"
    raw = {"sessionId": scope.sid, "id": msg.id, "model": msg.model, "tokens": after.as_dict(),
           "revision": rev, "replaces": {"model": old_model, "tokens": before.as_dict()}}

    def parts(t: Tokens) -> Tuple[int, int, int, int]:
        return (t.fresh_input, t.billed_output, t.cached, t.thoughts)

    old_cost = compute_message_cost(old_model, before)
    new_cost = compute_message_cost(msg.model, after)
    if old_model == msg.model:
        diff = tuple(a - b for a, b in zip(parts(after), parts(before)))
        cost = new_cost - old_cost if new_cost is not None and old_cost is not None else None
        return [_usage(msg, account_id, scope, key, msg.model, diff, cost, 0, raw)]
    # Another model: take the old numbers back under the old model, book the new under the new one.
    undo = tuple(-v for v in parts(before))
    return [
        _usage(msg, account_id, scope, key + "-", old_model, undo, -old_cost if old_cost is not None else None,
               0, raw),
        _usage(msg, account_id, scope, key, msg.model, parts(after), new_cost, 0, raw),
    ]


def _usage(msg: GeminiMessage, account_id: str, scope: Scope, key: str, model: Optional[str],
           counts: Tuple[int, ...], computed: Optional[float], requests: int, raw: Dict[str, Any]) -> UsageEvent:
    fresh, output, cached, thoughts = counts
    if scope.subagent:
        raw = dict(raw, kind="subagent", parentSessionId=scope.session_id)
    return UsageEvent(
        source=PROVIDER_ID, provider_id=PROVIDER_ID, account_id=account_id, event_type="message_usage",
        occurred_at=msg.occurred_at, session_id=scope.session_id, message_id=key, model=model,
        input_tokens=fresh, output_tokens=output, cache_read_tokens=cached, cache_write_tokens=0,
        reasoning_tokens=thoughts, cost_usd=pricing.apply_cost_mode("auto", None, computed),
        cost_computed_usd=computed, requests=requests, project=scope.project, raw=raw,
    )


def tool_event(msg: GeminiMessage, call: ToolCall, account_id: str, scope: Scope) -> UsageEvent:
    """The tool_usage event of one toolCalls[] entry, keyed by its call id."""
    raw: Dict[str, Any] = {"sessionId": scope.sid, "messageId": msg.id, "status": call.status}
    if scope.subagent:
        raw.update(kind="subagent", parentSessionId=scope.session_id)
    return UsageEvent(
        source=PROVIDER_ID, provider_id=PROVIDER_ID, account_id=account_id, event_type="tool_usage",
        occurred_at=call.occurred_at if call.occurred_at is not None else msg.occurred_at,
        session_id=scope.session_id, tool_call_id=call.id, tool_name=call.name,
        mcp_server=split_mcp_tool(call.name), model=msg.model, requests=0, project=scope.project, raw=raw,
    )
