"""One daemon per store: an exclusive flock on `<db>.lock`, beside the database, held for a daemon's life.

The holder writes who it is into the file ({"pid", "socket", "role"}) so a second daemon can name it,
and a client that finds the lock held by a daemon not answering yet waits for it instead of starting
another. The kernel drops the lock when the holder's process ends, however it ends: there is no
stale lock to clean up. A short-lived command that writes the store directly (`cache clear` with no
daemon) holds the lock as role "command" for its few seconds; a daemon starting meanwhile waits.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from typing import Any, Dict, Optional

from openusage.errors import OpenusageError

SUFFIX = ".lock"
COMMAND_WAIT = 10.0  # how long a starting daemon waits for a command's hold to end


class StoreBusy(OpenusageError):
    """The store's lock is held by another process (holder: what it wrote, possibly {})."""

    def __init__(self, db_path: str, holder: Dict[str, Any]):
        self.db_path = db_path
        self.holder = holder
        message = describe(db_path, holder)
        if holder.get("role") == "daemon" and holder.get("socket"):
            message += f"; stop it with 'openusage telemetry daemon stop --socket-path {holder['socket']}'"
        super().__init__(message, 1)


def lock_path(db_path: str) -> str:
    return db_path + SUFFIX


def describe(db_path: str, holder: Dict[str, Any]) -> str:
    """'a daemon is already running on the store X (pid 123, socket S)', for messages."""
    pid = holder.get("pid") or "unknown"
    if holder.get("role") != "daemon":
        return f"an openusage command holds the store {db_path} (pid {pid})"
    text = f"a daemon is already running on the store {db_path} (pid {pid}"
    return text + (f", socket {holder['socket']})" if holder.get("socket") else ")")


class StoreLock:
    """The exclusive lock of one store; acquire() once, release() (or process exit) ends it."""

    def __init__(self, db_path: str):
        self.db_path = db_path
        self.path = lock_path(db_path)
        self._fd: Optional[int] = None

    def acquire(self, role: str, socket_path: Optional[str] = None, wait: float = 0.0) -> None:
        """Take the lock or raise StoreBusy; waits up to `wait` s, and COMMAND_WAIT for a command's hold."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        deadline = time.monotonic() + wait
        command_deadline = time.monotonic() + COMMAND_WAIT
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = _read(fd)
                    now = time.monotonic()
                    if now >= deadline and (holder.get("role") == "daemon" or now >= command_deadline):
                        raise StoreBusy(self.db_path, holder) from None
                    time.sleep(0.05)
            owner = {"pid": os.getpid(), "role": role, "socket": socket_path}
            data = json.dumps(owner).encode("utf-8")
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        except OSError:
            pass
        os.close(self._fd)  # closing the only descriptor drops the flock
        self._fd = None


def holder(db_path: str) -> Optional[Dict[str, Any]]:
    """Who holds the store's lock ({} while a holder has not written itself yet), or None when free."""
    try:
        fd = os.open(lock_path(db_path), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd)
        return None  # closing fd drops the shared lock at once
    finally:
        os.close(fd)


def _read(fd: int) -> Dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0)
        info = json.loads(data.decode("utf-8")) if data else {}
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}
