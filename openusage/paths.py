"""Where openusage keeps its files (DESIGN section 3). Stdlib only: the hook path imports it."""
from __future__ import annotations

import os

TYPE_CHECKING = False
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
    """Plugin directories in search order: --plugin-dir, OPENUSAGE_PLUGIN_DIR, user dir, ./plugins."""
    dirs: List[str] = list(extra or [])
    env = os.environ.get("OPENUSAGE_PLUGIN_DIR")
    if env:
        dirs.extend(p for p in env.split(os.pathsep) if p)
    dirs.append(os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), "openusage", "plugins"))
    dirs.append(os.path.join(os.getcwd(), "plugins"))
    return [os.path.abspath(os.path.expanduser(d)) for d in dirs]


def ensure_private_dir(path: str) -> None:
    """Create `path` (and parents) with mode 0700 for the last component."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
