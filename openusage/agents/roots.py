"""Where an agent's data lives: an account's "paths", else an environment override, else the defaults.

An agent declares a Roots value; resolve() turns it into directories. Any path may start with `~`
(the user's home); a default may also start with `$XDG_DATA_HOME`, `$XDG_CONFIG_HOME`,
`$XDG_STATE_HOME` or `$XDG_CACHE_HOME`, which take the variable's value when it is an absolute path,
else the XDG default under the home. `$` in a variable's value or an account's path is left as it is
(the shell expands what the user types).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

EnvGet = Callable[[str], Optional[str]]

_XDG_DEFAULTS = {
    "XDG_DATA_HOME": (".local", "share"),
    "XDG_CONFIG_HOME": (".config",),
    "XDG_STATE_HOME": (".local", "state"),
    "XDG_CACHE_HOME": (".cache",),
}


@dataclass(frozen=True)
class EnvRoot:
    """A variable that, when set, replaces the default roots: `<value>/<sub>` for each of its entries."""

    name: str
    sub: str = ""  # a path below the variable's value ("" for the value itself)
    many: bool = True  # a comma-separated list of entries (as CLAUDE_CONFIG_DIR takes)


@dataclass(frozen=True)
class Roots:
    """An agent's data directories: the first set variable of `env` wins, else `defaults`
    (plus `darwin` on macOS)."""

    defaults: Tuple[str, ...] = ()
    env: Tuple[EnvRoot, ...] = ()
    darwin: Tuple[str, ...] = ()

    def env_vars(self) -> Tuple[str, ...]:
        """The variables resolve() may read: the overrides and the XDG variables the defaults name."""
        names = [e.name for e in self.env]
        for path in self.defaults + self.darwin:
            var = _leading_var(path)
            if var and var not in names:
                names.append(var)
        return tuple(names)

    def resolve(self, env_get: EnvGet, home: str, platform: Optional[str] = None) -> List[str]:
        """The directories to read, in order, each once (they need not exist)."""
        for override in self.env:
            value = env_get(override.name)
            if not value:
                continue
            entries = value.split(",") if override.many else [value]
            found = [os.path.join(expand(e.strip(), home), override.sub) for e in entries if e.strip()]
            if found:
                return unique(found)
        paths = list(self.defaults)
        if (platform or sys.platform) == "darwin":
            paths.extend(self.darwin)
        return unique([expand(p, home, env_get) for p in paths])


def expand(path: str, home: str, env_get: Optional[EnvGet] = None) -> str:
    """A path with a leading `~` expanded, and with env_get a leading `$XDG_*_HOME` too; normalised."""
    if path == "~" or path.startswith("~/"):
        path = os.path.join(home, path[2:])
    elif env_get is not None:
        var = _leading_var(path)
        if var is not None:
            value = env_get(var)
            base = value if value and os.path.isabs(value) else os.path.join(home, *_XDG_DEFAULTS[var])
            path = os.path.join(base, path[len(var) + 2:])
    return os.path.normpath(path)


def unique(paths: Sequence[str]) -> List[str]:
    """Normalised paths in order, each once."""
    out: List[str] = []
    for path in paths:
        path = os.path.normpath(path)
        if path not in out:
            out.append(path)
    return out


def account_paths(extra: Any, home: str) -> List[str]:
    """The roots an account names in `"paths": [...]` (expanded), or [] when it names none."""
    paths = extra.get("paths") if isinstance(extra, dict) else None
    if not isinstance(paths, list):
        return []
    return unique([expand(p, home) for p in paths if isinstance(p, str) and p.strip()])


def _leading_var(path: str) -> Optional[str]:
    for var in _XDG_DEFAULTS:
        if path == "$" + var or path.startswith("$" + var + "/"):
            return var
    return None
