"""Daemon logging: a rotated file in the state dir, stderr in the foreground, secrets masked."""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from typing import List, Optional

from openusage import paths
from openusage.core.redact import mask
from openusage.errors import PathError


class RedactingFilter(logging.Filter):
    """Every record through the one masking function before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure(log_file: Optional[str], foreground: bool, debug: Optional[bool] = None) -> None:
    """Set up the openusage loggers once for the daemon process."""
    if debug is None:
        debug = os.environ.get("OPENUSAGE_DEBUG", "") not in ("", "0", "false")
    root = logging.getLogger("openusage")
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: List[logging.Handler] = []
    if log_file:
        paths.ensure_private_dir(os.path.dirname(log_file), hint="choose another --log-file")
        old_umask = os.umask(0o077)
        try:
            handlers.append(logging.handlers.RotatingFileHandler(log_file, maxBytes=5 * 1024 * 1024, backupCount=3,
                                                                 encoding="utf-8"))
        except OSError as exc:
            raise PathError(f"cannot write the log file {log_file}: {exc.strerror or exc}; "
                            "choose another --log-file") from exc
        finally:
            os.umask(old_umask)
    if foreground:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    if log_file:
        try:
            os.chmod(log_file, 0o600)
        except OSError:
            pass


def to_file(line: str) -> None:
    """Write one line to the log file alone (the caller prints it on stderr itself)."""
    for handler in logging.getLogger("openusage").handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(logging.LogRecord("openusage.daemon", logging.ERROR, __file__, 0, line, (), None))


def last_error(log_file: str, offset: int) -> Optional[str]:
    """The message of the last ERROR line written to log_file past byte `offset` (what a daemon died of)."""
    try:
        with open(log_file, "rb") as fh:
            fh.seek(offset)
            text = fh.read(1 << 20).decode("utf-8", errors="replace")
    except OSError:
        return None
    found = None
    for line in text.splitlines():
        _, sep, message = line.partition(" ERROR openusage")
        if sep:
            found = message.partition(": ")[2] or found
    return found
