"""OpenCode: usage and tool calls read incrementally from OpenCode's local store.

The data dir is $OPENCODE_DATA_DIR, else $XDG_DATA_HOME/opencode (default ~/.local/share/opencode) and
its channel siblings opencode-canary/-beta/-nightly (FORMATS-REFERENCE.md section E). Each may hold
SQLite databases (opencode.db, opencode-<channel>.db; since v1.2) whose message and part rows carry the
message/part JSON without its ids, and the legacy tree storage/{session,message,part}/. A database row
wins over a legacy file for the same message id. Databases are opened read-only and never get a file
created beside them; rows are read from a per-database time_updated cursor, legacy files again only when
their (mtime, size) changed.

Counting rules: one message_usage event per assistant message once it has time.completed (messages are
rewritten while they stream). A message without it waits; it also counts once a later assistant message
of its session exists, since OpenCode starts the next one only after the previous ended (a crash leaves
the last write without time.completed). Tokens: input = tokens.input (OpenCode already takes cache reads
and writes out), cache_read/cache_write = tokens.cache.read/write, output = tokens.output +
tokens.reasoning. OpenCode stores reasoning beside output (anomalyco/opencode#21047 made output the AI
SDK's outputTokens minus reasoningTokens; the Google provider reported them apart before), except in
older OpenAI-style records whose tokens.total = input + cache + output shows reasoning inside output;
reasoning_tokens is then the part of output spent reasoning, never added twice. Each tool part of a
finished message in a final state is a tool_usage event keyed by its callID, the key the plugin's
tool.execute.after hook sends.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import sqlite3
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import quote

from openusage.core import pricing
from openusage.core.events import UsageEvent, split_mcp_tool
from openusage.core.snapshot import UsageSnapshot
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, local_snapshot

PROVIDER_ID = "opencode"
ENV_DATA_DIR = "OPENCODE_DATA_DIR"
ENV_XDG_DATA = "XDG_DATA_HOME"
CHANNELS = ("canary", "beta", "nightly")
FINAL_TOOL_STATES = ("completed", "error")
BATCH = 500  # rows per fetch, and ids per IN (...) query (below SQLite's 999 variables)
MAX_PENDING = 2000  # unfinished messages remembered between polls; the oldest go first

_PATH_SEP = re.compile(r"[\\/]")


class OpenCodeProvider(Provider):
    id = PROVIDER_ID
    name = "OpenCode"
    source_modes = ("local",)
    # XDG_DATA_HOME locates the default data dir, as OpenCode itself resolves it.
    env_vars = (ENV_DATA_DIR, ENV_XDG_DATA)
    default_interval = 30.0
    fetch_timeout = 120.0  # the first poll reads the whole history (about 8 s for 50k messages)
    emits_events = True
    widgets = {
        "figures": ["spend.total", "tokens.total", "tool_calls"],
        "sections": ["models", "tools", "projects", "sessions", "mcp_servers"],
    }

    # --- detection --------------------------------------------------------------------------

    def detect(self, env: Dict[str, str], home: str,
               which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        """One account when any OpenCode data dir exists."""
        for path in data_dirs(env.get, home):
            if os.path.isdir(path):
                return [AccountConfig(id=PROVIDER_ID, provider=PROVIDER_ID, detected_by=path)]
        return []

    # --- fetch ------------------------------------------------------------------------------

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        """A snapshot plus a lazy stream of events; the stream fills in the snapshot's counters."""
        dirs = data_dirs(ctx.env.get, ctx.fs.home)
        snapshot = local_snapshot(self, account, {"data_dirs": dirs}, dirs, "no OpenCode data directory found")
        if snapshot.status != "OK":
            return FetchResult(snapshot=snapshot, events=[])
        events = Collector(account.id, ctx.state, ctx.log).run([d for d in dirs if os.path.isdir(d)], snapshot)
        return FetchResult(snapshot=snapshot, events=events)  # type: ignore[arg-type]


# --- directories and databases -------------------------------------------------------------------


def data_dirs(env_get: Callable[[str], Optional[str]], home: str) -> List[str]:
    """OPENCODE_DATA_DIR when set, else the default data dir, its channel siblings (and macOS's)."""
    configured = env_get(ENV_DATA_DIR)
    if configured:
        return [_expand(configured, home)]
    xdg = env_get(ENV_XDG_DATA)
    root = xdg if xdg and os.path.isabs(xdg) else os.path.join(home, ".local", "share")
    base = os.path.normpath(os.path.join(root, "opencode"))
    dirs = [base] + [f"{base}-{channel}" for channel in CHANNELS]
    if sys.platform == "darwin":
        dirs.append(os.path.join(home, "Library", "Application Support", "opencode"))
    return dirs


def _expand(path: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        path = os.path.join(home, path[2:])
    return os.path.normpath(path)


def database_files(data_dir: str) -> List[str]:
    """opencode.db and opencode-<channel>.db in a data dir."""
    try:
        names = sorted(os.listdir(data_dir))
    except OSError:
        return []
    return [os.path.join(data_dir, n) for n in names
            if n == "opencode.db" or (n.startswith("opencode-") and n.endswith(".db"))]


def open_readonly(path: str) -> sqlite3.Connection:
    """A read-only connection that creates no file in OpenCode's directory."""
    # OpenCode keeps its database in WAL mode. While it runs, the -wal and -shm files exist and
    # mode=ro reads through them; without a -wal file SQLite would create both beside the database,
    # so then it is opened as immutable (nothing is writing it).
    immutable = not os.path.exists(path + "-wal")
    uri = "file:" + quote(os.path.abspath(path)) + "?mode=ro" + ("&immutable=1" if immutable else "")
    conn = sqlite3.connect(uri, uri=True, timeout=5.0, isolation_level=None)
    conn.text_factory = lambda b: b.decode("utf-8", errors="replace")
    return conn


# --- parsing (pure) ------------------------------------------------------------------------------


class SkippedRecord(ValueError):
    """A record that looked like usage but cannot be used; `reason` names why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Message:
    """The usage-relevant fields of one assistant message (never its content)."""

    id: str
    session_id: Optional[str] = None
    created_ms: Optional[float] = None
    completed_ms: Optional[float] = None
    parent_id: Optional[str] = None
    model: Optional[str] = None
    upstream_provider: Optional[str] = None
    mode: Optional[str] = None
    agent: Optional[str] = None
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_logged: Optional[float] = None
    project: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)  # finish, error, variant, tokens as logged

    @property
    def final(self) -> bool:
        return self.completed_ms is not None

    @property
    def occurred_at(self) -> float:
        ms = self.completed_ms if self.completed_ms is not None else self.created_ms
        return (ms or 0.0) / 1000.0

    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens

    def has_usage(self) -> bool:
        return self.total_tokens() > 0 or self.cost_logged is not None

    @property
    def raw(self) -> Dict[str, Any]:
        raw: Dict[str, Any] = {"id": self.id, "parentID": self.parent_id, "providerID": self.upstream_provider,
                               "modelID": self.model}
        for key in ("mode", "agent"):
            if getattr(self, key):
                raw[key] = getattr(self, key)
        raw.update(self.extra)
        return raw


@dataclass
class ToolCall:
    call_id: str
    name: str
    status: str
    part_id: Optional[str] = None
    started_ms: Optional[float] = None
    ended_ms: Optional[float] = None


def load_json(text: Any) -> Any:
    """A decoded JSON document; SkippedRecord("bad_json") when it is not one."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):  # also UnicodeDecodeError
        raise SkippedRecord("bad_json") from None


def parse_message(obj: Any, row_id: Optional[str] = None, row_session: Optional[str] = None) -> Optional[Message]:
    """The assistant message in a message JSON document; None for other roles.

    Database rows keep the ids in columns (row_id, row_session), legacy files inside the document.
    """
    if not isinstance(obj, dict):
        raise SkippedRecord("bad_record")
    if obj.get("role") != "assistant":
        return None
    msg_id = _text(obj.get("id")) or row_id
    if msg_id is None:
        raise SkippedRecord("no_id")
    times = obj.get("time") if isinstance(obj.get("time"), dict) else {}
    created, completed = _ms(times.get("created")), _ms(times.get("completed"))
    if (completed is None and times.get("completed") is not None) or (completed is None and created is None):
        raise SkippedRecord("bad_timestamp")
    tokens = obj.get("tokens") if isinstance(obj.get("tokens"), dict) else {}
    inp, out, reasoning, cache_read, cache_write = normalize_tokens(tokens)
    msg = Message(
        id=msg_id, session_id=_text(obj.get("sessionID")) or row_session, created_ms=created,
        completed_ms=completed, parent_id=_text(obj.get("parentID")), model=_text(obj.get("modelID")),
        upstream_provider=_text(obj.get("providerID")), mode=_text(obj.get("mode")),
        agent=_text(obj.get("agent")), input_tokens=inp, output_tokens=out, reasoning_tokens=reasoning,
        cache_read_tokens=cache_read, cache_write_tokens=cache_write, cost_logged=_cost(obj.get("cost")),
        project=project_of_path(obj.get("path")),
    )
    if tokens:
        msg.extra["tokens"] = _numbers(tokens)
    for key in ("finish", "variant"):
        if _text(obj.get(key)):
            msg.extra[key] = obj[key]
    error = obj.get("error")
    if isinstance(error, dict) and _text(error.get("name")):
        msg.extra["error"] = error["name"]
    return msg


def normalize_tokens(tokens: Dict[str, Any]) -> Tuple[int, int, int, int, int]:
    """(input, output with reasoning, reasoning, cache_read, cache_write) of a tokens object."""
    cache = tokens.get("cache") if isinstance(tokens.get("cache"), dict) else {}
    inp, out, reasoning = _count(tokens.get("input")), _count(tokens.get("output")), _count(tokens.get("reasoning"))
    cache_read, cache_write = _count(cache.get("read")), _count(cache.get("write"))
    total = tokens.get("total")
    inside = _is_number(total) and total == inp + cache_read + cache_write + out
    if reasoning and not inside:
        out += reasoning
    return inp, out, min(reasoning, out), cache_read, cache_write


def parse_tool_part(obj: Any, row_id: Optional[str] = None) -> Optional[ToolCall]:
    """A tool call in a final state from a part JSON document; None for other parts and running tools."""
    if not isinstance(obj, dict) or obj.get("type") != "tool":
        return None
    name = _text(obj.get("tool"))
    state = obj.get("state") if isinstance(obj.get("state"), dict) else {}
    status = state.get("status")
    if name is None or status not in FINAL_TOOL_STATES:
        return None
    part_id = _text(obj.get("id")) or row_id
    call_id = _text(obj.get("callID")) or part_id
    if call_id is None:
        return None
    times = state.get("time") if isinstance(state.get("time"), dict) else {}
    return ToolCall(call_id=call_id, name=name, status=status, part_id=part_id,
                    started_ms=_ms(times.get("start")), ended_ms=_ms(times.get("end")))


def project_of_path(path: Any) -> Optional[str]:
    """The project of a message's path: the last component of path.root, else of path.cwd."""
    if not isinstance(path, dict):
        return None
    return project_name(path.get("root")) or project_name(path.get("cwd"))


def project_name(directory: Any) -> Optional[str]:
    """The last component of a directory ('/' and '' give None); Windows separators too."""
    if not isinstance(directory, str):
        return None
    parts = [p for p in _PATH_SEP.split(directory) if p]
    return parts[-1] if parts else None


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _is_number(value: Any) -> bool:
    kind = type(value)  # exact types: bool is an int subclass and no count
    return kind is int or (kind is float and math.isfinite(value))


def _count(value: Any) -> int:
    if type(value) is int:  # the usual case, checked first: this runs for every field of every message
        return value if value > 0 else 0
    if not _is_number(value) or value <= 0:
        return 0
    return int(math.floor(value + 0.5))  # rounded as the plugin rounds, so both paths store the same numbers


def _ms(value: Any) -> Optional[float]:
    return float(value) if _is_number(value) and value > 0 else None


def _cost(value: Any) -> Optional[float]:
    """OpenCode's own estimate; 0 (subscription providers) is no logged cost."""
    return float(value) if _is_number(value) and value > 0 else None


def _numbers(tokens: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in tokens.items():
        if isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if _is_number(v)}
        elif _is_number(value):
            out[key] = value
    return out


def compute_message_cost(msg: Message) -> Optional[float]:
    """USD for one message from the price table; None when the model is unknown."""
    if msg.model is None:
        return None
    return pricing.compute_cost(msg.model, msg.input_tokens, msg.output_tokens, msg.cache_read_tokens,
                                msg.cache_write_tokens)


def usage_event(msg: Message, account_id: str, project: Optional[str], source: str) -> UsageEvent:
    """The message_usage event of one assistant message; its key is the message id, as the plugin's."""
    computed = compute_message_cost(msg)
    raw = msg.raw
    raw["source"] = source
    return UsageEvent(
        source=PROVIDER_ID, provider_id=PROVIDER_ID, account_id=account_id, event_type="message_usage",
        occurred_at=msg.occurred_at, session_id=msg.session_id, turn_id=msg.parent_id, message_id=msg.id,
        model=msg.model, input_tokens=msg.input_tokens, output_tokens=msg.output_tokens,
        cache_read_tokens=msg.cache_read_tokens, cache_write_tokens=msg.cache_write_tokens,
        reasoning_tokens=msg.reasoning_tokens, cost_usd=pricing.apply_cost_mode("auto", msg.cost_logged, computed),
        cost_logged_usd=msg.cost_logged, cost_computed_usd=computed, requests=1, project=project, raw=raw,
    )


def tool_event(call: ToolCall, msg: Message, account_id: str, project: Optional[str]) -> UsageEvent:
    """The tool_usage event of one tool part, keyed by the callID the plugin's hook sends too."""
    start = call.started_ms if call.started_ms is not None else call.ended_ms
    return UsageEvent(
        source=PROVIDER_ID, provider_id=PROVIDER_ID, account_id=account_id, event_type="tool_usage",
        occurred_at=start / 1000.0 if start is not None else msg.occurred_at, session_id=msg.session_id,
        tool_call_id=call.call_id, tool_name=call.name, mcp_server=split_mcp_tool(call.name), model=msg.model,
        requests=0, project=project,
        raw={"part_id": call.part_id, "message_id": msg.id, "status": call.status},
    )


# --- collecting ----------------------------------------------------------------------------------


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
            conn = open_readonly(path)
        except (OSError, sqlite3.Error) as exc:
            self._db_failed(path, old, exc)
            return
        self.conns[path] = conn
        cursor: Dict[str, Any] = {"dev": st.st_dev, "ino": st.st_ino, "first": None, "t": None, "ids": []}
        try:
            conn.execute("BEGIN")  # one snapshot for the newest time and the rows up to it
            try:
                # A file put in the database's place may reuse its inode; its first row tells them apart.
                first = conn.execute("SELECT id FROM message ORDER BY rowid LIMIT 1").fetchone()
                cursor["first"] = first[0] if first else None
                # What the store holds, for the tile (OpenCode indexes message by session_id).
                messages, sessions = conn.execute(
                    "SELECT COUNT(*), COUNT(DISTINCT session_id) FROM message").fetchone()
                self.counters.db_messages += messages
                self.counters.db_sessions += sessions
                if all(old.get(k) == cursor[k] for k in ("dev", "ino", "first")):
                    cursor.update(t=old.get("t"), ids=list(old.get("ids") or []))
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
        top = conn.execute("SELECT MAX(time_updated) FROM message").fetchone()[0]
        since = cursor["t"]
        if top is None or (since is not None and top < since):
            return  # empty, or the newest rows were deleted (a reverted turn): nothing new
        done = set(cursor["ids"]) if since is not None else set()
        if since is None:
            rows = conn.execute("SELECT id, session_id, time_updated, data FROM message WHERE time_updated <= ?",
                                (top,))
        else:
            rows = conn.execute("SELECT id, session_id, time_updated, data FROM message "
                                "WHERE time_updated >= ? AND time_updated <= ?", (since, top))
        at_top = list(done) if since == top else []
        while True:
            chunk = rows.fetchmany(BATCH)
            if not chunk:
                break
            messages = []
            for row_id, session, updated, data in chunk:
                if updated == since and row_id in done:
                    continue
                if updated == top:
                    at_top.append(row_id)
                self.counters.rows += 1
                msg = self._row_message(row_id, session, data)
                if msg is not None:
                    messages.append(msg)
            yield from self._settle(messages, ("db", path))
        cursor["t"], cursor["ids"] = top, sorted(set(at_top))

    def _pending_rows(self, path: str, conn: sqlite3.Connection) -> Iterator[UsageEvent]:
        """Unfinished messages of earlier polls, read again by id (their rows may have changed)."""
        ids = [mid for mid, p in self.pending.items() if p.get("db") == path and mid not in self.seen]
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            rows = conn.execute("SELECT id, session_id, data FROM message WHERE id IN " + _marks(chunk),
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
            rows = conn.execute("SELECT id, message_id, data FROM part WHERE message_id IN " + _marks(chunk)
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
        for session_dir in _sorted_dirs(root):
            session = os.path.basename(session_dir)
            names = _sorted_names(session_dir, ".json")
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
        for name in _sorted_names(part_dir, ".json"):
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
                directory = _db_session_dir(self.conns.get(source[1]), session)
            else:
                storage = os.path.dirname(os.path.dirname(os.path.dirname(source[1])))
                directory = _file_session_dir(storage, session)
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
        self.state.update(dbs=self.new_dbs, files=self.new_files, pending=pending)

    def _finish(self, snapshot: UsageSnapshot) -> None:
        c = self.counters
        # The databases hold what OpenCode migrated from the legacy tree: their counts win when present.
        total, sessions = (c.db_messages, c.db_sessions) if c.dbs else (c.files, c.legacy_sessions)
        snapshot.message = f"{_plural(total, 'message')} in {_plural(sessions, 'session')}"
        if c.messages:
            snapshot.message += f" ({c.messages:,} new)"
        if self.pending:
            snapshot.message += f"; {len(self.pending):,} in progress"
        extras = snapshot.extras if snapshot.extras is not None else {}
        extras.update(
            dbs=list(c.dbs), dbs_failed=c.dbs_failed, rows_read=c.rows, files=c.files, files_read=c.files_read,
            files_failed=c.files_failed, messages_new=c.messages, tool_calls_new=c.tool_calls,
            messages_total=total, sessions_total=sessions,
            messages_waiting=len(self.pending), messages_superseded=c.superseded, legacy_in_db=c.legacy_in_db,
            skipped=sum(c.skipped.values()), skipped_reasons=dict(c.skipped),
        )
        snapshot.extras = extras


def _marks(values: List[str]) -> str:
    return "(" + ",".join("?" * len(values)) + ")"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _sorted_dirs(path: str) -> List[str]:
    try:
        return [e.path for e in sorted(os.scandir(path), key=lambda e: e.name) if e.is_dir()]
    except OSError:
        return []


def _sorted_names(path: str, suffix: str) -> List[str]:
    try:
        return sorted(n for n in os.listdir(path) if n.endswith(suffix))
    except OSError:
        return []


def _db_session_dir(conn: Optional[sqlite3.Connection], session: str) -> Optional[str]:
    if conn is None:
        return None
    try:
        cur = conn.execute("SELECT * FROM session WHERE id = ?", (session,))
        row = cur.fetchone()
        if row is None:
            return None
        values = dict(zip([d[0] for d in cur.description], row))
    except sqlite3.Error:
        return None
    if isinstance(values.get("directory"), str):
        return values["directory"]
    try:
        data = json.loads(values.get("data") or "")
    except (TypeError, ValueError):
        return None
    return data.get("directory") if isinstance(data, dict) else None


def _file_session_dir(storage: str, session: str) -> Optional[str]:
    for project_dir in _sorted_dirs(os.path.join(storage, "session")):
        path = os.path.join(project_dir, session + ".json")
        try:
            with open(path, "rb") as fh:
                data = json.loads(fh.read())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("directory"), str):
            return data["directory"]
    return None
