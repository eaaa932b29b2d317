"""Codex CLI: usage, tool calls and plan limits read incrementally from the rollouts Codex writes.

Rollouts are `<home>/sessions/YYYY/MM/DD/rollout-<local time>-<session uuid>.jsonl` and, once archived,
`<home>/archived_sessions/`; the home is CODEX_HOME, else `~/.codex` (FORMATS.md, FORMATS-REFERENCE.md
section C). Only appended bytes are read on each poll; each file's carry-over (last cumulative totals,
model, session, cwd, turn, fork state) lives in its cursor so a new tail yields exactly the new usage.

Counting rules: usage is the positive change of `total_token_usage` between token_count events
(repeated events add nothing; totals that go down take `last_token_usage`). A forked or spawned session
starts with copies of its parent's token rows: the parent owns them, the child counts only what follows.
Each request is keyed `<session id>:<ordinal of its token row>`, so a file read again (replaced,
truncated, archived) produces the same keys and the store keeps one row per request.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

from openusage.agents import tail
from openusage.core import pricing
from openusage.core.events import UsageEvent, split_mcp_tool
from openusage.core.snapshot import RateLimit, UsageSnapshot
from openusage.core.timeutil import format_rfc3339, parse_rfc3339
from openusage.providers import quota_codex, quota_common
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider

PROVIDER_ID = "codex"
ENV_HOME = "CODEX_HOME"
# ccusage prices requests of legacy sessions that never name their model as gpt-5; so do we (flagged).
FALLBACK_MODEL = "gpt-5"
# A spawned session whose parent rollout is gone: token rows stamped this close to the session start
# are replays of the parent's (ccusage's rule), kept only as the baseline.
REPLAY_BURST_SECONDS = 1.0
# Turn ids of old builds were per-process counters ("1", "2"): not unique enough for a dedup key.
MIN_TURN_ID_LENGTH = 16

_UUID_TAIL = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")
# Substrings of the only lines that matter; everything else (messages, reasoning, tool output) is
# never decoded. `_call"` matches function_call, custom_tool_call and local_shell_call type names.
_MARKERS = (b'"token_count"', b'"turn_context"', b'"session_meta"', b'_call"', b'"task_complete"',
            b'"task_started"', b'"instructions"')
_TOOL_ITEMS = {"function_call", "custom_tool_call", "local_shell_call"}
_WINDOWS = {299: "5h", 300: "5h", 10079: "weekly", 10080: "weekly", 43800: "monthly"}


class CodexProvider(Provider):
    id = PROVIDER_ID
    name = "Codex CLI"
    source_modes = ("local",)
    env_vars = (ENV_HOME,)
    poll_cost = "free: local logs, and the plan's usage endpoint at most once a minute"
    default_interval = 30.0
    emits_events = True
    widgets = {
        "figures": ["spend.total", "tokens.total", "tool_calls"],
        "gauges": ["5h", "weekly"],
        "sections": ["models", "tools", "projects", "sessions"],
    }

    # --- detection --------------------------------------------------------------------------

    def detect(self, env: Dict[str, str], home: str,
               which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        """One account when the Codex home has sessions, archived sessions or a config.toml."""
        root = codex_home(env.get, home)
        markers = (os.path.join(root, "sessions"), os.path.join(root, "archived_sessions"))
        if any(os.path.isdir(m) for m in markers) or os.path.isfile(os.path.join(root, "config.toml")):
            return [AccountConfig(id=PROVIDER_ID, provider=PROVIDER_ID, detected_by=root)]
        return []

    # --- fetch ------------------------------------------------------------------------------

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        """A snapshot plus a lazy stream of events; the stream fills in the snapshot's counters."""
        root = codex_home(ctx.env.get, ctx.fs.home)
        snapshot = UsageSnapshot(provider_id=self.id, account_id=account.id,
                                 display_name=account.display_name or self.name, currency="USD",
                                 extras={"home": root})
        dirs = [os.path.join(root, d) for d in ("sessions", "archived_sessions")]
        if not any(os.path.isdir(d) for d in dirs):
            snapshot.status = "UNKNOWN"
            snapshot.message = f"no Codex sessions found (looked in {root})"
            apply_limits(snapshot, ctx.state, ctx.now)
            quota_codex.apply(snapshot, account, ctx)
            return FetchResult(snapshot=snapshot, events=[])
        snapshot.status = "OK"
        events = Collector(account.id, ctx.state, ctx.now, ctx.log).run(root, snapshot)
        # The live plan windows (quota_codex) join the rollouts' once these are read.
        events = quota_common.finish_with(events, lambda: quota_codex.apply(snapshot, account, ctx))
        return FetchResult(snapshot=snapshot, events=events)  # type: ignore[arg-type]


# --- home and files ----------------------------------------------------------------------------


def codex_home(env_get: Callable[[str], Optional[str]], home: str) -> str:
    """CODEX_HOME when set (a leading ~ is the user's home), else ~/.codex."""
    configured = env_get(ENV_HOME)
    if not configured:
        return os.path.join(home, ".codex")
    if configured == "~" or configured.startswith("~/"):
        configured = os.path.join(home, configured[2:])
    return os.path.normpath(configured)


@dataclass(frozen=True)
class RolloutFile:
    path: str
    archived: bool
    default_sid: str  # the session uuid of the file name, else its path under the root (ccusage)
    stem: str


def list_rollouts(root: str) -> Tuple[List[RolloutFile], Dict[str, int]]:
    """Rollouts under sessions/ then archived_sessions/, and the files left out by reason.

    An archived file whose name is also in sessions/ is the same session: the active copy wins.
    Compressed rollouts (.jsonl.zst) cannot be read without a zstd decoder, which the stdlib lacks.
    """
    files: List[RolloutFile] = []
    skipped: Dict[str, int] = {}
    active_names: Set[str] = set()
    for archived, sub in ((False, "sessions"), (True, "archived_sessions")):
        base = os.path.join(root, sub)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(".jsonl.zst"):
                    skipped["zstd_compressed"] = skipped.get("zstd_compressed", 0) + 1
                    continue
                if not name.endswith(".jsonl"):
                    continue
                if archived and name in active_names:
                    skipped["archived_duplicate"] = skipped.get("archived_duplicate", 0) + 1
                    continue
                if not archived:
                    active_names.add(name)
                path = os.path.join(dirpath, name)
                stem = name[: -len(".jsonl")]
                m = _UUID_TAIL.search(stem)
                sid = m.group(1) if m else os.path.relpath(path, base)[: -len(".jsonl")].replace(os.sep, "/")
                files.append(RolloutFile(path, archived, sid, stem))
    return files, skipped


def project_from_cwd(cwd: str) -> str:
    """The project name of a working directory: its last path component (as the hook path does)."""
    return os.path.basename(cwd.rstrip("/")) or cwd


# --- fork families -----------------------------------------------------------------------------


@dataclass
class FileMeta:
    sid: str
    parent: Optional[str]  # forked_from_id, or the spawning thread of a subagent
    started: Optional[float]


class Families:
    """Who owns which token rows: parents own what their forks copied; built lazily once per poll."""

    def __init__(self, files: List[RolloutFile], cursors: Dict[str, Any]):
        self.files = files
        self.cursors = cursors
        self._meta: Optional[Dict[str, FileMeta]] = None
        self._by_sid: Dict[str, List[str]] = {}
        self._by_parent: Dict[str, List[str]] = {}
        self._rows: Dict[str, Set[str]] = {}

    def meta(self) -> Dict[str, FileMeta]:
        if self._meta is None:
            self._meta = {}
            for f in self.files:
                ctx = self._ctx(f.path)
                if "sid" in ctx:
                    meta = FileMeta(ctx["sid"], ctx.get("parent"), ctx.get("t0"))
                else:
                    meta = peek_meta(f)
                self._meta[f.path] = meta
                self._by_sid.setdefault(meta.sid, []).append(f.path)
                if meta.parent:
                    self._by_parent.setdefault(meta.parent, []).append(f.path)
        return self._meta

    def _ctx(self, path: str) -> Dict[str, Any]:
        return (self.cursors.get(path) or {}).get("ctx") or {}

    def primary(self, sid: str) -> Optional[str]:
        """The file that owns a session id: the one already keyed by it, else the first listed."""
        self.meta()
        same = self._by_sid.get(sid) or []
        for path in same:
            if self._ctx(path).get("key") == sid:
                return path
        return same[0] if same else None

    def source_for(self, path: str, sid: str, parent: Optional[str]) -> Optional[str]:
        """The file whose rows this one may repeat: another copy of the session, the parent, or the
        oldest sibling when the parent's rollout is missing (siblings share the copied prefix)."""
        owner = self.primary(sid)
        if owner is not None and owner != path:
            return owner
        if not parent:
            return None
        found = self.primary(parent)
        if found is not None:
            return found
        meta = self.meta()
        siblings = [(meta[p].started if meta[p].started is not None else math.inf, meta[p].sid, p)
                    for p in self._by_parent.get(parent, [])]
        oldest = min(siblings)[2] if siblings else None
        return oldest if oldest not in (None, path) else None

    def rows(self, path: str) -> Set[str]:
        if path not in self._rows:
            self._rows[path] = row_signatures(path)
        return self._rows[path]


def peek_meta(f: RolloutFile, max_lines: int = 4) -> FileMeta:
    """Session id, parent and start of a file from its first lines, without reading it all."""
    try:
        with open(f.path, "rb") as fh:
            for _ in range(max_lines):
                raw = fh.readline(4 * 1024 * 1024)
                if not raw.endswith(b"\n"):
                    break
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue
                kind, payload, ts = envelope(obj)
                if kind == "session_meta":
                    meta = parse_session_meta(payload, ts)
                    return FileMeta(meta.get("sid") or f.default_sid, meta.get("parent"), meta.get("t0"))
    except OSError:
        pass
    return FileMeta(f.default_sid, None, None)


def row_signatures(path: str) -> Set[str]:
    """The signatures of every complete token row of a file (missing or unreadable: none)."""
    out: Set[str] = set()
    try:
        with open(path, "rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n") or b'"token_count"' not in raw:
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue
                kind, payload, _ = envelope(obj)
                if kind == "event_msg" and payload.get("type") == "token_count":
                    row = parse_token_row(payload)
                    if row is not None:
                        out.add(row.signature)
    except OSError:
        pass
    return out


# --- collecting ----------------------------------------------------------------------------------


@dataclass
class Counters(tail.ReadCounters):
    requests: int = 0
    tool_calls: int = 0
    turns: int = 0
    duplicates: int = 0
    fork_rows: int = 0
    fallback_models: int = 0
    placeholders: int = 0


class Collector:
    """One poll over every rollout: yields events, advancing per-file cursors in `state`."""

    def __init__(self, account_id: str, state: Dict[str, Any], now: float, log: Optional[logging.Logger] = None):
        self.account_id = account_id
        self.state = state
        self.now = now
        self.log = log or logging.getLogger(__name__)
        self.counters = Counters()
        self.tools_seen: Set[str] = set()

    def run(self, root: str, snapshot: UsageSnapshot) -> Iterator[UsageEvent]:
        """Read every file, then fill in the snapshot and forget files that no longer exist."""
        files, skipped_files = list_rollouts(root)
        cursors = self.state.setdefault("files", {})
        families = Families(files, cursors)
        present = set()
        for f in files:
            present.add(f.path)
            self.counters.files += 1
            yield from self._file(f, cursors, families)
        for gone in [p for p in cursors if p not in present]:
            del cursors[gone]
        self._finish(snapshot, cursors, skipped_files)

    def _file(self, f: RolloutFile, cursors: Dict[str, Any], families: Families) -> Iterator[UsageEvent]:
        try:
            st = os.stat(f.path)
            if tail.unchanged(self.state, f.path, st):
                return
            cursor = _working_copy(tail.cursor_for(self.state, f.path, st))
            start = cursor.get("offset", 0)
            events = self._read(f, cursor, families)
        except OSError as exc:
            # Vanished or unreadable between listing and reading: the next poll tries again.
            self.counters.files_failed += 1
            self.log.debug("codex: cannot read %s: %s", f.path, exc)
            return
        self.counters.files_read += 1
        self.counters.bytes_read += cursor.get("offset", 0) - start
        yield from events
        # Committed only once the file's events are handed over, so an abandoned poll re-reads it.
        cursors[f.path] = cursor

    def _read(self, f: RolloutFile, cursor: Dict[str, Any], families: Families) -> List[UsageEvent]:
        ctx = cursor["ctx"]
        ctx.setdefault("sid", f.default_sid)
        out: List[UsageEvent] = []
        for obj in tail.iter_json_objects(f.path, cursor, _MARKERS, self.counters):
            kind, payload, ts_text = envelope(obj)
            if kind == "session_meta":
                _apply_session_meta(ctx, payload, ts_text)
            elif kind == "turn_context":
                _apply_turn_context(ctx, payload)
            elif kind == "event_msg":
                out.extend(self._event_msg(f, ctx, payload, ts_text, families))
            elif kind == "response_item":
                out.extend(self._tool_call(ctx, payload, ts_text))
        return out

    def _event_msg(self, f: RolloutFile, ctx: Dict[str, Any], payload: Dict[str, Any], ts_text: Any,
                   families: Families) -> List[UsageEvent]:
        ptype = payload.get("type")
        if ptype == "task_started":
            turn = _text(payload.get("turn_id"))
            if turn:
                ctx["turn"] = turn
            return []
        if ptype == "task_complete":
            return self._turn_completed(ctx, payload, ts_text)
        if ptype != "token_count":
            return []
        ts = parse_rfc3339(ts_text)
        if ts is None:
            self.counters.skip("bad_timestamp")
            return []
        ctx["last_ts"] = ts
        row = parse_token_row(payload)
        in_prefix = self._in_copied_prefix(f, ctx, row, ts, families)
        if not in_prefix and isinstance(payload.get("rate_limits"), dict):
            self._keep_limits(payload["rate_limits"], ts)
        if row is None:
            return []
        ctx["n"] = ctx.get("n", 0) + 1
        if in_prefix:
            self.counters.fork_rows += 1
            if row.total is not None:
                ctx["prev"] = list(row.total)
            return []
        prev = tuple(ctx["prev"]) if ctx.get("prev") else None
        delta, new_prev = usage_delta(prev, row.total, row.last)
        if new_prev is not None:
            ctx["prev"] = list(new_prev)
        if delta is None:
            self.counters.duplicates += 1
            return []
        if not any(delta[:3]):
            return []
        if "key" not in ctx:
            owner = families.primary(ctx["sid"])
            ctx["key"] = ctx["sid"] if owner in (None, f.path) else f"{ctx['sid']}/{f.stem}"
        return [self._usage_event(ctx, row, delta, ts)]

    def _in_copied_prefix(self, f: RolloutFile, ctx: Dict[str, Any], row: Optional[TokenRow], ts: float,
                          families: Families) -> bool:
        """True while a file's leading token rows repeat those of the session it came from."""
        if "pfx" not in ctx:
            # Every new session may be a second copy of another, so its family is looked up once.
            source = families.source_for(f.path, ctx["sid"], ctx.get("parent"))
            ctx["pfx"] = source is not None or bool(ctx.get("parent"))
        if not ctx["pfx"]:
            return False
        if row is None:
            return True  # rate-limit-only rows copied with the history are stale too
        source = families.source_for(f.path, ctx["sid"], ctx.get("parent"))
        if source is not None:
            copied = row.signature in families.rows(source)
        else:
            t0 = ctx.get("t0")
            copied = t0 is not None and ts - t0 <= REPLAY_BURST_SECONDS
        if not copied:
            ctx["pfx"] = False
        return copied

    def _usage_event(self, ctx: Dict[str, Any], row: TokenRow, delta: Tuple[int, ...], ts: float) -> UsageEvent:
        model = row.model or ctx.get("model") or ctx.get("meta_model")
        fallback = model is None
        if fallback:
            model = FALLBACK_MODEL
            self.counters.fallback_models += 1
        self.counters.requests += 1
        ctx["requests"] = ctx.get("requests", 0) + 1
        raw = {"row": ctx["n"], "total_token_usage": _usage_dict(row.total), "last_token_usage": _usage_dict(row.last)}
        if fallback:
            raw["fallback_model"] = True
        return usage_event(delta, model, ts, self.account_id, ctx["sid"], f"{ctx['key']}:{ctx['n']}",
                           ctx.get("turn"), _project(ctx), raw)

    def _tool_call(self, ctx: Dict[str, Any], payload: Dict[str, Any], ts_text: Any) -> List[UsageEvent]:
        found = parse_tool_call(payload)
        if found is None:
            return []
        call_id, name = found
        ts = parse_rfc3339(ts_text) if ts_text is not None else ctx.get("last_ts")
        if ts is None:
            self.counters.skip("bad_timestamp")
            return []
        ctx["last_ts"] = ts
        if call_id in self.tools_seen:
            return []
        self.tools_seen.add(call_id)
        self.counters.tool_calls += 1
        return [UsageEvent(
            source=PROVIDER_ID, provider_id=PROVIDER_ID, account_id=self.account_id, event_type="tool_usage",
            occurred_at=ts, session_id=ctx["sid"], turn_id=ctx.get("turn"), tool_call_id=call_id, tool_name=name,
            mcp_server=split_mcp_tool(name), model=ctx.get("model") or ctx.get("meta_model"), requests=0,
            project=_project(ctx), raw={"type": payload.get("type")},
        )]

    def _turn_completed(self, ctx: Dict[str, Any], payload: Dict[str, Any], ts_text: Any) -> List[UsageEvent]:
        """The turn the notify hook reports too (same session id = thread-id, same turn-id)."""
        turn = _text(payload.get("turn_id")) or ctx.get("turn")
        ts = parse_rfc3339(ts_text)
        if ctx.get("pfx"):
            return []  # a turn of the parent, copied with its history
        if not turn or len(turn) < MIN_TURN_ID_LENGTH or ts is None:
            return []
        self.counters.turns += 1
        return [UsageEvent(
            source=PROVIDER_ID, provider_id=PROVIDER_ID, account_id=self.account_id, event_type="turn_completed",
            occurred_at=ts, session_id=ctx["sid"], turn_id=turn, model=ctx.get("model") or ctx.get("meta_model"),
            project=_project(ctx), raw={"turn_id": turn},
        )]

    def _keep_limits(self, rate_limits: Dict[str, Any], ts: float) -> None:
        reading = parse_rate_limits(rate_limits, ts)
        if reading is None:
            return
        plan = {k: reading[k] for k in ("plan_type", "credits") if k in reading}
        if plan and ts >= self.state.get("plan", {}).get("at", 0):
            self.state["plan"] = dict(plan, at=ts)
        limits = self.state.setdefault("limits", {})
        current = limits.get(reading["limit_id"])
        if current is not None and ts < current["at"]:
            return
        if current is not None and is_placeholder(reading, current):
            self.counters.placeholders += 1
            return
        limits[reading["limit_id"]] = reading

    def _finish(self, snapshot: UsageSnapshot, cursors: Dict[str, Any], skipped_files: Dict[str, int]) -> None:
        c = self.counters
        total = sum((cur.get("ctx") or {}).get("requests", 0) for cur in cursors.values())
        snapshot.message = f"{_plural(total, 'request')} from {_plural(c.files, 'rollout')}"
        extras = snapshot.extras if snapshot.extras is not None else {}
        extras.update(
            files=c.files, files_read=c.files_read, files_failed=c.files_failed, files_skipped=dict(skipped_files),
            bytes_read=c.bytes_read, lines_read=c.lines, requests_total=total, requests_new=c.requests,
            tool_calls_new=c.tool_calls, turns_new=c.turns, duplicate_totals_skipped=c.duplicates,
            fork_rows_owned_by_parent=c.fork_rows, fallback_model_requests=c.fallback_models,
            limit_placeholders_skipped=c.placeholders, lines_skipped=sum(c.skipped.values()),
            skipped_reasons=dict(c.skipped),
        )
        snapshot.extras = extras
        apply_limits(snapshot, self.state, self.now)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _working_copy(cursor: Dict[str, Any]) -> Dict[str, Any]:
    copy = dict(cursor)
    copy["ctx"] = dict(cursor.get("ctx") or {})
    return copy


def _apply_session_meta(ctx: Dict[str, Any], payload: Dict[str, Any], ts_text: Any) -> None:
    # A fork's copied history may hold its parent's session_meta: the file's first one names it.
    if ctx.get("meta_seen"):
        return
    ctx["meta_seen"] = True
    meta = parse_session_meta(payload, ts_text)
    for key in ("sid", "parent", "t0", "cwd", "meta_model"):
        if meta.get(key) is not None:
            ctx[key] = meta[key]


def _apply_turn_context(ctx: Dict[str, Any], payload: Dict[str, Any]) -> None:
    model = _text(payload.get("model"))
    if model:
        ctx["model"] = model
    cwd = _text(payload.get("cwd"))
    if cwd:
        ctx["cwd"] = cwd
    turn = _text(payload.get("turn_id"))
    if turn:
        ctx["turn"] = turn


def _project(ctx: Dict[str, Any]) -> Optional[str]:
    cwd = ctx.get("cwd")
    return project_from_cwd(cwd) if cwd else None


# --- parsing (pure) ------------------------------------------------------------------------------


def envelope(obj: Dict[str, Any]) -> Tuple[Optional[str], Dict[str, Any], Any]:
    """(kind, payload, timestamp text) of a line; bare lines of 2025 builds are tolerated."""
    payload = obj.get("payload")
    if isinstance(payload, dict):
        return _text(obj.get("type")), payload, obj.get("timestamp")
    if "instructions" in obj and "id" in obj:
        return "session_meta", obj, obj.get("timestamp")
    if obj.get("type") in _TOOL_ITEMS:
        return "response_item", obj, obj.get("timestamp")
    return None, {}, None


def parse_session_meta(payload: Dict[str, Any], ts_text: Any) -> Dict[str, Any]:
    """sid, parent (fork or spawning thread), t0 (start), cwd and meta_model of a session_meta payload."""
    parent = _text(payload.get("forked_from_id"))
    source = payload.get("source")
    if not parent and isinstance(source, dict):
        sub = source.get("subagent") or source.get("subAgent")
        spawn = (sub.get("thread_spawn") or sub.get("threadSpawn")) if isinstance(sub, dict) else None
        if isinstance(spawn, dict):
            parent = _text(spawn.get("parent_thread_id"))
    t0 = parse_rfc3339(ts_text) if isinstance(ts_text, str) else None
    if t0 is None:
        t0 = parse_rfc3339(payload.get("timestamp"))  # type: ignore[arg-type]
    return {"sid": _text(payload.get("id")), "parent": parent, "t0": t0, "cwd": _text(payload.get("cwd")),
            "meta_model": _text(payload.get("model"))}


Usage = Tuple[int, int, int, int, int]  # input, cached input, output, reasoning output, total


@dataclass(frozen=True)
class TokenRow:
    total: Optional[Usage]
    last: Optional[Usage]
    model: Optional[str]  # info.model: only ccusage's synthetic files carry it

    @property
    def signature(self) -> str:
        """What a fork's copy of this row repeats exactly (timestamps differ)."""
        return f"{_sig(self.last)}|{_sig(self.total)}"


def _sig(usage: Optional[Usage]) -> str:
    return "-" if usage is None else ",".join(str(v) for v in usage)


def parse_token_row(payload: Dict[str, Any]) -> Optional[TokenRow]:
    """The usage of a token_count payload; None when it carries none (info null: limits only)."""
    info = payload.get("info")
    if not isinstance(info, dict):
        return None
    total, last = parse_usage(info.get("total_token_usage")), parse_usage(info.get("last_token_usage"))
    if total is None and last is None:
        return None
    return TokenRow(total, last, _text(info.get("model")))


def parse_usage(obj: Any) -> Optional[Usage]:
    """A usage object as (input, cached, output, reasoning, total); legacy files lack total_tokens."""
    if not isinstance(obj, dict):
        return None
    inp, cached = _count(obj.get("input_tokens")), _count(obj.get("cached_input_tokens"))
    out, reasoning = _count(obj.get("output_tokens")), _count(obj.get("reasoning_output_tokens"))
    total = _count(obj.get("total_tokens")) if "total_tokens" in obj else inp + out
    return inp, cached, out, reasoning, total


def usage_delta(prev: Optional[Usage], total: Optional[Usage], last: Optional[Usage]
                ) -> Tuple[Optional[Usage], Optional[Usage]]:
    """(usage of this row or None for a repeat, the new running total) from cumulative totals.

    Totals that go down (a reset) count this row's `last`; rows without totals (legacy) count `last`.
    """
    if total is None:
        return last, prev
    if prev is None:
        return total, total
    if total[:4] == prev[:4]:
        return None, prev
    if all(t >= p for t, p in zip(total[:4], prev[:4])):
        return tuple(t - p for t, p in zip(total, prev)), total  # type: ignore[return-value]
    return (last if last is not None else total), total


def split_usage(delta: Usage) -> Tuple[int, int, int, int]:
    """(fresh input, cache read, output, reasoning) as DESIGN section 5 counts them."""
    inp, cached, out, reasoning, _ = delta
    cached = min(cached, inp)
    return inp - cached, cached, out, min(reasoning, out)


def usage_event(delta: Usage, model: str, ts: float, account_id: str, session_id: str, message_id: str,
                turn_id: Optional[str], project: Optional[str], raw: Dict[str, Any]) -> UsageEvent:
    """The message_usage event of one request."""
    fresh, cached, out, reasoning = split_usage(delta)
    computed = pricing.compute_cost(model, fresh, out, cached)
    return UsageEvent(
        source=PROVIDER_ID, provider_id=PROVIDER_ID, account_id=account_id, event_type="message_usage",
        occurred_at=ts, session_id=session_id, turn_id=turn_id, message_id=message_id, model=model,
        input_tokens=fresh, output_tokens=out, cache_read_tokens=cached, reasoning_tokens=reasoning,
        cost_usd=pricing.apply_cost_mode("auto", None, computed), cost_computed_usd=computed,
        requests=1, project=project, raw=raw,
    )


def parse_tool_call(payload: Dict[str, Any]) -> Optional[Tuple[str, str]]:
    """(call id, tool name) of a function_call, custom_tool_call or local_shell_call item."""
    kind = payload.get("type")
    if kind not in _TOOL_ITEMS:
        return None
    call_id = _text(payload.get("call_id")) or (_text(payload.get("id")) if kind == "local_shell_call" else None)
    name = _text(payload.get("name")) or ("local_shell" if kind == "local_shell_call" else None)
    if not call_id or not name:
        return None
    return call_id, name


def window_name(minutes: Any, slot: str) -> str:
    """A rate-limit window's name by its length (slots move between plans), else the slot's name."""
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
        return slot
    return _WINDOWS.get(int(minutes), f"{int(minutes)}m")


def parse_rate_limits(obj: Dict[str, Any], ts: float) -> Optional[Dict[str, Any]]:
    """A token_count's rate_limits as {limit_id, at, windows {name: {used_percent, resets_at}}, ...}."""
    windows: Dict[str, Dict[str, Any]] = {}
    for slot in ("primary", "secondary"):
        win = obj.get(slot)
        if not isinstance(win, dict):
            # Very old builds: flat primary_used_percent, primary_window_minutes, ...
            win = {k[len(slot) + 1:]: v for k, v in obj.items() if k.startswith(slot + "_")}
        used = _number(win.get("used_percent"))
        if used is None:
            continue
        resets = _number(win.get("resets_at"))
        if resets is None:
            after = _number(win.get("resets_in_seconds"))
            resets = ts + after if after is not None else None
        windows[window_name(win.get("window_minutes"), slot)] = {"used_percent": used, "resets_at": resets}
    if not windows:
        return None
    reading: Dict[str, Any] = {"limit_id": _text(obj.get("limit_id")) or "codex", "at": ts, "windows": windows}
    if _text(obj.get("plan_type")):
        reading["plan_type"] = obj["plan_type"]
    credits = obj.get("credits")
    if isinstance(credits, dict):
        reading["credits"] = {k: credits.get(k) for k in ("has_credits", "unlimited", "balance") if k in credits}
    if _text(obj.get("rate_limit_reached_type")):
        reading["reached"] = obj["rate_limit_reached_type"]
    return reading


def is_placeholder(reading: Dict[str, Any], current: Dict[str, Any]) -> bool:
    """An all-zero reading while the last real one's windows are still running (some builds write one)."""
    if any(w["used_percent"] for w in reading["windows"].values()):
        return False
    running = [w for w in current["windows"].values()
               if w["used_percent"] and w.get("resets_at") is not None and w["resets_at"] > reading["at"]]
    return bool(running)


def limits_for_snapshot(readings: Dict[str, Any], now: float) -> Dict[str, RateLimit]:
    """Named windows for the snapshot; a window whose reset has passed starts again at 0%."""
    out: Dict[str, RateLimit] = {}
    for limit_id, reading in sorted(readings.items()):
        for name, win in reading["windows"].items():
            key = name if limit_id == "codex" else f"{limit_id}:{name}"
            resets = win.get("resets_at")
            if resets is not None and resets <= now:
                out[key] = RateLimit(used_percent=0.0)
            else:
                out[key] = RateLimit(used_percent=float(win["used_percent"]),
                                     resets_at=format_rfc3339(resets) if resets is not None else None)
    return out


def apply_limits(snapshot: UsageSnapshot, state: Dict[str, Any], now: float) -> None:
    """Put the latest plan limits (kept in the state across polls) on the snapshot."""
    readings = state.get("limits") or {}
    if not readings:
        return
    snapshot.rate_limits = limits_for_snapshot(readings, now)
    latest = max(readings.values(), key=lambda r: r["at"])
    extras = snapshot.extras if snapshot.extras is not None else {}
    extras["rate_limits_at"] = format_rfc3339(latest["at"])
    # Kept apart from the windows: builds that omit the plan still report fresh percentages.
    plan = state.get("plan") or {}
    for key in ("plan_type", "credits"):
        if key in plan:
            extras[key] = plan[key]
    snapshot.extras = extras
    if any(r.used_percent is not None and r.used_percent >= 100 for r in snapshot.rate_limits.values()):
        snapshot.status = "LIMIT"


def _usage_dict(usage: Optional[Usage]) -> Optional[Dict[str, int]]:
    if usage is None:
        return None
    names = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens", "total_tokens")
    return dict(zip(names, usage))


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _count(value: Any) -> int:
    if type(value) is int:
        return value if value > 0 else 0
    if not isinstance(value, float) or not math.isfinite(value):
        return 0
    return max(int(value), 0)
