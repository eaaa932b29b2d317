"""The spool: hook events written to disk while the daemon is down, drained when it is back.

Stdlib only: the hook command imports this module. A spool file is written atomically (temp file,
fsync, rename) and holds one delivery: {"v", "source", "account_id", "received_at", "body"}.
Files that cannot be ingested are moved to bad/ and counted, never deleted silently.
"""
from __future__ import annotations

import json
import os
import time
from typing import Callable, Dict, Optional

OnBad = Optional[Callable[[str, str], None]]

MAX_FILES = 20_000  # the hook stops spooling beyond these (and says so on stderr)
MAX_BYTES = 256 * 1024 * 1024
MAX_AGE_SECONDS = 90 * 86400  # older files are moved to bad/ as expired
DRAIN_BATCH = 2_000  # files per drain pass, so a huge spool never blocks the daemon for long


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
    """Parse one spool file; BadSpoolFile when it is not a spool record."""
    try:
        with open(path, "rb") as fh:
            record = json.loads(fh.read().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadSpoolFile(f"unparsable spool file: {exc}") from exc
    if not isinstance(record, dict) or not isinstance(record.get("source"), str) or "body" not in record:
        raise BadSpoolFile("not a spool record")
    if not isinstance(record.get("received_at"), (int, float)):
        raise BadSpoolFile("spool record without received_at")
    return record


def drain(directory: str, ingest: Callable[[Dict], None], now: Optional[float] = None,
          on_bad: OnBad = None) -> Dict[str, int]:
    """Ingest up to DRAIN_BATCH spooled deliveries, oldest first.

    `ingest(record)` must return only once the events are committed; it raises ValueError for a
    delivery that can never be ingested (moved to bad/) and anything else to stop the pass and keep
    the file for the next one.
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
            _set_aside(directory, name, "bad")
            stats["bad"] += 1
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        stats["ingested"] += 1
    return stats


def _set_aside(directory: str, name: str, why: str) -> None:
    bad = os.path.join(directory, "bad")
    os.makedirs(bad, mode=0o700, exist_ok=True)
    target = name if why == "bad" else f"{why}-{name}"
    os.replace(os.path.join(directory, name), os.path.join(bad, target))
