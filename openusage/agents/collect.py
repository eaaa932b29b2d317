"""One poll of an agent's sources: changed files and rows only, each record counted once.

The invariants, kept here for every agent:
- A file's cursor (openusage.agents.tail) is committed only once the file's events are handed over,
  so an abandoned poll reads them again; a file that shrank or was replaced is read from its start.
- Within one read, copies of one request (streaming writes, a rewritten record) are merged by the
  agent's `merge` (keep the largest by default); over the poll, a key is emitted again only when it
  grew, and a tool call once. The store keeps the larger copy of a key across polls.
- Files and databases that are gone are forgotten; what was read is summed up on the snapshot.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from openusage.agents import records, saved, sqlite, tail, workers
from openusage.agents.files import Found, find
from openusage.agents.records import Skip, ToolCall, Usage
from openusage.agents.sources import JsonlSource, JsonSource, Source, SqliteSource
from openusage.core.events import UsageEvent
from openusage.core.snapshot import UsageSnapshot

# The form of the state this collector keeps (agents/saved.py); a newer form is read again from the start.
STATE_VERSION = 1

Merge = Callable[[Usage, Usage], Usage]


def keep_larger(old: Usage, new: Usage) -> Usage:
    """Of two copies of one request, the one with more tokens, then with more logged cost (the later on a tie)."""
    return old if _size(old.total_tokens(), old.cost_logged) > _size(new.total_tokens(), new.cost_logged) else new


def _size(tokens: int, cost: Optional[float]) -> Tuple[int, float]:
    return tokens, cost or 0.0


@dataclass
class Counters(tail.ReadCounters):
    """What one poll read, for the snapshot's diagnostics."""

    dbs: int = 0
    dbs_failed: int = 0
    rows: int = 0
    messages: int = 0
    tool_calls: int = 0
    sessions: Set[str] = field(default_factory=set)
    projects: Set[str] = field(default_factory=set)

    def add(self, other: Dict[str, Any]) -> None:
        """Add the counts of a worker's read of one file."""
        for name in ("bytes_read", "lines"):
            setattr(self, name, getattr(self, name) + other[name])
        for reason, n in other["skipped"].items():
            self.skipped[reason] = self.skipped.get(reason, 0) + n


class Reader:
    """Reads one file of a source into events (in this process or on a worker)."""

    def __init__(self, agent_id: str, account_id: str, merge: Merge, keep_raw: bool,
                 log: Optional[logging.Logger] = None):
        self.agent_id = agent_id
        self.account_id = account_id
        self.merge = merge
        self.keep_raw = keep_raw
        self.log = log or logging.getLogger(__name__)
        self.counters = Counters()

    def jsonl(self, source: JsonlSource, f: Found, cursor: Dict[str, Any]) -> List[UsageEvent]:
        ctx = cursor.setdefault("ctx", {})
        start = cursor.get("offset", 0)
        found: List[Any] = []
        # No markers: every line is decoded (the empty marker is in every line).
        for obj in tail.iter_json_objects(f.path, cursor, source.markers or (b"",), self.counters):
            found.extend(self.parsed(lambda o=obj: source.parse(o, ctx, f)))
        self.counters.bytes_read += cursor.get("offset", 0) - start
        return self.events(found)

    def document(self, source: JsonSource, f: Found, cursor: Dict[str, Any], st: os.stat_result
                 ) -> List[UsageEvent]:
        # The signature is the one stat'ed before reading: a file rewritten meanwhile is read again.
        cursor.update(dev=st.st_dev, ino=st.st_ino, size=st.st_size, mtime=st.st_mtime_ns)
        if st.st_size > source.max_bytes:
            self.counters.skip("too_large")
            return []
        with open(f.path, "rb") as fh:
            data = fh.read(source.max_bytes)
        self.counters.bytes_read += len(data)
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):  # also UnicodeDecodeError
            # A file caught half-written: its size changes again when the agent finishes it.
            self.counters.skip("bad_json")
            return []
        return self.events(list(self.parsed(lambda: source.parse(doc, f))))

    def parsed(self, parse: Callable[[], Any]) -> List[Any]:
        """The records a parser gives; a Skip it returns among them (one record of a document) is counted."""
        try:
            found = list(parse() or ())
        except Skip as exc:
            self.counters.skip(exc.reason)
            return []
        except Exception as exc:  # a record of an unknown future shape must not stop the poll
            self.counters.skip("bad_record")
            self.log.debug("%s: unreadable record: %s", self.agent_id, exc)
            return []
        kept = []
        for rec in found:
            if isinstance(rec, Skip):
                self.counters.skip(rec.reason)
            else:
                kept.append(rec)
        return kept

    def events(self, found: Sequence[Any]) -> List[UsageEvent]:
        """Tool calls in record order, then the merged copy of each keyed request (in first-seen order)."""
        out: List[UsageEvent] = []
        best: Dict[str, Usage] = {}
        for rec in found:
            if isinstance(rec, ToolCall):
                out.append(records.tool_event(self.agent_id, self.account_id, rec, self.keep_raw))
            elif isinstance(rec, Usage):
                if rec.key is None:
                    out.append(records.usage_event(self.agent_id, self.account_id, rec, self.keep_raw))
                else:
                    best[rec.key] = self.merge(best[rec.key], rec) if rec.key in best else rec
        out.extend(records.usage_event(self.agent_id, self.account_id, u, self.keep_raw) for u in best.values())
        return out


class Collector:
    """One poll over an agent's sources: yields events, advancing cursors in `state`."""

    def __init__(self, agent: Any, account_id: str, state: Dict[str, Any], log: Optional[logging.Logger] = None,
                 keep_raw: bool = True):
        saved.upgrade(state, STATE_VERSION, {})
        self.agent = agent
        self.state = state
        self.log = log or logging.getLogger(__name__)
        self.reader = Reader(agent.id, account_id, agent.merge, keep_raw, self.log)
        self.counters = self.reader.counters
        self.emitted: Dict[str, Tuple[int, float]] = {}  # message key -> largest (tokens, cost) emitted this poll
        self.tools_seen: Set[str] = set()
        self.state_changed = False  # known once run() is consumed

    def run(self, roots: List[str], snapshot: UsageSnapshot) -> Iterator[UsageEvent]:
        """Read every source, forget what is gone, then fill in the snapshot."""
        files = self.state.setdefault("files", {})
        dbs = self.state.setdefault("dbs", {})
        present: Set[str] = set()
        changed: List[Tuple[int, Found, Dict[str, Any], os.stat_result]] = []
        for index, source in enumerate(self.agent.sources):
            for f in find(roots, source.pattern):
                if f.path in present:
                    continue  # two patterns of one agent reaching the same file
                present.add(f.path)
                if isinstance(source, SqliteSource):
                    yield from self._database(source, f, dbs)
                    continue
                self.counters.files += 1
                item = self._changed(index, source, f, files)
                if item is not None:
                    changed.append(item)
        yield from self._read_files(changed, files)
        for table in (files, dbs):
            if tail.forget_missing(table, present):
                self.state_changed = True
        self._finish(snapshot, files, dbs)

    # --- files -----------------------------------------------------------------------------

    def _changed(self, index: int, source: Source, f: Found, files: Dict[str, Any]
                 ) -> Optional[Tuple[int, Found, Dict[str, Any], os.stat_result]]:
        """The file with a working copy of its cursor when it has something new, else None."""
        try:
            st = os.stat(f.path)
        except OSError as exc:
            self._failed(f.path, exc)
            return None
        old = files.get(f.path)
        if isinstance(source, JsonSource):
            if old is not None and all(old.get(k) == v for k, v in (
                    ("dev", st.st_dev), ("ino", st.st_ino), ("size", st.st_size), ("mtime", st.st_mtime_ns))):
                return None
            return index, f, {}, st  # the whole document again: its count starts over
        if tail.unchanged(self.state, f.path, st):
            return None
        cursor = dict(tail.cursor_for(self.state, f.path, st))
        cursor["ctx"] = dict(cursor.get("ctx") or {})
        return index, f, cursor, st

    def _read_files(self, changed: List[Tuple[int, Found, Dict[str, Any], os.stat_result]],
                    files: Dict[str, Any]) -> Iterator[UsageEvent]:
        unread = sum(st.st_size - cursor.get("offset", 0) for _, _, cursor, st in changed)
        count = workers.worker_count()
        if changed and unread >= workers.PARALLEL_MIN_BYTES and count > 0:
            tasks = [(self.agent.__module__, type(self.agent).__name__, index, f, cursor, self.reader.account_id,
                      self.reader.keep_raw) for index, f, cursor, _ in changed]
            for path, cursor, packed, counters, failed in workers.in_order(_read_task, tasks, count):
                if failed is not None:
                    self._failed(path, OSError(failed))
                    continue
                self.counters.add(counters)
                self.counters.files_read += 1
                yield from self._admit([workers.unpack(fields) for fields in packed], cursor)
                files[path] = cursor
                self.state_changed = True
            return
        for index, f, cursor, st in changed:
            source = self.agent.sources[index]
            try:
                if isinstance(source, JsonSource):
                    events = self.reader.document(source, f, cursor, st)
                else:
                    events = self.reader.jsonl(source, f, cursor)
            except OSError as exc:
                self._failed(f.path, exc)
                continue
            self.counters.files_read += 1
            yield from self._admit(events, cursor)
            # Committed only once the file's events are handed over, so an abandoned poll re-reads it.
            files[f.path] = cursor
            self.state_changed = True

    def _failed(self, path: str, exc: BaseException) -> None:
        # Vanished or unreadable between listing and reading: the next poll tries again.
        self.counters.files_failed += 1
        self.log.debug("%s: cannot read %s: %s", self.agent.id, path, exc)

    # --- databases -------------------------------------------------------------------------

    def _database(self, source: SqliteSource, f: Found, dbs: Dict[str, Any]) -> Iterator[UsageEvent]:
        old = dbs.get(f.path) if isinstance(dbs.get(f.path), dict) else None
        try:
            st = os.stat(f.path)
            conn = sqlite.open_readonly(f.path)
        except (OSError, sqlite3.Error) as exc:
            self._db_failed(f.path, exc)
            return
        try:
            conn.execute("BEGIN")  # one snapshot for the newest time and the rows up to it
            try:
                select = source.select
                if callable(select):
                    select = select(sqlite.table_columns(conn, source.table))
                if select is None:
                    self.counters.skip("unknown_schema")
                    return
                cursor = sqlite.resume(sqlite.identity(conn, st, source.table, source.id_column), old)
                table = sqlite.quote_name(source.table)
                cursor["n"] = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                rows = sqlite.ChangedRows(conn, source.table, select, cursor, source.time_column, source.id_column)
                for chunk in rows:
                    self.counters.rows += len(chunk)
                    found: List[Any] = []
                    for row in chunk:
                        as_dict = dict(zip(rows.names, row))
                        found.extend(self.reader.parsed(lambda r=as_dict: source.parse(r, f)))
                    yield from self._admit(self.reader.events(found), {})
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # Locked, corrupt or not (yet) the agent's schema: keep the cursor, try again next poll.
            self._db_failed(f.path, exc)
            return
        finally:
            conn.close()
        self.counters.dbs += 1
        if cursor != old:
            dbs[f.path] = cursor
            self.state_changed = True

    def _db_failed(self, path: str, exc: BaseException) -> None:
        self.counters.dbs_failed += 1
        self.log.debug("%s: cannot read %s: %s", self.agent.id, path, exc)

    # --- counting once ---------------------------------------------------------------------

    def _admit(self, events: List[UsageEvent], cursor: Dict[str, Any]) -> Iterator[UsageEvent]:
        """The events not already handed over this poll: a tool call once, a request again only if it grew
        (more tokens, or as many and more cost).

        cursor["n"] counts the file's requests (a database's is its row count instead).
        """
        for ev in events:
            if ev.event_type == "tool_usage":
                if ev.tool_call_id in self.tools_seen:
                    continue
                self.tools_seen.add(ev.tool_call_id or "")
                self.counters.tool_calls += 1
            elif ev.message_id is not None:
                total = _size(ev.total_tokens(), ev.cost_usd)
                known = self.emitted.get(ev.message_id)
                if known is not None and known >= total:
                    continue
                if known is None:
                    cursor["n"] = cursor.get("n", 0) + 1
                    self.counters.messages += 1
                self.emitted[ev.message_id] = total
            else:
                cursor["n"] = cursor.get("n", 0) + 1
                self.counters.messages += 1
            if ev.session_id:
                self.counters.sessions.add(ev.session_id)
            if ev.project:
                self.counters.projects.add(ev.project)
            yield ev

    def _finish(self, snapshot: UsageSnapshot, files: Dict[str, Any], dbs: Dict[str, Any]) -> None:
        c = self.counters
        total = sum(cur.get("n", 0) for cur in list(files.values()) + list(dbs.values()))
        where = records.plural(c.files, "file")
        if c.dbs or c.dbs_failed:
            where += " and " + records.plural(c.dbs + c.dbs_failed, "database")
        tail.put_summary(snapshot, f"{records.plural(total, 'message')} from {where}", dict(
            c.read_extras(), dbs=c.dbs, dbs_failed=c.dbs_failed, rows_read=c.rows, messages_total=total,
            messages_new=c.messages, tool_calls_new=c.tool_calls, sessions_new=len(c.sessions),
            projects_new=len(c.projects)))


def _read_task(task: tuple) -> tuple:
    """Worker: read one file; (path, cursor, events as tuples, counters, error)."""
    import importlib

    module, cls, index, f, cursor, account_id, keep_raw = task
    agent = getattr(importlib.import_module(module), cls)()
    reader = Reader(agent.id, account_id, agent.merge, keep_raw)
    source = agent.sources[index]
    try:
        if isinstance(source, JsonSource):
            events = reader.document(source, f, cursor, os.stat(f.path))
        else:
            events = reader.jsonl(source, f, cursor)
    except OSError as exc:
        return f.path, None, [], None, str(exc)
    c = reader.counters
    counters = {"bytes_read": c.bytes_read, "lines": c.lines, "skipped": c.skipped}
    return f.path, cursor, [workers.pack(ev) for ev in events], counters, None
