"""Starting, finding and stopping the background daemon from the CLI."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from openusage import paths
from openusage.cli.common import EXIT_UNREACHABLE, EXIT_USAGE, CliError
from openusage.daemon import client


def daemon_command(socket_path: str, config_path: Optional[str]) -> List[str]:
    """The argv that runs the daemon in the foreground with this interpreter."""
    cmd = [sys.executable, "-m", "openusage", "telemetry", "daemon", "run", "--socket-path", socket_path]
    if config_path:
        cmd += ["--config", config_path]
    return cmd


def ensure_running(socket_path: str, config_path: Optional[str] = None, timeout: float = 10.0) -> bool:
    """Start the daemon in the background unless one answers; True when this call started it."""
    if client.is_alive(socket_path):
        return False
    paths.ensure_private_dir(paths.state_dir())
    log_file = open(os.devnull, "wb")
    try:
        proc = subprocess.Popen(
            daemon_command(socket_path, config_path),
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
            start_new_session=True, close_fds=True,
        )
    finally:
        log_file.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.is_alive(socket_path, timeout=1.0):
            return True
        code = proc.poll()
        if code is not None:
            if client.is_alive(socket_path, timeout=1.0):  # another one won the race
                return False
            raise CliError(f"the daemon exited with code {code} at start; see {paths.log_path()}")
        time.sleep(0.05)
    raise CliError(f"the daemon did not answer on {socket_path} within {timeout:.0f}s; see {paths.log_path()}",
                   EXIT_UNREACHABLE)


def check_config(socket_path: str, config_arg: Optional[str], other: str = "") -> None:
    """--config is honoured by a daemon that answers only when it runs with that very file; else exit 2.

    `other` names one more way out (reports: "--source direct"). No daemon: nothing to check (one
    started by this command gets the file).
    """
    if not config_arg or not os.path.exists(socket_path):
        return
    try:
        health = client.call_json(socket_path, "GET", "/healthz", timeout=2.0)
    except (client.DaemonUnreachable, RuntimeError):
        return
    theirs = health.get("config_path") if isinstance(health, dict) else None
    wanted = paths.config_path(config_arg)
    if isinstance(theirs, str) and os.path.realpath(theirs) == os.path.realpath(wanted):
        return
    ways = ["stop it ('openusage telemetry daemon stop')", "give --socket-path of a daemon started with that file"]
    raise CliError(f"--config {config_arg}: the daemon on {socket_path} runs with {theirs or 'other settings'}; "
                   + ", ".join(ways + ([other] if other else [])), EXIT_USAGE)


def wait_first_poll(socket_path: str, timeout: float = 5.0) -> bool:
    """After a fresh start: wait (bounded) until every account has been polled once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            providers = client.call_json(socket_path, "GET", "/healthz", timeout=2.0).get("providers") or {}
        except (client.DaemonUnreachable, RuntimeError):
            return False
        if all(p.get("status") for p in providers.values()):
            return True
        time.sleep(0.05)
    return False


def health(socket_path: str, timeout: float = 2.0) -> Dict[str, Any]:
    try:
        return client.call_json(socket_path, "GET", "/healthz", timeout=timeout)
    except client.DaemonUnreachable as exc:
        raise CliError(f"no daemon answers on {socket_path}", EXIT_UNREACHABLE) from exc
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(socket_path: str, timeout: float = 30.0) -> int:
    """SIGTERM the daemon on the socket and wait until it is gone; its pid."""
    pid = int(health(socket_path)["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The daemon unlinks its socket as the last step of a clean shutdown.
        if not os.path.exists(socket_path) or not _process_exists(pid):
            return pid
        time.sleep(0.05)
    raise CliError(f"daemon {pid} did not stop within {timeout:.0f}s")
