"""Claude Code: usage and tool calls read incrementally from the transcripts Claude Code writes.

Transcripts are `<root>/projects/<encoded cwd>/<session>.jsonl`, with subagent work in
`<session>/subagents/agent-*.jsonl`; roots are the entries of CLAUDE_CONFIG_DIR, else `~/.claude`
and `~/.config/claude` (FORMATS.md, FORMATS-REFERENCE.md section A). Only appended bytes are read
on each poll; events are produced lazily so a large log directory is never held in memory.

Counting rules (as ccusage): one message_usage event per message.id + requestId, from the streaming
copy with the largest token total; a side-question replay (a known message.id under a new requestId)
is dropped; a line whose timestamp does not parse is skipped and counted. Each tool_use block is a
tool_usage event keyed by its id, the key the PostToolUse hook path uses too.
"""
from __future__ import annotations

import gc
import json
import logging
import math
import os
import re
import sys
from collections import deque
from dataclasses import dataclass, field
from json.scanner import make_scanner
from typing import Any, Callable, Deque, Dict, Iterator, List, NamedTuple, Optional, Tuple

from openusage.agents import tail
from openusage.core.events import UsageEvent, split_mcp_tool
from openusage.core.snapshot import UsageSnapshot
from openusage.core.timeutil import parse_rfc3339
from openusage.providers import claude_limits, quota_claude, quota_common
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, local_snapshot

PROVIDER_ID = "claude_code"
ENV_CONFIG_DIR = "CLAUDE_CONFIG_DIR"
SYNTHETIC_MODEL = "<synthetic>"
# A file untouched this long drops its per-message carry-over from the state (the state is
# persisted after every poll); should it ever grow again it is read again from the start.
COLD_AFTER_SECONDS = 2 * 86400

_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")


class ClaudeCodeProvider(Provider):
    id = PROVIDER_ID
    name = "Claude Code"
    source_modes = ("local",)
    env_vars = (ENV_CONFIG_DIR,)
    programs = ("security",)  # macOS Keychain, for the plan quota's sign-in (quota_claude)
    poll_cost = "free: local logs, and the plan's usage endpoint at most once a minute"
    default_interval = 30.0
    emits_events = True
    widgets = {
        "figures": ["spend.total", "tokens.total", "tool_calls"],
        "gauges": ["5h", "weekly"],
        "sections": ["models", "tools", "projects", "sessions", "mcp_servers"],
    }

    # --- detection --------------------------------------------------------------------------

    def detect(self, env: Dict[str, str], home: str,
               which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        """One account when any Claude Code root has a projects directory."""
        for root in claude_roots(env.get, home):
            if os.path.isdir(os.path.join(root, "projects")):
                return [AccountConfig(id=PROVIDER_ID, provider=PROVIDER_ID, detected_by=root)]
        return []

    # --- fetch ------------------------------------------------------------------------------

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        """A snapshot plus a lazy stream of events; the stream fills in the snapshot's counters."""
        roots = claude_roots(ctx.env.get, ctx.fs.home)
        snapshot = local_snapshot(self, account, {"roots": roots}, roots, "no Claude Code directory found")
        if snapshot.status != "OK":
            return FetchResult(snapshot=snapshot, events=[])
        # The plan's 5-hour and weekly use, as the statusline command last saw it (openusage's own file).
        live = claude_limits.limits(ctx.now)
        if live:
            snapshot.rate_limits = live["rate_limits"]
            snapshot.extras["limits_observed_at"] = live["observed_at"]
        collector = Collector(account.id, ctx.state, ctx.fs.home, ctx.now, ctx.log, keep_raw=ctx.keep_raw)
        # The live plan windows (quota_claude) go on last: the collector's summary rewrites the message.
        events = quota_common.finish_with(collector.run(roots, snapshot),
                                          lambda: quota_claude.apply(snapshot, account, ctx))
        return FetchResult(snapshot=snapshot, events=events,  # type: ignore[arg-type]
                           state_changed=lambda: collector.state_changed)


# --- roots and files ---------------------------------------------------------------------------


def claude_roots(env_get: Callable[[str], Optional[str]], home: str) -> List[str]:
    """Config roots to scan: CLAUDE_CONFIG_DIR entries (comma-separated) when set, else the defaults."""
    configured = env_get(ENV_CONFIG_DIR)
    if configured:
        entries = [e.strip() for e in configured.split(",") if e.strip()]
    else:
        entries = [os.path.join(home, ".claude"), os.path.join(home, ".config", "claude")]
    roots: List[str] = []
    for entry in entries:
        if entry == "~" or entry.startswith("~/"):
            entry = os.path.join(home, entry[2:])
        path = os.path.normpath(entry)
        if path not in roots:
            roots.append(path)
    return roots


class TranscriptFile(NamedTuple):
    path: str
    session_id: str  # from the path; the parent session for subagent files
    project_dir: str  # the <encoded cwd> folder name
    parent_path: Optional[str]  # the parent session's file, for subagent files


def iter_transcript_files(roots: List[str]) -> Iterator[Tuple[str, str]]:
    """(path, session id) of every transcript under the roots, each parent before its subagents."""
    for f in _iter_files(roots):
        yield f.path, f.session_id


def _iter_files(roots: List[str]) -> Iterator[TranscriptFile]:
    seen_roots = set()
    for root in roots:
        projects = os.path.join(root, "projects")
        real = os.path.realpath(projects)
        # A root reached twice (a symlinked ~/.config/claude) must not count its files twice.
        if real in seen_roots or not os.path.isdir(projects):
            continue
        seen_roots.add(real)
        yield from _walk(projects, projects, ())


def _walk(projects: str, folder: str, parts: Tuple[str, ...]) -> Iterator[TranscriptFile]:
    """What os.walk lists (no symlinked folders entered), in name order, a folder's files before its
    subfolders, so <session>.jsonl precedes <session>/; with the path parts known, not recomputed."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=_entry_name)
    except OSError:
        return
    below = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            if not entry.is_symlink():
                below.append(entry)
        elif parts and entry.name.endswith(".jsonl"):
            yield _describe(projects, parts, entry.name, entry.path)
    for entry in below:
        yield from _walk(projects, entry.path, parts + (entry.name,))


def _entry_name(entry: os.DirEntry) -> str:
    return entry.name


def _describe(projects: str, parts: Tuple[str, ...], name: str, path: str) -> TranscriptFile:
    """Session and project of the file at projects/<parts...>/<name> (at least one part)."""
    if len(parts) == 1:
        return TranscriptFile(path, name[: -len(".jsonl")], parts[0], None)
    session = parts[1]
    parent = os.path.join(projects, parts[0], session + ".jsonl") if "subagents" in parts[2:] else None
    return TranscriptFile(path, session, parts[0], parent)


def project_from_dir(dir_name: str, home: str) -> str:
    """A project name from an <encoded cwd> folder name, for lines without a cwd (lossy by nature)."""
    if not dir_name.startswith("-"):
        return dir_name  # not an encoded path (hand-made layouts, older tools)
    encoded_home = _NON_ALNUM.sub("-", home.rstrip("/")) + "-"
    if home.strip("/") and dir_name.startswith(encoded_home) and len(dir_name) > len(encoded_home):
        return dir_name[len(encoded_home):]
    return dir_name.lstrip("-") or dir_name


def project_from_cwd(cwd: str) -> str:
    """The project name of a working directory: its last path component (as the hook path does)."""
    return os.path.basename(cwd.rstrip("/")) or cwd


# --- collecting ----------------------------------------------------------------------------------


@dataclass
class Counters(tail.ReadCounters):
    """What one poll read, for the snapshot's diagnostics."""

    messages: int = 0
    tool_calls: int = 0
    replays_dropped: int = 0

    def merge(self, other: Dict[str, Any]) -> None:
        """Add the counts of a worker's read of one file."""
        for name in ("bytes_read", "lines", "messages", "tool_calls", "replays_dropped"):
            setattr(self, name, getattr(self, name) + other[name])
        for reason, n in other["skipped"].items():
            self.skipped[reason] = self.skipped.get(reason, 0) + n


class Collector:
    """One poll over every transcript: yields events, advancing per-file cursors in `state`."""

    def __init__(self, account_id: str, state: Dict[str, Any], home: str, now: float,
                 log: Optional[logging.Logger] = None, keep_raw: bool = True):
        self.account_id = account_id
        self.log = log or logging.getLogger(__name__)
        self.state = state
        self.home = home
        self.now = now
        self.counters = Counters()
        self.tools_seen: set = set()
        self.state_changed = False  # known once run() is consumed
        self.keep_raw = keep_raw

    def run(self, roots: List[str], snapshot: UsageSnapshot) -> Iterator[UsageEvent]:
        """Read every file, then fill in the snapshot and forget files that no longer exist."""
        files = self.state.setdefault("files", {})
        listed = list(_iter_files(roots))
        self.counters.files = len(listed)
        changed = self._changed(listed, files)
        unread = sum(st.st_size - cursor.get("offset", 0) for _, cursor, st in changed)
        if changed and unread >= PARALLEL_MIN_BYTES and _workers() > 0:
            yield from self._read_in_workers([(f, cursor) for f, cursor, _ in changed], files)
        else:
            for f, cursor, _ in changed:
                yield from self._file(f, cursor, files)
        # A file read now but idle for long (a first scan of old sessions) cools at once, not at the
        # next poll: its carry-over never bloats the saved state. Subagent reads above needed it.
        for f, _, st in changed:
            if f.path in files:
                self._maybe_cool(files[f.path], st)
        present = {f.path for f in listed}
        gone = [p for p in files if p not in present]
        for path in gone:
            del files[path]
        self.state_changed = self.state_changed or bool(changed or gone)
        self._finish(snapshot, files)

    def _changed(self, listed: List[TranscriptFile], files: Dict[str, Any]
                 ) -> List[Tuple[TranscriptFile, Dict, os.stat_result]]:
        """The files with bytes to read, each with a working copy of its cursor; idle ones may cool."""
        out = []
        for f in listed:
            try:
                st = os.stat(f.path)
            except OSError as exc:
                self._failed(f, exc)
                continue
            if tail.unchanged(self.state, f.path, st):
                self._maybe_cool(files[f.path], st)
                continue
            out.append((f, _working_copy(tail.cursor_for(self.state, f.path, st)), st))
        return out

    def _failed(self, f: TranscriptFile, exc: OSError) -> None:
        # Vanished or unreadable between listing and reading: the next poll tries again.
        self.counters.files_failed += 1
        self.log.debug("claude_code: cannot read %s: %s", f.path, exc)

    def _file(self, f: TranscriptFile, cursor: Dict[str, Any], files: Dict[str, Any]) -> Iterator[UsageEvent]:
        try:
            events = self._read(f, cursor, files)
        except OSError as exc:
            self._failed(f, exc)
            return
        self.counters.files_read += 1
        yield from events
        # Committed only once the file's events are handed over, so an abandoned poll re-reads it.
        files[f.path] = cursor

    def _read_in_workers(self, changed: List[Tuple[TranscriptFile, Dict]], files: Dict[str, Any]
                         ) -> Iterator[UsageEvent]:
        """A large catch-up read: each session (with its subagents) parsed on a worker process.

        Results come back in file order, so what is stored is what a read in this process stores;
        tool calls seen in two sessions (a resumed session repeats its history) count once here too.
        """
        import multiprocessing

        order = [f.path for f, _ in changed]
        tasks = iter(_session_groups(changed, files, self.account_id, self.home, self.now, self.keep_raw))
        done: Dict[str, tuple] = {}
        pending: Deque[Any] = deque()
        workers = _workers()
        # spawn: the daemon has threads, and a forked child could inherit a lock some thread holds.
        with multiprocessing.get_context("spawn").Pool(workers, initializer=_quiet_worker) as pool:

            def submit() -> None:
                task = next(tasks, None)
                if task is not None:
                    pending.append(pool.apply_async(_read_group, (task,)))

            # A few sessions ahead of the store, not all of them: parsed events wait in memory.
            for _ in range(2 * workers):
                submit()
            for path in order:
                while path not in done:  # a subagent file comes back with its session, maybe earlier
                    done.update((r[0], r) for r in pending.popleft().get())
                    submit()
                yield from self._take(done.pop(path), files)

    def _take(self, result: tuple, files: Dict[str, Any]) -> Iterator[UsageEvent]:
        path, cursor, packed, counters, failed = result
        if failed is not None:
            self.counters.files_failed += 1
            self.log.debug("claude_code: cannot read %s: %s", path, failed)
            return
        self.counters.merge(counters)
        self.counters.files_read += 1
        for fields in packed:
            ev = UsageEvent(*fields)
            if ev.event_type == "tool_usage":
                if ev.tool_call_id in self.tools_seen:
                    self.counters.tool_calls -= 1
                    continue
                self.tools_seen.add(ev.tool_call_id)
            yield ev
        files[path] = cursor

    def _maybe_cool(self, cursor: Dict[str, Any], st: os.stat_result) -> None:
        ctx = cursor.get("ctx") or {}
        if "req" in ctx and st.st_mtime < self.now - COLD_AFTER_SECONDS:
            cursor["ctx"] = {"n": ctx.get("n", 0), "cold": True}
            self.state_changed = True

    def _read(self, f: TranscriptFile, cursor: Dict[str, Any], files: Dict[str, Any]) -> List[UsageEvent]:
        """Events of the bytes appended to one file: tool calls, then the best copy of each message."""
        ctx = cursor["ctx"]
        first_req: Dict[str, str] = ctx.setdefault("req", {})
        parent_req = _parent_requests(files, f.parent_path)
        start = cursor.get("offset", 0)
        out: List[UsageEvent] = []
        best: Dict[str, AssistantLine] = {}
        for raw in tail.iter_new_lines(f.path, cursor):
            self.counters.lines += 1
            try:
                line = parse_raw_line(raw)
            except SkippedLine as exc:
                self.counters.skip(exc.reason)
                continue
            if line is None:
                continue
            new = _admit(line, first_req, parent_req)
            if new is None:
                self.counters.replays_dropped += 1
                continue
            if line.cwd:
                ctx["cwd"] = line.cwd
            out.extend(self._tool_events(line, f, ctx))
            if line.counts_as_request():
                if new:
                    ctx["n"] = ctx.get("n", 0) + 1
                self._keep_best(line, best, out, f, ctx)
        out.extend(self._usage_event(line, f, ctx) for line in best.values())
        self.counters.bytes_read += cursor.get("offset", 0) - start
        return out

    def _keep_best(self, line: AssistantLine, best: Dict[str, AssistantLine], out: List[UsageEvent],
                   f: TranscriptFile, ctx: Dict[str, Any]) -> None:
        """Streaming writes growing copies of one response: keep the largest (ccusage does too)."""
        key = line.key
        if key is None:
            out.append(self._usage_event(line, f, ctx))  # no id to merge copies on
        elif key not in best or line.total_tokens() > best[key].total_tokens():
            best[key] = line

    def _usage_event(self, line: AssistantLine, f: TranscriptFile, ctx: Dict[str, Any]) -> UsageEvent:
        self.counters.messages += 1
        return usage_event(line, self.account_id, f.session_id, self._project(line, f, ctx), self.keep_raw)

    def _tool_events(self, line: AssistantLine, f: TranscriptFile, ctx: Dict[str, Any]) -> List[UsageEvent]:
        out = []
        for tool_id, tool_name in line.tools:
            if tool_id in self.tools_seen:
                continue
            self.tools_seen.add(tool_id)
            self.counters.tool_calls += 1
            out.append(tool_event(line, tool_id, tool_name, self.account_id, f.session_id,
                                  self._project(line, f, ctx), self.keep_raw))
        return out

    def _project(self, line: AssistantLine, f: TranscriptFile, ctx: Dict[str, Any]) -> str:
        cwd = line.cwd or ctx.get("cwd")
        return project_from_cwd(cwd) if cwd else project_from_dir(f.project_dir, self.home)

    def _finish(self, snapshot: UsageSnapshot, files: Dict[str, Any]) -> None:
        c = self.counters
        total = sum((cur.get("ctx") or {}).get("n", 0) for cur in files.values())
        snapshot.message = f"{_plural(total, 'message')} from {_plural(c.files, 'file')}"
        extras = snapshot.extras if snapshot.extras is not None else {}
        extras.update(
            files=c.files, files_read=c.files_read, files_failed=c.files_failed, bytes_read=c.bytes_read,
            lines_read=c.lines, messages_total=total, messages_new=c.messages, tool_calls_new=c.tool_calls,
            replays_dropped=c.replays_dropped, lines_skipped=sum(c.skipped.values()),
            skipped_reasons=dict(c.skipped),
        )
        snapshot.extras = extras


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _working_copy(cursor: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of a cursor to advance; a cooled file starts over so its carry-over is rebuilt."""
    ctx = cursor.get("ctx") or {}
    if ctx.get("cold"):
        return {"dev": cursor.get("dev"), "ino": cursor.get("ino"), "size": 0, "offset": 0, "ctx": {}}
    copy = dict(cursor)
    copy["ctx"] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in ctx.items()}
    return copy


def _parent_requests(files: Dict[str, Any], parent_path: Optional[str]) -> Dict[str, str]:
    if parent_path is None:
        return {}
    return ((files.get(parent_path) or {}).get("ctx") or {}).get("req") or {}


def _admit(line: AssistantLine, first_req: Dict[str, str], parent_req: Dict[str, str]) -> Optional[bool]:
    """None for a side-question replay, else whether this is the file's first copy of the message.

    A replay reuses a known message.id under a new requestId; the first requestId seen wins. A
    subagent file's first copy is also checked against its parent session file's requests.
    """
    mid = line.message_id
    if mid is None:
        return True
    rid = line.request_id or ""
    known = first_req.get(mid)
    if known is not None:
        return None if known != rid else False
    parent = parent_req.get(mid)
    if parent is not None and parent != rid and line.sidechain:
        first_req[mid] = parent  # later copies of the replay are dropped too
        return None
    first_req[mid] = rid
    return True


# --- reading on worker processes ----------------------------------------------------------------

PARALLEL_MIN_BYTES = 48 << 20  # unread bytes from which a poll parses on worker processes


def _pack(ev: UsageEvent) -> tuple:
    """An event as the tuple of its fields in declaration order (what UsageEvent(*fields) takes back).

    A dataclass's __init__ sets its fields in that order, so its __dict__ lists them so: read at C
    speed rather than a getattr per field (this runs for every event of a catch-up read).
    """
    return tuple(ev.__dict__.values())


def _workers() -> int:
    """Worker processes for a large read: one a core (up to 6), none on a single core.

    Parsing is most of a catch-up's work; storing what the workers parse takes a few seconds of the
    parent's time for 500 MB, so the parent shares a core rather than keeping one for itself.
    """
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, 6)


def _quiet_worker() -> None:
    """A worker writes nothing to the daemon's log: its errors reach the parent with its results, and
    a pool torn down at shutdown must not print a broken pipe for every result still on its way."""
    sys.stderr = open(os.devnull, "w")  # kept open for the life of the worker process
    # What a worker builds (decoded lines, events) holds no reference cycles: reference counting frees
    # it all, and the collector's passes over a growing heap were ~8 % of a worker's time.
    gc.disable()


def _session_groups(changed: List[Tuple[TranscriptFile, Dict]], files: Dict[str, Any], account_id: str,
                    home: str, now: float, keep_raw: bool = True) -> List[tuple]:
    """Tasks of one session file and its subagent files each, in file order."""
    groups: Dict[Tuple[str, str], List[tuple]] = {}
    for f, cursor in changed:
        parent_cursor = files.get(f.parent_path) if f.parent_path else None
        groups.setdefault((f.project_dir, f.session_id), []).append((f, cursor, parent_cursor))
    return [(account_id, home, now, keep_raw, group) for group in groups.values()]


def _read_group(task: tuple) -> List[tuple]:
    """Worker: read the files of one session; (path, cursor, events as tuples, counters, error) each."""
    account_id, home, now, keep_raw, group = task
    files: Dict[str, Any] = {}
    out = []
    for f, cursor, parent_cursor in group:
        if f.parent_path and f.parent_path not in files and parent_cursor is not None:
            files[f.parent_path] = parent_cursor  # the parent was read in an earlier poll
        collector = Collector(account_id, {"files": files}, home, now, keep_raw=keep_raw)
        try:
            events = collector._read(f, cursor, files)
        except OSError as exc:
            out.append((f.path, None, [], None, str(exc)))
            continue
        files[f.path] = cursor
        c = collector.counters
        counters = {"bytes_read": c.bytes_read, "lines": c.lines, "messages": c.messages,
                    "tool_calls": c.tool_calls, "replays_dropped": c.replays_dropped, "skipped": c.skipped}
        packed = [_pack(ev) for ev in events]
        out.append((f.path, cursor, packed, counters, None))
    return out


# --- parsing (pure) ------------------------------------------------------------------------------


class SkippedLine(ValueError):
    """A line that looked like a usage line but cannot be used; `reason` names why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class AssistantLine:
    """The parts of one assistant transcript line that usage tracking needs (never its content)."""

    occurred_at: float
    session_id: Optional[str] = None
    message_id: Optional[str] = None
    request_id: Optional[str] = None
    model: Optional[str] = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    has_usage: bool = False
    fast: bool = False
    cost_logged: Optional[float] = None
    cwd: Optional[str] = None
    sidechain: bool = False
    tools: List[Tuple[str, str]] = field(default_factory=list)  # (tool_use id, name)
    uuid: Optional[str] = None
    version: Optional[str] = None
    agent_id: Optional[str] = None
    usage: Optional[Dict[str, Any]] = field(default=None, repr=False)

    @property
    def key(self) -> Optional[str]:
        """The message's dedup id: message.id + requestId, message.id alone, or None."""
        if self.message_id is None:
            return None
        return f"{self.message_id}:{self.request_id}" if self.request_id else self.message_id

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens

    def counts_as_request(self) -> bool:
        """Usage lines count, except Claude Code's locally generated (API error) messages."""
        return self.has_usage and not (self.model == SYNTHETIC_MODEL and self.total_tokens() == 0)

    @property
    def raw(self) -> Dict[str, Any]:
        """Identifying fields and the usage object; never message content (transcripts hold code)."""
        # Built on demand: most parsed lines are streaming copies that never become an event.
        raw: Dict[str, Any] = {"uuid": self.uuid, "requestId": self.request_id, "message_id": self.message_id,
                               "model": self.model, "isSidechain": self.sidechain, "version": self.version}
        if self.usage is not None:
            # Per-iteration copies (2026 builds) repeat the counts; they only make the row bigger.
            usage = self.usage
            raw["usage"] = {k: v for k, v in usage.items() if k != "iterations"} if "iterations" in usage else usage
        if self.agent_id:
            raw["agentId"] = self.agent_id
        if self.cost_logged is not None:
            raw["costUSD"] = self.cost_logged
        return raw


_scan_json = make_scanner(json.JSONDecoder())  # the C scanner, without json.loads' wrappers


def parse_raw_line(raw: bytes) -> Optional[AssistantLine]:
    """parse_line for one line of bytes; cheap substring tests skip the lines that cannot matter."""
    # Most bytes in a transcript are user lines (tool results, file contents): never decode those.
    has_tools = b'"tool_use"' in raw
    if b"assistant" not in raw or (not has_tools and b'"usage"' not in raw):
        return None
    try:
        text = raw.decode("utf-8").strip()
        obj, end = _scan_json(text, 0)
    except (ValueError, StopIteration):  # ValueError covers UnicodeDecodeError and JSONDecodeError
        raise SkippedLine("bad_json") from None
    if end != len(text):
        raise SkippedLine("bad_json")  # trailing bytes after the object
    return parse_line(obj, has_tools)


def parse_line(obj: Any, has_tools: bool = True) -> Optional[AssistantLine]:
    """The usage-relevant parts of a decoded line; None for lines without usage or tool calls.

    has_tools=False: the caller knows the line holds no tool call (its bytes never say "tool_use").
    Raises SkippedLine("bad_timestamp") for an assistant line whose timestamp does not parse.
    """
    # Runs for every assistant line of every transcript: plain dict access, no helper per field.
    if type(obj) is not dict:
        return None
    message = obj.get("message")
    if type(message) is not dict or not _is_assistant(obj, message):
        return None
    usage = message.get("usage")
    content = message.get("content")
    tools = _tool_uses(content) if has_tools and type(content) is list else []
    if type(usage) is not dict and not tools:
        return None
    occurred = parse_rfc3339(obj.get("timestamp"))  # type: ignore[arg-type]
    if occurred is None:
        raise SkippedLine("bad_timestamp")
    get = obj.get
    line = AssistantLine(
        occurred,
        _text(get("sessionId")),
        _text(message.get("id")),
        _text(get("requestId")),
        _text(message.get("model")),
        cost_logged=_cost(get("costUSD")) if "costUSD" in obj else None,
        cwd=_text(get("cwd")),
        sidechain=get("isSidechain") is True,
        tools=tools,
        uuid=_text(get("uuid")),
        version=_text(get("version")),
        agent_id=_text(get("agentId")) if "agentId" in obj else None,
    )
    if type(usage) is dict:
        _read_usage(line, usage)
    return line


def _is_assistant(obj: Dict[str, Any], message: Dict[str, Any]) -> bool:
    kind = obj.get("type")
    # Minimal lines (ccusage's own test data) carry only message.role.
    return kind == "assistant" or (kind is None and message.get("role") == "assistant")


def _read_usage(line: AssistantLine, usage: Dict[str, Any]) -> None:
    line.has_usage = True
    line.usage = usage
    line.input_tokens = _count(usage.get("input_tokens"))
    line.output_tokens = _count(usage.get("output_tokens"))
    line.cache_read_tokens = _count(usage.get("cache_read_input_tokens"))
    line.cache_write_5m_tokens, line.cache_write_1h_tokens = _cache_writes(usage)
    line.fast = usage.get("speed") == "fast"


def _cache_writes(usage: Dict[str, Any]) -> Tuple[int, int]:
    """(5-minute, 1-hour) cache writes; the legacy total counts as 5-minute writes without a split."""
    legacy = _count(usage.get("cache_creation_input_tokens"))
    split = usage.get("cache_creation")
    if isinstance(split, dict):
        five = _count(split.get("ephemeral_5m_input_tokens"))
        hour = _count(split.get("ephemeral_1h_input_tokens"))
        if five or hour:
            return five, hour
    return legacy, 0


def _tool_uses(content: Any) -> List[Tuple[str, str]]:
    if not isinstance(content, list):
        return []
    out = []
    for block in content:
        if type(block) is dict and block.get("type") == "tool_use":
            tool_id, name = _text(block.get("id")), _text(block.get("name"))
            if tool_id and name:
                out.append((tool_id, name))
    return out


def _text(value: Any) -> Optional[str]:
    return value if type(value) is str and value else None


def _count(value: Any) -> int:
    if type(value) is int:  # the usual case, checked first: this runs for every field of every line
        return value if value > 0 else 0
    if not isinstance(value, float) or not math.isfinite(value):
        return 0
    return max(int(value), 0)


def _cost(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _pricing() -> Any:
    """The price table's module, imported on first use: a poll with nothing new never prices."""
    global _PRICING
    if _PRICING is None:
        from openusage.core import pricing

        _PRICING = pricing
    return _PRICING


_PRICING = None


def compute_line_cost(line: AssistantLine) -> Optional[float]:
    """USD for one request from the price table (fast mode at the model's multiplier); None if unknown."""
    if line.model is None:
        return None
    pricing = _pricing()
    cost = pricing.compute_cost(line.model, line.input_tokens, line.output_tokens, line.cache_read_tokens,
                                line.cache_write_5m_tokens, line.cache_write_1h_tokens)
    if cost is not None and line.fast:
        res = pricing.resolve(line.model)
        if res is not None and res.price.fast_multiplier:
            cost *= res.price.fast_multiplier
    return cost


def usage_event(line: AssistantLine, account_id: str, session_id: Optional[str],
                project: Optional[str], keep_raw: bool = True) -> UsageEvent:
    """The message_usage event of one assistant line (the session id of the line wins over the path's).

    Without keep_raw, an event with a key has no raw (an id-less one keeps it: its key is its fingerprint).
    """
    computed = compute_line_cost(line)
    return UsageEvent(
        source=PROVIDER_ID, provider_id=PROVIDER_ID, account_id=account_id, event_type="message_usage",
        occurred_at=line.occurred_at, session_id=line.session_id or session_id, message_id=line.key,
        model=line.model, input_tokens=line.input_tokens, output_tokens=line.output_tokens,
        cache_read_tokens=line.cache_read_tokens, cache_write_tokens=line.cache_write_tokens,
        cost_usd=_pricing().apply_cost_mode("auto", line.cost_logged, computed),
        cost_logged_usd=line.cost_logged, cost_computed_usd=computed,
        requests=1, project=project, raw=line.raw if keep_raw or line.key is None else None,
    )


def tool_event(line: AssistantLine, tool_id: str, tool_name: str, account_id: str, session_id: Optional[str],
               project: Optional[str], keep_raw: bool = True) -> UsageEvent:
    """The tool_usage event of one tool_use block; its key matches the PostToolUse hook's tool_use_id."""
    return UsageEvent(
        source=PROVIDER_ID, provider_id=PROVIDER_ID, account_id=account_id, event_type="tool_usage",
        occurred_at=line.occurred_at, session_id=line.session_id or session_id, tool_call_id=tool_id,
        tool_name=tool_name, mcp_server=split_mcp_tool(tool_name), model=line.model, requests=0,
        project=project,
        raw={"uuid": line.uuid, "message_id": line.message_id, "isSidechain": line.sidechain} if keep_raw else None,
    )
