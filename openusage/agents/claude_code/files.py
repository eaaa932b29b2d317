"""Where Claude Code's transcripts are, and whose session and project each one is."""
from __future__ import annotations

import os
import re
from typing import Iterator, List, NamedTuple, Optional, Tuple

from openusage.agents import files

_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")


class TranscriptFile(NamedTuple):
    path: str
    session_id: str  # from the path; the parent session for subagent files
    project_dir: str  # the <encoded cwd> folder name
    parent_path: Optional[str]  # the parent session's file, for subagent files


def iter_transcript_files(roots: List[str]) -> Iterator[Tuple[str, str]]:
    """(path, session id) of every transcript under the roots, each parent before its subagents."""
    for f in iter_files(roots):
        yield f.path, f.session_id


def iter_files(roots: List[str]) -> Iterator[TranscriptFile]:
    """Every transcript below <root>/projects/<encoded cwd>/, a folder's files before its subfolders, so
    <session>.jsonl precedes <session>/ (a root reached twice through a symlink counts its files once)."""
    for found in files.find([os.path.join(root, "projects") for root in roots], "*/**/*.jsonl"):
        yield _describe(found.root, found.parts, found.name, found.path)


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
