"""The spool: hook events written to disk while the daemon is down, drained when it is back.

Stdlib only: the hook command imports this module. A spool file is written atomically (temp file,
fsync, rename) and holds one delivery: {"v", "source", "account_id", "received_at", "body"}.
Files that cannot be ingested are moved to bad/ and counted, never deleted silently.
"""
from __future__ import annotations

import json
import math
import os
import stat
import time
from typing import Callable, Dict, Optional

OnBad = Optional[Callable[[str, str], None]]

MAX_FILES = 20_000  # the hook stops spooling beyond these (and says so on stderr)
MAX_BYTES = 256 * 1024 * 1024
MAX_AGE_SECONDS = 90 * 86400  # older files are moved to bad/ as expired
DRAIN_BATCH = 2_000  # files per drain pass, so a huge spool never blocks the daemon for long
MAX_BODY = 1024 * 1024  # a delivery's body, as on the socket (pipeline.MAX_BODY checks it again)
# A record's JSON holds the body escaped: at most 6 bytes a character (\uXXXX) plus the other fields.
MAX_FILE_BYTES = 6 * MAX_BODY + 4096


class SpoolFull(Exception):
    pass


class BadSpoolFile(ValueError):
    pass


def write(directory: str, source: str, account_id: Optional[str], body: bytes, received_at: float) -> str:
    """Store one delivery durably; returns the file path."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    _check_caps(directory, len(body))
    record = {
        "v": 1,
        "source": source,
        "account_id": account_id,
        "received_at": received_at,
        "body": body.decode("utf-8", errors="replace"),
    }
    data = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    name = f"{int(received_at * 1e9):020d}-{os.getpid()}-{os.urandom(4).hex()}.json"
    tmp = os.path.join(directory, "." + name + ".tmp")
    final = os.path.join(directory, name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, final)
    _fsync_dir(directory)
    return final


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_caps(directory: str, incoming: int) -> None:
    count = 0
    total = incoming
    with os.scandir(directory) as it:
        for entry in it:
            if not entry.name.endswith(".json"):
                continue
            try:
                size = entry.stat().st_size
            except FileNotFoundError:
                continue  # drained by the daemon while we looked: it no longer counts
            count += 1
            total += size
    if count >= MAX_FILES or total > MAX_BYTES:
        raise SpoolFull(f"spool {directory} is full ({count} files, {total // 1024} KiB); event not kept")


def depth(directory: str) -> Dict[str, int]:
    """How many files wait in the spool and how many were set aside as bad."""
    return {"pending": _count(directory), "bad": _count(os.path.join(directory, "bad"))}


def _count(directory: str) -> int:
    try:
        with os.scandir(directory) as it:
            return sum(1 for e in it if e.name.endswith(".json") and not e.name.startswith("."))
    except FileNotFoundError:
        return 0


def read_record(path: str) -> Dict:
    """Parse one spool file; BadSpoolFile when it is not a spool record.

    Only a regular file is read: the open never follows a symlink and never blocks (a FIFO opens at
    once with O_NONBLOCK), and fstat decides before a byte is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:  # ELOOP for a symlink, EACCES, ENXIO (a socket), ...
        raise BadSpoolFile(f"cannot open: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadSpoolFile(f"not a regular file (mode {stat.filemode(info.st_mode)})")
        if info.st_size > MAX_FILE_BYTES:
            raise BadSpoolFile(f"file of {info.st_size} bytes, over the {MAX_FILE_BYTES}-byte limit")
        data = _read_all(fd, info.st_size)
    finally:
        os.close(fd)
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadSpoolFile(f"unparsable spool file: {exc}") from exc
    check_record(record)
    return record


def _read_all(fd: int, size: int) -> bytes:
    chunks = []
    left = min(size, MAX_FILE_BYTES) + 1  # a file growing past its fstat size is cut and fails to parse
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def check_record(record: object) -> None:
    """BadSpoolFile unless every field of a spool record has its type (and the body its size)."""
    if not isinstance(record, dict):
        raise BadSpoolFile("not a spool record (not a JSON object)")
    if not isinstance(record.get("source"), str):
        raise BadSpoolFile("source is not a string")
    if record.get("account_id") is not None and not isinstance(record["account_id"], str):
        raise BadSpoolFile("account_id is not a string")
    received_at = record.get("received_at")
    if isinstance(received_at, bool) or not isinstance(received_at, (int, float)):
        raise BadSpoolFile("received_at is not a number")
    if not math.isfinite(received_at) or received_at <= 0:
        raise BadSpoolFile("received_at out of range")
    if not isinstance(record.get("body"), str):
        raise BadSpoolFile("body is not a string")
    if len(record["body"]) > MAX_BODY or len(record["body"].encode("utf-8", errors="replace")) > MAX_BODY:
        raise BadSpoolFile(f"body over the limit of {MAX_BODY} bytes")


def drain(directory: str, ingest: Callable[[Dict], None], now: Optional[float] = None,
          on_bad: OnBad = None) -> Dict[str, int]:
    """Ingest up to DRAIN_BATCH spooled deliveries, oldest first.

    `ingest(record)` must return only once the events are committed; it raises ValueError for a
    delivery that can never be ingested (moved to bad/) and anything else to stop the pass and keep
    the file for the next one. An entry that is not a spool record (a FIFO, a directory, a link, a
    record with a field of the wrong type) is moved to bad/ as well: no entry holds up the ones after it.
    """
    now = time.time() if now is None else now
    stats = {"ingested": 0, "bad": 0, "expired": 0}
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json") and not n.startswith("."))
    except FileNotFoundError:
        return stats
    for name in names[:DRAIN_BATCH]:
        path = os.path.join(directory, name)
        try:
            record = read_record(path)
            if now - record["received_at"] > MAX_AGE_SECONDS:
                _set_aside(directory, name, "expired")
                stats["expired"] += 1
                continue
            ingest(record)
        except FileNotFoundError:
            continue  # another drain took it
        except ValueError as exc:
            if on_bad is not None:
                on_bad(name, str(exc))
            try:
                _set_aside(directory, name, "bad")
            except FileNotFoundError:
                continue
            except OSError as move_exc:  # left where it is; the files after it are still drained
                if on_bad is not None:
                    on_bad(name, f"could not be moved to bad/: {move_exc}")
                continue
            stats["bad"] += 1
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        stats["ingested"] += 1
    return stats


def _set_aside(directory: str, name: str, why: str) -> None:
    """Move an entry (of any kind: a rename never opens it) to bad/, under a name not yet taken there."""
    bad = os.path.join(directory, "bad")
    os.makedirs(bad, mode=0o700, exist_ok=True)
    target = name if why == "bad" else f"{why}-{name}"
    if os.path.lexists(os.path.join(bad, target)):  # a directory cannot replace a file (nor the reverse)
        target = f"{target[:-5]}-{os.urandom(4).hex()}.json"
    os.replace(os.path.join(directory, name), os.path.join(bad, target))
