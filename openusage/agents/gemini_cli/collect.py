"""One poll over Gemini CLI's recordings: appended records, legacy whole files, corrections for changed tokens."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional

from openusage.agents import saved, tail
from openusage.agents.gemini_cli.files import ChatFile, ProjectNames, iter_chat_files
from openusage.agents.gemini_cli.parse import (
    Emitted,
    Scope,
    SkippedLine,
    correction_events,
    message_event,
    parse_message,
    tool_event,
)
from openusage.agents.records import plural
from openusage.core.events import UsageEvent
from openusage.core.snapshot import UsageSnapshot

# A file untouched this long drops its per-message carry-over from the state; should it ever change
# again it is read from the start (the store drops the events it already holds).
COLD_AFTER_SECONDS = 2 * 86400
MAX_LEGACY_BYTES = 256 * 1024 * 1024
# Only lines holding one of these can matter; user and info records are never decoded.
_MARKERS = (b"gemini", b"$set", b"sessionId", b"$rewindTo")
# The form of the saved state. 2: each message's counted usage is named (Emitted.to_json) and the
# project hash is `project_hash`; 1 kept a positional list and `ph`.
STATE_VERSION = 2


@dataclass
class Counters(tail.ReadCounters):
    messages: int = 0
    corrections: int = 0
    tool_calls: int = 0
    checkpoints: int = 0
    rewinds: int = 0




class Collector:
    """One poll over every recording: yields events, advancing per-file cursors in `state`."""

    def __init__(self, account_id: str, state: Dict[str, Any], now: float,
                 log: Optional[logging.Logger] = None):
        self.account_id = account_id
        saved.upgrade(state, STATE_VERSION, {1: _named_emitted})
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
        tail.forget_missing(files, present)
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
        project = names.name(f.root, f.project_dir, ctx.get("project_hash"))
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
        emitted: Dict[str, Dict[str, Any]] = ctx.setdefault("emitted", {})
        counted = Emitted.of(msg)
        stored = emitted.get(msg.id)
        old = Emitted.from_json(stored) if stored is not None else None
        if old is None:
            out.append(message_event(msg, self.account_id, scope))
            ctx["n"] = ctx.get("n", 0) + 1
            self.counters.messages += 1
            emitted[msg.id] = counted.to_json()
        elif not old.same_usage(counted):
            self.counters.corrections += 1
            if legacy:
                # Only the current copy is on disk: the same key again, the store keeps the larger copy.
                out.append(message_event(msg, self.account_id, scope))
                emitted[msg.id] = counted.to_json()
            else:
                rev = int(old.rev) + 1
                out.extend(correction_events(msg, old, rev, self.account_id, scope))
                emitted[msg.id] = counted._replace(rev=rev).to_json()

    def _finish(self, snapshot: UsageSnapshot, files: Dict[str, Any]) -> None:
        c = self.counters
        total = sum((cur.get("ctx") or {}).get("n", 0) for cur in files.values())
        tail.put_summary(snapshot, f"{plural(total, 'message')} from {plural(c.files, 'file')}", dict(
            c.read_extras(), messages_total=total, messages_new=c.messages, corrections_new=c.corrections,
            tool_calls_new=c.tool_calls, checkpoints_read=c.checkpoints, rewinds_read=c.rewinds))


def _remember_metadata(ctx: Dict[str, Any], meta: Dict[str, Any]) -> None:
    """Session id and project hash from a metadata line; the first session id stays (keys must not move)."""
    sid = meta.get("sessionId")
    if isinstance(sid, str) and sid and "sid" not in ctx:
        ctx["sid"] = sid
    ph = meta.get("projectHash")
    if isinstance(ph, str) and ph:
        ctx["project_hash"] = ph


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


def _named_emitted(state: Dict[str, Any]) -> None:
    """State version 1 to 2: every file's per-message lists become named objects, `ph` `project_hash`."""
    for cursor in (state.get("files") or {}).values():
        ctx = cursor.get("ctx") if isinstance(cursor, dict) else None
        if isinstance(ctx, dict) and isinstance(ctx.get("emitted"), dict):
            ctx["emitted"] = {mid: Emitted.from_list(old).to_json() for mid, old in ctx["emitted"].items()}
        if isinstance(ctx, dict) and "ph" in ctx:
            ctx["project_hash"] = ctx.pop("ph")
