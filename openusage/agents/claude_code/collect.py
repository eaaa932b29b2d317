"""One poll over Claude Code's transcripts: new bytes only, the best copy of each message, replays dropped."""
from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from openusage.agents import records, saved, tail, workers
from openusage.agents.claude_code.files import TranscriptFile, iter_files, project_from_dir
from openusage.agents.claude_code.parse import (
    PROVIDER_ID,
    AssistantLine,
    SkippedLine,
    call_of,
    compute_line_cost,
    parse_raw_line,
    tool_event,
    usage_event,
    usage_of,
)
from openusage.agents.records import plural, project_from_cwd
from openusage.core.events import UsageEvent
from openusage.core.snapshot import UsageSnapshot

# A file untouched this long drops its per-message carry-over from the state (the state is
# persisted after every poll); should it ever grow again it is read again from the start.
# The form of the state this collector keeps (agents/saved.py); a newer form is read again from the start.
STATE_VERSION = 1
COLD_AFTER_SECONDS = 2 * 86400


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
                 log: Optional[logging.Logger] = None, keep_raw: bool = True, batches: bool = False,
                 event_rows: bool = False):
        saved.upgrade(state, STATE_VERSION, {})
        self.account_id = account_id
        self.log = log or logging.getLogger(__name__)
        self.state = state
        self.home = home
        self.now = now
        self.counters = Counters()
        self.tools_seen: set = set()
        self._projects: Dict[str, str] = {}  # cwd -> project name
        self.state_changed = False  # known once run() is consumed
        self.keep_raw = keep_raw
        # The caller's store takes CountedBatch items among the events (the reports cache, the daemon's):
        # files read on worker processes come back as one batch each rather than one object per event.
        self.batches = batches
        self.event_rows = event_rows  # the batches carry each event's row (a store that keeps them)

    def run(self, roots: List[str], snapshot: UsageSnapshot) -> Iterator[Any]:
        """Read every file, then fill in the snapshot and forget files that no longer exist (events, and
        with `batches` a CountedBatch for each file read on a worker)."""
        files = self.state.setdefault("files", {})
        listed = list(iter_files(roots))
        self.counters.files = len(listed)
        changed = self._changed(listed, files)
        unread = sum(st.st_size - cursor.get("offset", 0) for _, cursor, st in changed)
        if changed and unread >= workers.PARALLEL_MIN_BYTES and workers.worker_count() > 0:
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
        gone = tail.forget_missing(files, present)
        self.state_changed = self.state_changed or bool(changed) or gone
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
                         ) -> Iterator[Any]:
        """A large catch-up read: each session (with its subagents) parsed on a worker process.

        Results come back in file order, so what is stored is what a read in this process stores;
        tool calls seen in two sessions (a resumed session repeats its history) count once here too.
        """
        order = [f.path for f, _ in changed]
        tasks = _session_groups(changed, files, self.account_id, self.home, self.now, self.keep_raw, self.batches,
                                self.event_rows)
        # Batches are small (sums and one row a message): more may travel at once and wait for the parent.
        results = workers.in_order(_read_group, tasks, workers.worker_count(),
                                   **({"ahead": 4, "chunk": 8} if self.batches else {}))
        done: Dict[str, tuple] = {}
        try:
            for path in order:  # a worker sends an idle file's cursor back cooled (_read_group)
                while path not in done:  # a subagent file comes back with its session, maybe earlier
                    done.update((r[0], r) for r in next(results))
                yield from self._take(done.pop(path), files)
        finally:
            results.close()  # the pool goes with it, also when the poll is abandoned

    def _take(self, result: tuple, files: Dict[str, Any]) -> Iterator[Any]:
        path, cursor, packed, counters, failed, batch = result
        if failed is not None:
            self.counters.files_failed += 1
            self.log.debug("claude_code: cannot read %s: %s", path, failed)
            return
        self.counters.merge(counters)
        self.counters.files_read += 1
        events: Iterable[UsageEvent] = map(workers.unpack, packed)
        if batch is not None:
            tool_ids = batch.ids_of("tool_usage")
            if self.tools_seen.isdisjoint(tool_ids):
                self.tools_seen.update(tool_ids)
                yield batch
            else:  # a tool call another session holds too (a resumed session): one event at a time
                events = itertools.chain(batch.events(), events)
        for ev in events:
            if ev.event_type == "tool_usage":
                if ev.tool_call_id in self.tools_seen:
                    self.counters.tool_calls -= 1
                    continue
                self.tools_seen.add(ev.tool_call_id)
            yield ev
        files[path] = cursor

    def _maybe_cool(self, cursor: Dict[str, Any], st: os.stat_result) -> None:
        if _cool(cursor, st.st_mtime, self.now):
            self.state_changed = True

    def _read(self, f: TranscriptFile, cursor: Dict[str, Any], files: Dict[str, Any]) -> List[UsageEvent]:
        """Events of the bytes appended to one file: tool calls, then the best copy of each message."""
        out = []
        for line, tool_id, tool_name, project in self._pass(f, cursor, files):
            if tool_id is None:
                out.append(usage_event(line, self.account_id, f.session_id, project, self.keep_raw))
            else:
                out.append(tool_event(line, tool_id, tool_name, self.account_id, f.session_id, project,
                                      self.keep_raw))
        return out

    def _read_batch(self, f: TranscriptFile, cursor: Dict[str, Any], files: Dict[str, Any]) -> Optional[Any]:
        """What _read's events add to a store, as one CountedBatch (store/batch.py); None when the file
        has a message without an id or repeats a key (read it with _read)."""
        from openusage.store.batch import BatchBuilder

        # For a store that keeps event rows (the daemon's) each event's row goes too.
        keep = self.keep_raw
        builder = BatchBuilder(PROVIDER_ID, full=self.event_rows)
        account = self.account_id
        for line, tool_id, tool_name, project in self._pass(f, cursor, files):
            if tool_id is None:
                if line.message_id is None:
                    return None
                records.add_usage(builder, PROVIDER_ID, account, usage_of(line, f.session_id, project, keep),
                                  computed=compute_line_cost(line))
            else:
                records.add_tool(builder, PROVIDER_ID, account,
                                 call_of(line, tool_id, tool_name, f.session_id, project, keep))
        return builder.build()

    def _pass(self, f: TranscriptFile, cursor: Dict[str, Any], files: Dict[str, Any]
              ) -> List[Tuple[AssistantLine, Optional[str], Optional[str], str]]:
        """What one file's appended bytes add, in order: (line, tool id, tool name, project) for each new
        tool call as it comes, and (line, None, None, project) for each message: the best copy of each
        (at the end), a message without an id where it is. The rules that decide what counts are here."""
        ctx = cursor["ctx"]
        first_req: Dict[str, str] = ctx.setdefault("req", {})
        parent_req = _parent_requests(files, f.parent_path)
        start = cursor.get("offset", 0)
        out: List[Tuple[AssistantLine, Optional[str], Optional[str], str]] = []
        best: Dict[str, AssistantLine] = {}
        sizes: Dict[str, int] = {}
        counters = self.counters
        # Lines without "assistant" cannot hold a request or a tool call: parse_raw_line skips them too.
        for raw in tail.iter_marked_lines(f.path, cursor, b"assistant", counters):
            try:
                line = parse_raw_line(raw)
            except SkippedLine as exc:
                counters.skip(exc.reason)
                continue
            if line is None:
                continue
            new = _admit(line, first_req, parent_req)
            if new is None:
                counters.replays_dropped += 1
                continue
            if line.cwd:
                ctx["cwd"] = line.cwd
            if line.tools:
                self._tool_calls(line, f, ctx, out)
            size = line.total_tokens()
            if line.counts_as_request(size):
                if new:
                    ctx["n"] = ctx.get("n", 0) + 1
                # Streaming writes growing copies of one response: keep the largest (ccusage does too).
                key = line.key
                if key is None:
                    counters.messages += 1
                    out.append((line, None, None, self._project(line, f, ctx)))  # no id to merge copies on
                elif key not in best or size > sizes[key]:
                    best[key] = line
                    sizes[key] = size
        counters.messages += len(best)
        out.extend((line, None, None, self._project(line, f, ctx)) for line in best.values())
        counters.bytes_read += cursor.get("offset", 0) - start
        return out

    def _tool_calls(self, line: AssistantLine, f: TranscriptFile, ctx: Dict[str, Any],
                    out: List[Tuple[AssistantLine, Optional[str], Optional[str], str]]) -> None:
        for tool_id, tool_name in line.tools:
            if tool_id in self.tools_seen:
                continue
            self.tools_seen.add(tool_id)
            self.counters.tool_calls += 1
            out.append((line, tool_id, tool_name, self._project(line, f, ctx)))

    def _project(self, line: AssistantLine, f: TranscriptFile, ctx: Dict[str, Any]) -> str:
        cwd = line.cwd or ctx.get("cwd")
        if not cwd:
            return project_from_dir(f.project_dir, self.home)
        found = self._projects.get(cwd)
        if found is None:
            found = self._projects[cwd] = project_from_cwd(cwd)
        return found

    def _finish(self, snapshot: UsageSnapshot, files: Dict[str, Any]) -> None:
        c = self.counters
        total = sum((cur.get("ctx") or {}).get("n", 0) for cur in files.values())
        tail.put_summary(snapshot, f"{plural(total, 'message')} from {plural(c.files, 'file')}", dict(
            c.read_extras(), messages_total=total, messages_new=c.messages, tool_calls_new=c.tool_calls,
            replays_dropped=c.replays_dropped))


def _cool(cursor: Dict[str, Any], mtime: float, now: float) -> bool:
    """Drop an idle file's per-message carry-over from its cursor; whether it did."""
    ctx = cursor.get("ctx") or {}
    if "req" in ctx and mtime < now - COLD_AFTER_SECONDS:
        cursor["ctx"] = {"n": ctx.get("n", 0), "cold": True}
        return True
    return False


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

def _session_groups(changed: List[Tuple[TranscriptFile, Dict]], files: Dict[str, Any], account_id: str,
                    home: str, now: float, keep_raw: bool = True, batches: bool = False, event_rows: bool = False
                    ) -> List[tuple]:
    """Tasks of one session file and its subagent files each, in file order."""
    groups: Dict[Tuple[str, str], List[tuple]] = {}
    for f, cursor in changed:
        parent_cursor = files.get(f.parent_path) if f.parent_path else None
        groups.setdefault((f.project_dir, f.session_id), []).append((f, cursor, parent_cursor))
    return [(account_id, home, now, keep_raw, batches, event_rows, group) for group in groups.values()]


def _read_group(task: tuple) -> List[tuple]:
    """Worker: read the files of one session; (path, cursor, events as tuples, counters, error, batch) each.

    With `batches`, a file's events keyed by an id come back as one CountedBatch (store/batch.py), with
    their event rows when `event_rows`."""
    account_id, home, now, keep_raw, batches, event_rows, group = task
    files: Dict[str, Any] = {}
    out = []
    for f, cursor, parent_cursor in group:
        if f.parent_path and f.parent_path not in files and parent_cursor is not None:
            files[f.parent_path] = parent_cursor  # the parent was read in an earlier poll
        collector = Collector(account_id, {"files": files}, home, now, keep_raw=keep_raw, event_rows=event_rows)
        batch = None
        try:
            if batches:
                saved = _working_copy(cursor)  # a file a batch cannot hold is read again for its events
                batch = collector._read_batch(f, cursor, files)
                if batch is None:
                    cursor.clear()
                    cursor.update(saved)
                    collector = Collector(account_id, {"files": files}, home, now, keep_raw=keep_raw)
            events = collector._read(f, cursor, files) if batch is None else []
        except OSError as exc:
            out.append((f.path, None, [], None, str(exc), None))
            continue
        files[f.path] = cursor
        c = collector.counters
        counters = {"bytes_read": c.bytes_read, "lines": c.lines, "messages": c.messages,
                    "tool_calls": c.tool_calls, "replays_dropped": c.replays_dropped, "skipped": c.skipped}
        out.append((f.path, cursor, [workers.pack(ev) for ev in events], counters, None, batch))
    # The session is read: an idle file's carry-over need not travel back (the caller would drop it).
    for path, cursor, *_ in out:
        if cursor is not None:
            try:
                _cool(cursor, os.stat(path).st_mtime, now)
            except OSError:
                pass
    return out
