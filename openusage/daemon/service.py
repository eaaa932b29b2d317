"""Installing the daemon as a user service: a systemd user unit on Linux, a launchd agent on macOS.

Provider keys reach the service through an environment file (systemd) or the agent's
EnvironmentVariables (launchd), never through settings.json; either file is written 0600.
"""
from __future__ import annotations

import os
import platform
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional

from openusage import paths

UNIT_NAME = "openusage-telemetry.service"
LAUNCHD_LABEL = "dev.openusage.telemetry"


class ServiceError(Exception):
    pass


@dataclass
class Plan:
    """What install would write and run."""

    kind: str  # "systemd" or "launchd"
    files: Dict[str, str]  # path -> content
    secret_files: List[str]  # paths written 0600
    commands: List[List[str]]


def daemon_argv() -> List[str]:
    return [sys.executable, "-m", "openusage", "telemetry", "daemon", "run"]


def systemd_unit_path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "systemd", "user", UNIT_NAME)


def env_file_path() -> str:
    return os.path.join(os.path.dirname(paths.config_path()), "service.env")


def launchd_plist_path() -> str:
    return os.path.join(os.path.expanduser("~"), "Library", "LaunchAgents", f"{LAUNCHD_LABEL}.plist")


# Variables the service gets that name places, not secrets: shown as they are by --dry-run.
PATH_VARIABLES = ("OPENUSAGE_STATE_DIR", "OPENUSAGE_CONFIG", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "OPENUSAGE_PLUGIN_DIR")


def service_environment(variable_names: List[str]) -> Dict[str, str]:
    """The values of the named variables that are set now, plus the openusage settings the daemon needs."""
    names = list(dict.fromkeys(variable_names + ["OPENUSAGE_HUB_TOKEN", *PATH_VARIABLES]))
    return {n: os.environ[n] for n in names if os.environ.get(n)}


def systemd_unit() -> str:
    return f"""[Unit]
Description=openusage telemetry daemon (AI usage collection)
Documentation=man:openusage-telemetry(1)

[Service]
Type=simple
EnvironmentFile=-{env_file_path()}
ExecStart={shlex.join(daemon_argv())}
Restart=on-failure
RestartSec=5
Nice=10

[Install]
WantedBy=default.target
"""


def env_file(env: Dict[str, str]) -> str:
    lines = ["# Environment of the openusage service: provider keys live here, never in settings.json."]
    for name, value in sorted(env.items()):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{name}="{escaped}"')
    return "\n".join(lines) + "\n"


def launchd_plist(env: Dict[str, str]) -> str:
    from xml.sax.saxutils import escape

    args = "\n".join(f"    <string>{escape(a)}</string>" for a in daemon_argv())
    envs = "\n".join(f"    <key>{escape(k)}</key><string>{escape(v)}</string>" for k, v in sorted(env.items()))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>{LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
{args}
  </array>
  <key>EnvironmentVariables</key>
  <dict>
{envs}
  </dict>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>
  <key>ProcessType</key><string>Background</string>
  <key>StandardErrorPath</key><string>{escape(paths.log_path())}.stderr</string>
</dict>
</plist>
"""


def platform_kind() -> str:
    return "launchd" if platform.system() == "Darwin" else "systemd"


def manager_of(socket_path: str) -> Optional[str]:
    """"systemd" or "launchd" when an installed service runs the daemon on this socket, else None."""
    kind = platform_kind()
    unit = launchd_plist_path() if kind == "launchd" else systemd_unit_path()
    if not os.path.exists(unit):
        return None
    return kind if os.path.realpath(socket_path) == os.path.realpath(paths.socket_path()) else None


def plan_install(variable_names: List[str], kind: Optional[str] = None) -> Plan:
    kind = kind or platform_kind()
    env = service_environment(variable_names)
    if kind == "launchd":
        plist = launchd_plist_path()
        return Plan(kind, {plist: launchd_plist(env)}, [plist],
                    [["launchctl", "unload", plist], ["launchctl", "load", "-w", plist]])
    unit = systemd_unit_path()
    envf = env_file_path()
    return Plan(kind, {unit: systemd_unit(), envf: env_file(env)}, [envf],
                [["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", "--now", UNIT_NAME]])


def manual_instructions() -> str:
    cmd = shlex.join(daemon_argv())
    return ("no systemd user session here (containers and WSL1 often have none). Run the daemon by hand:\n"
            f"  nohup {cmd} >/dev/null 2>&1 &\n"
            "or start it from your shell profile; 'openusage' also starts it on demand.")


def systemd_available() -> bool:
    if not shutil.which("systemctl"):
        return False
    proc = subprocess.run(["systemctl", "--user", "show-environment"], capture_output=True, timeout=10)
    return proc.returncode == 0


def _write(path: str, content: str, secret: bool) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    os.chmod(tmp, 0o600 if secret else 0o644)
    os.replace(tmp, path)


def _run(commands: List[List[str]], check: bool = True) -> None:
    for cmd in commands:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[:1]
            raise ServiceError(f"{' '.join(cmd)} failed" + (f": {detail[0]}" if detail else ""))


def install(plan: Plan) -> None:
    if plan.kind == "systemd" and not systemd_available():
        raise ServiceError(manual_instructions())
    for path, content in plan.files.items():
        _write(path, content, path in plan.secret_files)
    if plan.kind == "launchd":
        _run(plan.commands[:1], check=False)  # unload a previous version; none loaded is fine
        _run(plan.commands[1:])
    else:
        _run(plan.commands)


def uninstall(kind: Optional[str] = None) -> List[str]:
    """Stop and remove the service; the files removed."""
    kind = kind or platform_kind()
    removed = []
    if kind == "launchd":
        plist = launchd_plist_path()
        if os.path.exists(plist):
            _run([["launchctl", "unload", "-w", plist]], check=False)
            os.unlink(plist)
            removed.append(plist)
        return removed
    if systemd_available():
        _run([["systemctl", "--user", "disable", "--now", UNIT_NAME]], check=False)
    for path in (systemd_unit_path(), env_file_path()):
        if os.path.exists(path):
            os.unlink(path)
            removed.append(path)
    if systemd_available():
        _run([["systemctl", "--user", "daemon-reload"]], check=False)
    return removed


def state(kind: Optional[str] = None) -> Dict[str, str]:
    """Installed / enabled / active, as the service manager says."""
    kind = kind or platform_kind()
    if kind == "launchd":
        installed = os.path.exists(launchd_plist_path())
        if not installed or not shutil.which("launchctl"):
            return {"manager": "launchd", "installed": str(installed).lower()}
        proc = subprocess.run(["launchctl", "list", LAUNCHD_LABEL], capture_output=True, text=True, timeout=10)
        return {"manager": "launchd", "installed": "true", "loaded": str(proc.returncode == 0).lower()}
    info = {"manager": "systemd", "installed": str(os.path.exists(systemd_unit_path())).lower()}
    if not systemd_available():
        info["systemd"] = "unavailable"
        return info
    for what in ("is-enabled", "is-active"):
        proc = subprocess.run(["systemctl", "--user", what, UNIT_NAME], capture_output=True, text=True, timeout=10)
        info[what.replace("is-", "")] = proc.stdout.strip() or "unknown"
    return info
