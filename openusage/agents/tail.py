"""Incremental reading of append-only log files: only bytes appended since the last poll.

The cursor for a file is a small dict kept in the provider's state:
{"dev", "ino", "size", "offset", "ctx"}. A file that shrank or was replaced (other device/inode) is
read again from the start, and its "ctx" (collector-specific carry-over) is reset. A partial last
line is left for the next poll.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Optional, Sequence

CHUNK = 1 << 20
BIG_CHUNK = 16 << 20  # iter_marked_lines' reads: most files are read in one


@dataclass
class ReadCounters:
    """What one poll of a log collector read; each collector adds counts of its own."""

    files: int = 0
    files_read: int = 0
    files_failed: int = 0
    bytes_read: int = 0
    lines: int = 0
    skipped: Dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def read_extras(self) -> Dict[str, Any]:
        """The snapshot extras every file collector reports about what its poll read."""
        return {"files": self.files, "files_read": self.files_read, "files_failed": self.files_failed,
                "bytes_read": self.bytes_read, "lines_read": self.lines, "lines_skipped": sum(self.skipped.values()),
                "skipped_reasons": dict(self.skipped)}


def put_summary(snapshot: Any, message: str, extras: Dict[str, Any]) -> None:
    """A poll's summary on its snapshot: the tile's message, and the extras beside those already there."""
    snapshot.message = message
    merged = snapshot.extras if snapshot.extras is not None else {}
    merged.update(extras)
    snapshot.extras = merged


def cursor_for(state: Dict[str, Any], path: str, st: os.stat_result) -> Dict[str, Any]:
    """The cursor of `path`, reset when the file was replaced or truncated."""
    files = state.setdefault("files", {})
    cur = files.get(path)
    if (
        cur is None
        or cur.get("dev") != st.st_dev
        or cur.get("ino") != st.st_ino
        or st.st_size < cur.get("offset", 0)
    ):
        cur = {"dev": st.st_dev, "ino": st.st_ino, "size": 0, "offset": 0, "ctx": {}}
        files[path] = cur
    return cur


def forget_missing(files: Dict[str, Any], present: Any) -> bool:
    """Drop the cursors of files not listed in this poll (deleted or moved away); whether any went."""
    gone = [path for path in files if path not in present]
    for path in gone:
        del files[path]
    return bool(gone)


def unchanged(state: Dict[str, Any], path: str, st: os.stat_result) -> bool:
    """True when nothing was appended to `path` since its cursor was saved."""
    cur = state.get("files", {}).get(path)
    return (
        cur is not None
        and cur.get("dev") == st.st_dev
        and cur.get("ino") == st.st_ino
        and cur.get("size") == st.st_size
    )


def iter_new_lines(path: str, cursor: Dict[str, Any], max_bytes: Optional[int] = None) -> Iterator[bytes]:
    """Yield each complete line appended since cursor['offset'], advancing the cursor as it goes.

    The cursor moves only past whole lines, so a caller that stops early resumes at the right place.
    """
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        offset = cursor.get("offset", 0)
        fh.seek(offset)
        pending = b""
        read_total = 0
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            read_total += len(chunk)
            data = pending + chunk
            start = 0
            while True:
                nl = data.find(b"\n", start)
                if nl < 0:
                    break
                line = data[start:nl]
                offset += nl + 1 - start
                start = nl + 1
                cursor["offset"] = offset
                if line.strip():
                    yield line
            pending = data[start:]
            if max_bytes is not None and read_total >= max_bytes:
                break
        cursor["size"] = max(st.st_size, offset)
        if pending:
            # A partial last line: read again next time (size stays behind so the file looks changed).
            cursor["size"] = offset


def iter_marked_lines(path: str, cursor: Dict[str, Any], marker: bytes, counters: Any) -> Iterator[bytes]:
    """The complete lines appended since cursor['offset'] that hold `marker` (no newline in it).

    For logs where few bytes matter (a transcript's bulk is tool output): the file is read in large
    pieces and searched for the marker, so a line without it is never cut out or looked at in Python.
    `counters.lines` counts the lines yielded (the others are passed over unread). The cursor moves
    past a piece's whole lines once its marked lines are taken; a partial last line waits for the
    next poll.
    """
    with open(path, "rb", buffering=0) as fh:
        st = os.fstat(fh.fileno())
        offset = cursor.get("offset", 0)
        fh.seek(offset)
        pending = b""
        # What the file holds now, most often in one read (a read allocates what it asks for); a short
        # read is the end for this poll.
        want = min(max(st.st_size - offset, 0) + 1, BIG_CHUNK)
        while want:
            chunk = fh.read(want)
            want = BIG_CHUNK if len(chunk) == want else 0
            if not chunk:
                break
            data = pending + chunk if pending else chunk
            end = data.rfind(b"\n") + 1  # the whole lines of this piece end here
            if end:
                find, rfind = data.find, data.rfind
                at = find(marker, 0, end)
                while at >= 0:
                    stop = find(b"\n", at)
                    counters.lines += 1
                    yield data[rfind(b"\n", 0, at) + 1:stop]
                    at = find(marker, stop + 1, end)
                offset += end
                cursor["offset"] = offset
            pending = data[end:]
        cursor["size"] = max(st.st_size, offset)
        if pending:
            cursor["size"] = offset  # as iter_new_lines: the file looks changed until the line is whole


def iter_json_objects(path: str, cursor: Dict[str, Any], markers: Sequence[bytes], counters: Any
                      ) -> Iterator[Dict[str, Any]]:
    """The JSON objects among the lines appended to `path` that hold one of `markers`.

    Lines without a marker are never decoded. `counters` (a collector's) counts every line read in
    `lines` and is told, through `skip(reason)`, of a line that is not JSON ("bad_json") or not an
    object ("not_an_object").
    """
    for raw in iter_new_lines(path, cursor):
        counters.lines += 1
        if not any(marker in raw for marker in markers):
            continue
        try:
            obj = json.loads(raw)
        except ValueError:  # also UnicodeDecodeError
            counters.skip("bad_json")
            continue
        if not isinstance(obj, dict):
            counters.skip("not_an_object")
            continue
        yield obj
