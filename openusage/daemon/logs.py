"""Daemon logging: a rotated file in the state dir, stderr in the foreground, secrets masked."""
from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from typing import List, Optional

from openusage import paths
from openusage.errors import PathError

# Shapes of API keys and tokens; anything matching is masked before a record is written.
_SECRET = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|sk_[A-Za-z0-9]{8,}|xai-[A-Za-z0-9]{8,}|gsk_[A-Za-z0-9]{8,}|AIza[0-9A-Za-z_\-]{20,}"
    r"|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}|(?i:bearer)\s+[A-Za-z0-9._\-]{12,})"
)


def mask(text: str) -> str:
    """Replace anything shaped like a key or bearer token with its first four characters and '…'."""
    return _SECRET.sub(lambda m: m.group(0)[:4] + "…", text)


class RedactingFilter(logging.Filter):
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
