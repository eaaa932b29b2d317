"""Where openusage keeps its files (DESIGN section 3). Stdlib only: the hook path imports it."""
from __future__ import annotations

import os

from openusage.errors import PathError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the hook imports this (bench/README.md, start-up speed)
if TYPE_CHECKING:  # typing costs the hook several ms to import; the annotations need it only for checkers
    from typing import List, Optional


def _xdg(var: str, fallback: str) -> str:
    value = os.environ.get(var)
    if value and os.path.isabs(value):
        return value
    return os.path.join(os.path.expanduser("~"), fallback)


def config_path(override: Optional[str] = None) -> str:
    if override:
        return os.path.abspath(os.path.expanduser(override))
    env = os.environ.get("OPENUSAGE_CONFIG")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), "openusage", "settings.json")


def state_dir() -> str:
    env = os.environ.get("OPENUSAGE_STATE_DIR")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(_xdg("XDG_STATE_HOME", os.path.join(".local", "state")), "openusage")


def socket_path(override: Optional[str] = None) -> str:
    if override:
        return os.path.abspath(os.path.expanduser(override))
    env = os.environ.get("OPENUSAGE_TELEMETRY_SOCKET")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(state_dir(), "telemetry.sock")


def db_path(override: Optional[str] = None) -> str:
    if override:
        return os.path.abspath(os.path.expanduser(override))
    return os.path.join(state_dir(), "telemetry.db")


def spool_dir() -> str:
    return os.path.join(state_dir(), "telemetry-spool")


def log_path(override: Optional[str] = None) -> str:
    if override:
        return os.path.abspath(os.path.expanduser(override))
    return os.path.join(state_dir(), "daemon.log")


def pid_path() -> str:
    return os.path.join(state_dir(), "daemon.pid")


def plugin_dirs(extra: Optional[List[str]] = None) -> List[str]:
    """Plugin directories in search order: --plugin-dir, OPENUSAGE_PLUGIN_DIR, the user's config dir.

    Never the current directory: a cloned repository's `plugins/` would run on the next command."""
    dirs: List[str] = list(extra or [])
    env = os.environ.get("OPENUSAGE_PLUGIN_DIR")
    if env:
        dirs.extend(p for p in env.split(os.pathsep) if p)
    dirs.append(os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), "openusage", "plugins"))
    return [os.path.abspath(os.path.expanduser(d)) for d in dirs]


STATE_HINT = "set OPENUSAGE_STATE_DIR (or XDG_STATE_HOME) to a directory you can write"


def ensure_private_dir(path: str, hint: str = STATE_HINT) -> None:
    """Create `path` (and parents) with mode 0700 for the last component; PathError when it cannot be used."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise PathError(f"cannot create the directory {path}: {_file_in_the_way(path)} is not a directory; "
                        f"{hint}") from exc
    except OSError as exc:
        raise PathError(f"cannot create the directory {path}: {exc.strerror or exc}; {hint}") from exc
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    if not os.access(path, os.W_OK | os.X_OK):
        raise PathError(f"the directory {path} is not writable; {hint}")


def _file_in_the_way(path: str) -> str:
    """The shallowest component of `path` that exists and is not a directory (or `path`)."""
    current, culprit = path, path
    while True:
        if os.path.lexists(current) and not os.path.isdir(current):
            culprit = current
        parent = os.path.dirname(current)
        if parent == current:
            return culprit
        current = parent
