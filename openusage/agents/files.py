"""Finding an agent's files under its roots by a glob pattern, each file once, in a stable order.

Patterns are relative to a root with `/` between parts: `*` and `?` match within one part, `**`
matches any number of folders (`sessions/**/*.jsonl`). Folders are listed in name order, a folder's
files before its subfolders; symlinked folders are not entered, and a root reached twice (a symlink
to another root) is walked once.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterator, List, Optional, Pattern, Sequence, Tuple


@dataclass(frozen=True)
class Found:
    """One file an agent reads."""

    path: str
    root: str
    parts: Tuple[str, ...]  # the folders between the root and the file
    name: str

    @property
    def stem(self) -> str:
        """The file name without its last extension."""
        return self.name.rsplit(".", 1)[0] if "." in self.name else self.name


def compile_pattern(pattern: str) -> Pattern[str]:
    """A glob pattern as a regular expression over `/`-joined relative paths."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def max_depth(pattern: str) -> Optional[int]:
    """How many folders deep a pattern reaches; None when `**` makes it unbounded."""
    return None if "**" in pattern else pattern.count("/")


def find(roots: Sequence[str], pattern: str) -> Iterator[Found]:
    """Every file under the roots whose relative path matches the pattern."""
    regex = compile_pattern(pattern)
    depth = max_depth(pattern)
    seen = set()
    for root in roots:
        real = os.path.realpath(root)
        if real in seen or not os.path.isdir(root):
            continue
        seen.add(real)
        yield from _walk(root, root, (), regex, depth)


def _walk(root: str, folder: str, parts: Tuple[str, ...], regex: Pattern[str],
          depth: Optional[int]) -> Iterator[Found]:
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError:
        return
    below: List[os.DirEntry] = []
    prefix = "/".join(parts) + "/" if parts else ""
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            if not entry.is_symlink() and (depth is None or len(parts) < depth):
                below.append(entry)
        elif regex.match(prefix + entry.name):
            yield Found(entry.path, root, parts, entry.name)
    for entry in below:
        yield from _walk(root, entry.path, parts + (entry.name,), regex, depth)
