"""The hook artifact every integration runs, and the rules every integration follows when it writes a file.

Installed hooks run `/bin/sh <state dir>/bin/openusage-hook SOURCE`. The script posts with curl and
hands over to its Python half, `<python> -S -E <script>`: the interpreter by absolute path (a pyenv
shim adds ~100 ms to every agent turn) and without site (-S, faster), so the script puts the
directory holding the installed openusage package on sys.path itself.
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
SHELL = "/bin/sh"
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


# The script is a shell script and a Python script at once. To sh, line 2 is the no-op `:` and the
# shell half ends in `exit` before the closing quotes; to Python, the shell half is a string. The
# shell half delivers with curl (on a slow machine a bare Python start alone takes ~18 ms, sh and
# curl about as long for the whole delivery) and hands over to the Python half for everything else.
# Hooks installed by older versions run the Python half directly and keep working until upgraded.
# The shell half holds no backslash (Python would read an escape) and no three quotes in a row.
_SCRIPT = """#!/bin/sh
''':'
# openusage hook launcher: delivers one agent hook payload to the openusage daemon (or its spool).
# Written by `openusage integrations install`; `openusage integrations upgrade` rewrites it, so edits
# are lost. This file is a shell script and a Python script at once. The installed hooks run
#   /bin/sh __SCRIPT__ SOURCE [PAYLOAD]
# which posts the payload (stdin, or the last argument as Codex's notify passes it) with curl and
# hands over to the Python half for the rest: no curl, options such as __CHAIN__, and a daemon that
# is down or busy (the Python half keeps the payload in the spool). The Python half alone:
#   __PYTHON__ -S -E __SCRIPT__ SOURCE [PAYLOAD]
# Nothing is written to stdout; the exit status is 0.
py=__PY_SH__
script=__SCRIPT_SH__
state=__STATE_SH__
nl='
'
sock=${OPENUSAGE_TELEMETRY_SOCKET:-${OPENUSAGE_STATE_DIR:-$state}/telemetry.sock}
python_half() {
  "$py" -S -E "$script" "$@"
  exit 0
}
case $# in
  1) ;;
  2) case $2 in -*) python_half "$@" ;; esac ;;
  *) python_half "$@" ;;
esac
case $1 in
  [a-z0-9]*) case $1 in *[!a-z0-9_.-]*) python_half "$@" ;; esac ;;
  *) python_half "$@" ;;
esac
case $sock in /*) ;; *) python_half "$@" ;; esac
command -v curl >/dev/null 2>&1 || python_half "$@"
if [ $# = 2 ]; then
  now=$(date +%s.%N 2>/dev/null)
  body=$2
else
  # One subshell reads the receipt time and the payload: a fork less on every agent turn.
  body=$(date +%s.%N 2>/dev/null || echo; cat)
  case $body in
    *"$nl"*) now=${body%%"$nl"*}; body=${body#*"$nl"} ;;
    *) now=; body= ;;
  esac
fi
case $now in *[!0-9.]*) now= ;; esac
case $body in
  *[![:space:]]*) ;;
  *) echo 'openusage hook: empty payload; nothing to deliver' >&2; exit 0 ;;
esac
source=$1
# -q: no ~/.curlrc; -f: an HTTP error is exit 22; no proxy, whatever the environment says; no
# Expect: 100-continue round trip. 12 s: longer than the daemon waits for its commit (10 s).
set -- -q -s -f -o /dev/null --noproxy '*' --max-time 12 --unix-socket "$sock"
set -- "$@" -H 'Content-Type: application/json' -H 'Expect:'
if [ -n "$now" ]; then set -- "$@" -H "__RECEIVED_AT_HEADER__: $now"; fi
curl "$@" --data-binary @- "http://openusage/v1/hook/$source" <<EOF
$body
EOF
case $? in
  0) exit 0 ;;
  # the daemon is down, stalled or went away mid-request: the Python half keeps it in the spool
  7|28|52|55|56) spool=--spool ;;
  # an HTTP error (the Python half posts again: a refused payload is reported and dropped, one the
  # daemon could not take now is spooled) or a curl too old for these options
  *) spool= ;;
esac
printf '%s' "$body" | python_half "$source" ${now:+--received-at} ${now:+$now} $spool
exit 0
'''
import os
import sys

PACKAGE_ROOT = __ROOT_PY__
STATE_DIR = __STATE_PY__


# Takes __CHAIN__ ARGV_JSON out of argv and starts that program with the payload as its last argument.
def start_chained(argv):
    if "__CHAIN__" not in argv:
        return argv
    at = argv.index("__CHAIN__")
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
"""


def script_text() -> str:
    from openusage.daemon.client import RECEIVED_AT_HEADER

    script, state = script_path(), paths.state_dir()
    shell_values = {"__PY_SH__": shlex.quote(python()), "__SCRIPT_SH__": shlex.quote(script),
                    "__STATE_SH__": shlex.quote(state)}
    for value in shell_values.values():
        if "\\" in value or "'" in value.strip("'"):
            raise IntegrationError(f"cannot write the hook script for the path {value}: "
                                   "it holds a backslash or a single quote")
    text = _SCRIPT
    for key, value in {**shell_values, "__ROOT_PY__": repr(package_root()), "__STATE_PY__": repr(state),
                       "__SCRIPT__": script, "__PYTHON__": python(), "__CHAIN__": CHAIN_OPTION,
                       "__RECEIVED_AT_HEADER__": RECEIVED_AT_HEADER}.items():
        text = text.replace(key, value)
    return text


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
    """The hook as an argv: what notify and the OpenCode plugin run (sh reads it: no exec bit needed)."""
    return [SHELL, script_path(), source, *extra]


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
