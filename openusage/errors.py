"""Errors that end a command (or the daemon's start) with one line and an exit code. No imports: the hook loads it."""
from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the hook imports this (bench/README.md, start-up speed)
if TYPE_CHECKING:
    from typing import Optional


class OpenusageError(Exception):
    """A failure the user can act on: the message names the path or thing and what to do."""

    code = 1  # DESIGN section 10: 1 runtime, 2 usage/config

    def __init__(self, message: str, code: Optional[int] = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class PathError(OpenusageError):
    """A configured path that cannot be used (cannot be created, written, or is the wrong kind of file)."""

    code = 2
