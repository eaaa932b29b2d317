"""The hook artifact every integration runs, and the rules every integration follows when it writes a file.

Installed hooks run `<python> -S -E <state dir>/bin/openusage-hook SOURCE`: the interpreter by absolute
path (a pyenv shim adds ~100 ms to every agent turn) and without site (-S, faster), so the script puts
the directory holding the installed openusage package on sys.path itself.
"""
from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from openusage import paths

SCRIPT_NAME = "openusage-hook"
CHAIN_OPTION = "--chain-json"
# What marks a hook command (or notify argv) as ours, old spellings included.
MARKERS = (SCRIPT_NAME, "openusage telemetry hook")


class IntegrationError(Exception):
    """The target cannot be edited safely (unparsable, conflicting entry); nothing was written."""


@dataclass
class Status:
    installed: bool
    current: bool
    detail: str = ""
    error: Optional[str] = None


@dataclass
class Outcome:
    changed: bool
    target: str
    message: str
    state: Dict[str, Any] = field(default_factory=dict)  # extra keys for integrations.<id> in settings.json


# --- the hook script ------------------------------------------------------------------------------


def script_path() -> str:
    return os.path.join(paths.state_dir(), "bin", SCRIPT_NAME)


def package_root() -> str:
    """The directory that contains the installed `openusage` package."""
    import openusage

    return os.path.dirname(os.path.dirname(os.path.abspath(openusage.__file__)))


def python() -> str:
    if not sys.executable:
        raise IntegrationError("cannot tell which Python runs openusage (sys.executable is empty)")
    return sys.executable


_SCRIPT = '''#!{python} -SE
"""openusage hook launcher: delivers one agent hook payload to the openusage daemon (or its spool).

Written by `openusage integrations install`; `openusage integrations upgrade` rewrites it, so edits are
lost. Run as: {python} -S -E {script} SOURCE [PAYLOAD]
"""
import os
import sys

PACKAGE_ROOT = {root!r}
STATE_DIR = {state!r}


def start_chained(argv):
    """Take {chain} ARGV_JSON out of argv and start that program with the payload as its last argument."""
    if "{chain}" not in argv:
        return argv
    at = argv.index("{chain}")
    rest = argv[:at] + argv[at + 2:]
    try:
        import json
        import subprocess

        program = json.loads(argv[at + 1])
        if isinstance(program, list) and program and len(rest) >= 2 and not rest[-1].startswith("--"):
            subprocess.Popen([str(part) for part in program] + [rest[-1]], close_fds=True)
    except Exception:
        pass
    return rest


argv = start_chained(sys.argv[1:])
sys.path.insert(0, PACKAGE_ROOT)
os.environ.setdefault("OPENUSAGE_STATE_DIR", STATE_DIR)
from openusage.cli import hook_cmd  # noqa: E402

sys.exit(hook_cmd.main(argv))
'''


def script_text() -> str:
    return _SCRIPT.format(python=python(), script=script_path(), root=package_root(), state=paths.state_dir(),
                          chain=CHAIN_OPTION)


def script_current() -> bool:
    path = script_path()
    return read_text(path) == script_text() and os.access(path, os.X_OK)


def write_script() -> bool:
    """Write the hook script (0755) unless it is already current; True when it was written."""
    if script_current():
        return False
    path = script_path()
    paths.ensure_private_dir(paths.state_dir())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, script_text(), mode=0o755)
    return True


def remove_script() -> bool:
    path = script_path()
    if not os.path.exists(path):
        return False
    os.unlink(path)
    try:
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass
    return True


def hook_argv(source: str, extra: Sequence[str] = ()) -> List[str]:
    """The hook as an argv: what notify and the OpenCode plugin run."""
    return [python(), "-S", "-E", script_path(), source, *extra]


def hook_command(source: str) -> str:
    """The hook as a shell command line: what Claude Code runs."""
    return " ".join(shlex.quote(part) for part in hook_argv(source))


def is_ours(command: Any) -> bool:
    """A hook command string or argv list that runs openusage's hook."""
    if isinstance(command, (list, tuple)):
        command = " ".join(str(part) for part in command)
    return isinstance(command, str) and any(marker in command for marker in MARKERS)


# --- writing files ---------------------------------------------------------------------------------


def read_text(path: str) -> Optional[str]:
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IntegrationError(f"cannot read {path}: {exc}") from None


def write_atomic(path: str, text: str, mode: int = 0o600) -> None:
    """Replace the file behind `path` (following a symlink) in one rename, with `mode`."""
    real = os.path.realpath(path)
    directory = os.path.dirname(real)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(real) + ".", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_config(path: str, text: str) -> None:
    """Write an agent's config file: back the current one up to <file>.bak (0600), then replace it (0600)."""
    if os.path.exists(path):
        backup = path + ".bak"
        shutil.copyfile(path, backup)
        os.chmod(backup, 0o600)
    write_atomic(path, text, mode=0o600)
