"""The daemon's C heap, kept from holding on to what a catch-up freed (glibc; elsewhere nothing).

An always-on daemon's resident memory is what it keeps after its largest moment: a catch-up unpickles
megabytes of workers' results in one thread and writes them in another. glibc raises its mmap
threshold after each large free, so later large buffers come from the heap and stay mapped between
small live objects. A fixed threshold (large buffers always mapped, so given back when freed) and a
low trim threshold keep that memory returnable; an idle writer then hands the heap's free pages
back (trim()). bench/catchup.py: idle RSS after 500 MB of Claude Code logs 78-80 -> 70-72 MB.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from typing import Any, Optional

log = logging.getLogger("openusage.daemon.heap")

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024  # glibc's default start, kept fixed
TRIM_THRESHOLD = 256 * 1024

_libc: Optional[Any] = None


def _glibc() -> Optional[Any]:
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim"):
                _libc = libc
        except OSError:
            pass
    return _libc


def tune() -> bool:
    """Set the daemon process's malloc parameters; whether they were set (False off glibc)."""
    libc = _glibc()
    if libc is None:
        return False
    done = all(libc.mallopt(param, value) == 1 for param, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD)))
    log.debug("malloc parameters %s", "set" if done else "partly refused")
    return done


def trim() -> None:
    """Hand the heap's free pages back to the system."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
