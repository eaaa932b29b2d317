"""One poll over OpenCode's data dirs: database rows from a time_updated cursor, then the legacy files."""
from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

from openusage.agents import saved, tail
from openusage.agents import sqlite as agent_sqlite
from openusage.agents.opencode.files import (
    database_files,
    db_session_dir,
    file_session_dir,
    sorted_dirs,
    sorted_names,
)
from openusage.agents.opencode.parse import (
    Message,
    SkippedRecord,
    ToolCall,
    load_json,
    parse_message,
    parse_tool_part,
    tool_event,
    usage_event,
)
from openusage.agents.records import plural, project_name
from openusage.core.events import UsageEvent
from openusage.core.snapshot import UsageSnapshot

BATCH = agent_sqlite.BATCH  # rows per fetch, and ids per IN (...) query (below SQLite's 999 variables)
MAX_PENDING = 2000  # unfinished messages remembered between polls; the oldest go first
# The form of the state this collector keeps (agents/saved.py); a newer form is read again from the start.
STATE_VERSION = 1



@dataclass
class Counters:
    dbs: List[str] = field(default_factory=list)
    dbs_failed: int = 0
    rows: int = 0
    files: int = 0
    files_read: int = 0
    files_failed: int = 0
    messages: int = 0
    tool_calls: int = 0
    legacy_in_db: int = 0
    db_messages: int = 0  # message rows in the databases (all roles), for the tile's line
    db_sessions: int = 0
    legacy_sessions: int = 0
    superseded: int = 0
    skipped: Dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


Source = Tuple[str, str]  # ("db", database path) or ("file", message file path)


class Collector:
    """One poll over every data dir: yields events; the new cursors replace `state` at the end."""

    def __init__(self, account_id: str, state: Dict[str, Any], log: Optional[logging.Logger] = None):
        saved.upgrade(state, STATE_VERSION, {})
        self.account_id = account_id
        self.state = state
        self.log = log or logging.getLogger(__name__)
        self.counters = Counters()
        self.conns: Dict[str, sqlite3.Connection] = {}
        self.new_dbs: Dict[str, Any] = {}
        self.new_files: Dict[str, List[int]] = {}
        pending = state.get("pending") if isinstance(state.get("pending"), dict) else {}
        self.pending: Dict[str, Dict[str, Any]] = {k: dict(v) for k, v in pending.items() if isinstance(v, dict)}
        self.seen: set = set()  # message ids read this poll
        self.emitted: set = set()
        self.latest: Dict[str, float] = {}  # session -> newest assistant message created this poll
        self.session_dirs: Dict[Tuple[str, str], Optional[str]] = {}

    def run(self, dirs: List[str], snapshot: UsageSnapshot) -> Iterator[UsageEvent]:
        """Read every database, then the legacy files, then settle superseded messages; commit."""
        try:
            for data_dir in dirs:
                for path in database_files(data_dir):
                    yield from self._database(path)
                storage = os.path.join(data_dir, "storage")
                if os.path.isdir(os.path.join(storage, "message")):
                    yield from self._legacy(storage)
            yield from self._superseded()
        finally:
            for conn in self.conns.values():
                conn.close()
        self._commit()
        self._finish(snapshot)

    # --- databases ---------------------------------------------------------------------------

    def _database(self, path: str) -> Iterator[UsageEvent]:
        old = (self.state.get("dbs") or {}).get(path)
        old = old if isinstance(old, dict) else {}
        try:
            st = os.stat(path)
            conn = agent_sqlite.open_readonly(path)
        except (OSError, sqlite3.Error) as exc:
            self._db_failed(path, old, exc)
            return
        self.conns[path] = conn
        try:
            conn.execute("BEGIN")  # one snapshot for the newest time and the rows up to it
            try:
                # A file put in the database's place may reuse its inode; its first row tells them apart.
                cursor = agent_sqlite.resume(agent_sqlite.identity(conn, st, "message"), old)
                # What the store holds, for the tile (OpenCode indexes message by session_id).
                messages, sessions = conn.execute(
                    "SELECT COUNT(*), COUNT(DISTINCT session_id) FROM message").fetchone()
                self.counters.db_messages += messages
                self.counters.db_sessions += sessions
                yield from self._new_rows(path, conn, cursor)
                yield from self._pending_rows(path, conn)
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._db_failed(path, old, exc)
            return
        self.counters.dbs.append(path)
        self.new_dbs[path] = cursor

    def _db_failed(self, path: str, old: Dict[str, Any], exc: BaseException) -> None:
        # Locked, corrupt or not (yet) OpenCode's schema: keep the cursor, try again next poll.
        self.counters.dbs_failed += 1
        self.log.debug("opencode: cannot read %s: %s", path, exc)
        if old:
            self.new_dbs[path] = old

    def _new_rows(self, path: str, conn: sqlite3.Connection, cursor: Dict[str, Any]) -> Iterator[UsageEvent]:
        """Message rows updated since the cursor (its own time again, minus the ids already read)."""
        for chunk in agent_sqlite.ChangedRows(conn, "message", "t.session_id, t.data", cursor, batch=BATCH):
            self.counters.rows += len(chunk)
            messages = [m for m in (self._row_message(row_id, session, data) for row_id, _, session, data in chunk)
                        if m is not None]
            yield from self._settle(messages, ("db", path))

    def _pending_rows(self, path: str, conn: sqlite3.Connection) -> Iterator[UsageEvent]:
        """Unfinished messages of earlier polls, read again by id (their rows may have changed)."""
        ids = [mid for mid, p in self.pending.items() if p.get("db") == path and mid not in self.seen]
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            rows = conn.execute("SELECT id, session_id, data FROM message WHERE id IN " + agent_sqlite.marks(chunk),
                                chunk).fetchall()
            found = {r[0] for r in rows}
            for gone in set(chunk) - found:
                self.pending.pop(gone, None)
            messages = [m for m in (self._row_message(*r) for r in rows) if m is not None]
            yield from self._settle(messages, ("db", path))

    def _row_message(self, row_id: str, session: Optional[str], data: Any) -> Optional[Message]:
        try:
            return parse_message(load_json(data), row_id, session)
        except SkippedRecord as exc:
            self.counters.skip(exc.reason)
        except Exception as exc:  # a row of an unknown future shape must not stop the poll
            self.counters.skip("bad_record")
            self.log.debug("opencode: row %s: %s", row_id, exc)
        return None

    def _db_tools(self, path: str, message_ids: List[str]) -> Dict[str, List[ToolCall]]:
        conn = self.conns[path]
        found: Dict[str, List[ToolCall]] = {}
        for start in range(0, len(message_ids), BATCH):
            chunk = message_ids[start:start + BATCH]
            # instr() keeps text parts (most of the table's bytes) out of Python.
            rows = conn.execute("SELECT id, message_id, data FROM part WHERE message_id IN " + agent_sqlite.marks(chunk)
                                + " AND instr(data, '\"tool\"') > 0 ORDER BY message_id, id", chunk)
            for part_id, message_id, data in rows:
                call = self._tool(data, part_id)
                if call is not None:
                    found.setdefault(message_id, []).append(call)
        return found

    def _tool(self, data: Any, part_id: Optional[str]) -> Optional[ToolCall]:
        try:
            return parse_tool_part(load_json(data), part_id)
        except SkippedRecord as exc:
            self.counters.skip("part_" + exc.reason)
        except Exception:
            self.counters.skip("part_bad_record")
        return None

    # --- legacy JSON files -------------------------------------------------------------------

    def _legacy(self, storage: str) -> Iterator[UsageEvent]:
        old_files = self.state.get("files") if isinstance(self.state.get("files"), dict) else {}
        root = os.path.join(storage, "message")
        for session_dir in sorted_dirs(root):
            session = os.path.basename(session_dir)
            names = sorted_names(session_dir, ".json")
            self.counters.legacy_sessions += 1 if names else 0
            for name in names:
                path = os.path.join(session_dir, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue  # vanished between listing and reading
                self.counters.files += 1
                signature = [st.st_mtime_ns, st.st_size]
                if old_files.get(path) == signature:
                    self.new_files[path] = signature
                    continue
                yield from self._legacy_file(path, session, name[:-5], signature)

    def _legacy_file(self, path: str, session: str, stem: str, signature: List[int]) -> Iterator[UsageEvent]:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            self.counters.files_failed += 1
            self.log.debug("opencode: cannot read %s: %s", path, exc)
            return
        self.counters.files_read += 1
        try:
            msg = parse_message(load_json(data), stem, session)
        except SkippedRecord as exc:
            # Not remembered: a file caught half-written is read again next poll.
            self.counters.skip(exc.reason)
            return
        except Exception:
            self.counters.skip("bad_record")
            return
        self.new_files[path] = signature
        if msg is None:
            return
        if self._in_database(msg.id):
            self.counters.legacy_in_db += 1
            self.pending.pop(msg.id, None)
            return
        yield from self._settle([msg], ("file", path))

    def _in_database(self, message_id: str) -> bool:
        for conn in self.conns.values():
            try:
                if conn.execute("SELECT 1 FROM message WHERE id = ? LIMIT 1", (message_id,)).fetchone():
                    return True
            except sqlite3.Error:
                continue
        return False

    def _file_tools(self, path: str, message_id: str) -> List[ToolCall]:
        storage = os.path.dirname(os.path.dirname(os.path.dirname(path)))
        part_dir = os.path.join(storage, "part", message_id)
        calls = []
        for name in sorted_names(part_dir, ".json"):
            try:
                with open(os.path.join(part_dir, name), "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            call = self._tool(data, name[:-5])
            if call is not None:
                calls.append(call)
        return calls

    # --- settling messages -------------------------------------------------------------------

    def _settle(self, messages: List[Message], source: Source) -> Iterator[UsageEvent]:
        """Emit the finished messages with their tool calls; remember the unfinished ones."""
        finished = []
        for msg in messages:
            self.seen.add(msg.id)
            if msg.session_id and msg.created_ms is not None:
                self.latest[msg.session_id] = max(self.latest.get(msg.session_id, 0.0), msg.created_ms)
            if msg.final:
                self.pending.pop(msg.id, None)
                if msg.id not in self.emitted:
                    finished.append(msg)
            else:
                self.pending[msg.id] = {source[0]: source[1], "session": msg.session_id, "created": msg.created_ms}
        yield from self._emit(finished, source)

    def _emit(self, messages: List[Message], source: Source) -> Iterator[UsageEvent]:
        if not messages:
            return
        kind, path = source
        if kind == "db":
            tools = self._db_tools(path, [m.id for m in messages])
        else:
            tools = {m.id: self._file_tools(path, m.id) for m in messages}
        for msg in messages:
            self.emitted.add(msg.id)
            project = msg.project or self._session_project(source, msg.session_id)
            if msg.has_usage():
                self.counters.messages += 1
                yield usage_event(msg, self.account_id, project, kind)
            for call in tools.get(msg.id, ()):
                self.counters.tool_calls += 1
                yield tool_event(call, msg, self.account_id, project)

    def _superseded(self) -> Iterator[UsageEvent]:
        """Unfinished messages whose session has a later assistant message count as they stand."""
        for mid, entry in list(self.pending.items()):
            latest = self.latest.get(entry.get("session") or "")
            created = entry.get("created")
            if latest is None or not isinstance(created, (int, float)) or latest <= created:
                continue
            self.pending.pop(mid, None)
            source, msg = self._reload(mid, entry)
            if msg is None or mid in self.emitted:
                continue
            self.counters.superseded += 1
            yield from self._emit([msg], source)

    def _reload(self, mid: str, entry: Dict[str, Any]) -> Tuple[Source, Optional[Message]]:
        if "db" in entry:
            path = entry["db"]
            conn = self.conns.get(path)
            row = None
            if conn is not None:
                try:
                    row = conn.execute("SELECT id, session_id, data FROM message WHERE id = ?", (mid,)).fetchone()
                except sqlite3.Error:
                    row = None
            return ("db", path), (self._row_message(*row) if row else None)
        path = entry.get("file") or ""
        try:
            with open(path, "rb") as fh:
                msg = parse_message(load_json(fh.read()), mid, entry.get("session"))
        except (OSError, SkippedRecord):
            msg = None
        return ("file", path), msg

    def _session_project(self, source: Source, session: Optional[str]) -> Optional[str]:
        """The project of a session's directory, for messages without a path."""
        if not session:
            return None
        key = (source[1] if source[0] == "db" else "file", session)
        if key not in self.session_dirs:
            directory = None
            if source[0] == "db":
                directory = db_session_dir(self.conns.get(source[1]), session)
            else:
                storage = os.path.dirname(os.path.dirname(os.path.dirname(source[1])))
                directory = file_session_dir(storage, session)
            self.session_dirs[key] = project_name(directory)
        return self.session_dirs[key]

    # --- end of poll -------------------------------------------------------------------------

    def _commit(self) -> None:
        sources = set(self.new_dbs) | set(self.new_files)
        pending = {k: v for k, v in self.pending.items() if (v.get("db") or v.get("file")) in sources}
        if len(pending) > MAX_PENDING:
            newest = sorted(pending, key=lambda k: pending[k].get("created") or 0)[-MAX_PENDING:]
            pending = {k: pending[k] for k in newest}
        self.pending = pending
        self.state.clear()
        self.state.update({saved.VERSION_KEY: STATE_VERSION, "dbs": self.new_dbs, "files": self.new_files,
                           "pending": pending})

    def _finish(self, snapshot: UsageSnapshot) -> None:
        c = self.counters
        # The databases hold what OpenCode migrated from the legacy tree: their counts win when present.
        total, sessions = (c.db_messages, c.db_sessions) if c.dbs else (c.files, c.legacy_sessions)
        message = f"{plural(total, 'message')} in {plural(sessions, 'session')}"
        if c.messages:
            message += f" ({c.messages:,} new)"
        if self.pending:
            message += f"; {len(self.pending):,} in progress"
        tail.put_summary(snapshot, message, dict(
            dbs=list(c.dbs), dbs_failed=c.dbs_failed, rows_read=c.rows, files=c.files, files_read=c.files_read,
            files_failed=c.files_failed, messages_new=c.messages, tool_calls_new=c.tool_calls,
            messages_total=total, sessions_total=sessions,
            messages_waiting=len(self.pending), messages_superseded=c.superseded, legacy_in_db=c.legacy_in_db,
            skipped=sum(c.skipped.values()), skipped_reasons=dict(c.skipped),
        ))
