"""Gemini CLI's chat recordings under its roots, and the project each folder belongs to."""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


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
