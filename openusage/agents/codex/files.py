"""Codex rollouts: which files there are, and which session (and fork family) each belongs to."""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set, Tuple

from openusage.agents.codex.parse import envelope, parse_session_meta, parse_token_row

_UUID_TAIL = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")


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
                    meta = FileMeta(ctx["sid"], ctx.get("parent"), ctx.get("started_at"))
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
                    return FileMeta(meta.get("sid") or f.default_sid, meta.get("parent"), meta.get("started_at"))
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
