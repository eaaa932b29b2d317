"""One poll over Codex's rollouts: new bytes only, usage as deltas of cumulative totals, forks owned by parents."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from openusage.agents import records, saved, tail
from openusage.agents.codex.files import Families, RolloutFile, list_rollouts
from openusage.agents.codex.limits import apply_limits, is_placeholder, parse_rate_limits
from openusage.agents.codex.parse import (
    PROVIDER_ID,
    TokenRow,
    envelope,
    parse_session_meta,
    parse_token_row,
    parse_tool_call,
    usage_delta,
    usage_dict,
    usage_event,
)
from openusage.agents.records import ToolCall, plural, project_from_cwd, text
from openusage.core.events import UsageEvent
from openusage.core.snapshot import UsageSnapshot
from openusage.core.timeutil import parse_rfc3339

# ccusage prices requests of legacy sessions that never name their model as gpt-5; so do we (flagged).
FALLBACK_MODEL = "gpt-5"
# A spawned session whose parent rollout is gone: token rows stamped this close to the session start
# are replays of the parent's (ccusage's rule), kept only as the baseline.
REPLAY_BURST_SECONDS = 1.0
# The form of the saved state. 2: a file's context names `copied_prefix` and `started_at`; 1 had `pfx`, `t0`.
STATE_VERSION = 2
# Turn ids of old builds were per-process counters ("1", "2"): not unique enough for a dedup key.
MIN_TURN_ID_LENGTH = 16
# Substrings of the only lines that matter; everything else (messages, reasoning, tool output) is
# never decoded. `_call"` matches function_call, custom_tool_call and local_shell_call type names.
_MARKERS = (b'"token_count"', b'"turn_context"', b'"session_meta"', b'_call"', b'"task_complete"',
            b'"task_started"', b'"instructions"')


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
        saved.upgrade(state, STATE_VERSION, {1: _named_keys})
        self.account_id = account_id
        self.state = state
        self.now = now
        self.log = log or logging.getLogger(__name__)
        self.counters = Counters()
        self.tools_seen: Set[str] = set()

    def run(self, roots: List[str], snapshot: UsageSnapshot) -> Iterator[UsageEvent]:
        """Read every file of the Codex homes, then fill in the snapshot and forget files that no longer exist."""
        files: List[RolloutFile] = []
        skipped_files: Dict[str, int] = {}
        for root in roots:
            found, skipped = list_rollouts(root)
            files.extend(found)
            for reason, n in skipped.items():
                skipped_files[reason] = skipped_files.get(reason, 0) + n
        cursors = self.state.setdefault("files", {})
        families = Families(files, cursors)
        present = set()
        for f in files:
            present.add(f.path)
            self.counters.files += 1
            yield from self._file(f, cursors, families)
        tail.forget_missing(cursors, present)
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
            turn = text(payload.get("turn_id"))
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
        if "copied_prefix" not in ctx:
            # Every new session may be a second copy of another, so its family is looked up once.
            source = families.source_for(f.path, ctx["sid"], ctx.get("parent"))
            ctx["copied_prefix"] = source is not None or bool(ctx.get("parent"))
        if not ctx["copied_prefix"]:
            return False
        if row is None:
            return True  # rate-limit-only rows copied with the history are stale too
        source = families.source_for(f.path, ctx["sid"], ctx.get("parent"))
        if source is not None:
            copied = row.signature in families.rows(source)
        else:
            t0 = ctx.get("started_at")
            copied = t0 is not None and ts - t0 <= REPLAY_BURST_SECONDS
        if not copied:
            ctx["copied_prefix"] = False
        return copied

    def _usage_event(self, ctx: Dict[str, Any], row: TokenRow, delta: Tuple[int, ...], ts: float) -> UsageEvent:
        model = row.model or ctx.get("model") or ctx.get("meta_model")
        fallback = model is None
        if fallback:
            model = FALLBACK_MODEL
            self.counters.fallback_models += 1
        self.counters.requests += 1
        ctx["requests"] = ctx.get("requests", 0) + 1
        raw = {"row": ctx["n"], "total_token_usage": usage_dict(row.total), "last_token_usage": usage_dict(row.last)}
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
        call = ToolCall(ts, call_id, name, session_id=ctx["sid"], model=ctx.get("model") or ctx.get("meta_model"),
                        project=_project(ctx), turn_id=ctx.get("turn"), raw={"type": payload.get("type")})
        return [records.tool_event(PROVIDER_ID, self.account_id, call)]

    def _turn_completed(self, ctx: Dict[str, Any], payload: Dict[str, Any], ts_text: Any) -> List[UsageEvent]:
        """The turn the notify hook reports too (same session id = thread-id, same turn-id)."""
        turn = text(payload.get("turn_id")) or ctx.get("turn")
        ts = parse_rfc3339(ts_text)
        if ctx.get("copied_prefix"):
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
        tail.put_summary(snapshot, f"{plural(total, 'request')} from {plural(c.files, 'rollout')}", dict(
            c.read_extras(), files_skipped=dict(skipped_files), requests_total=total, requests_new=c.requests,
            tool_calls_new=c.tool_calls, turns_new=c.turns, duplicate_totals_skipped=c.duplicates,
            fork_rows_owned_by_parent=c.fork_rows, fallback_model_requests=c.fallback_models,
            limit_placeholders_skipped=c.placeholders))
        apply_limits(snapshot, self.state, self.now)


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
    for key in ("sid", "parent", "started_at", "cwd", "meta_model"):
        if meta.get(key) is not None:
            ctx[key] = meta[key]


def _apply_turn_context(ctx: Dict[str, Any], payload: Dict[str, Any]) -> None:
    model = text(payload.get("model"))
    if model:
        ctx["model"] = model
    cwd = text(payload.get("cwd"))
    if cwd:
        ctx["cwd"] = cwd
    turn = text(payload.get("turn_id"))
    if turn:
        ctx["turn"] = turn


def _project(ctx: Dict[str, Any]) -> Optional[str]:
    cwd = ctx.get("cwd")
    return project_from_cwd(cwd) if cwd else None


_RENAMED = {"pfx": "copied_prefix", "t0": "started_at"}  # state version 1's names of a file's context keys


def _named_keys(state: Dict[str, Any]) -> None:
    """State version 1 to 2: a file's context keys `pfx` and `t0` get their names."""
    for cursor in (state.get("files") or {}).values():
        ctx = cursor.get("ctx") if isinstance(cursor, dict) else None
        if isinstance(ctx, dict):
            for old, new in _RENAMED.items():
                if old in ctx:
                    ctx[new] = ctx.pop(old)
