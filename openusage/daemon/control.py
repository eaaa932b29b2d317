"""Starting, waiting for and stopping the daemon from outside it: the commands and the dashboard use these."""
from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any, Dict, List, Optional

from openusage import paths
from openusage.console import EXIT_UNREACHABLE, EXIT_USAGE, CliError
from openusage.daemon import client
from openusage.store import lock as store_lock


def daemon_command(socket_path: str, config_path: Optional[str]) -> List[str]:
    """The argv that runs the daemon in the foreground with this interpreter."""
    cmd = [sys.executable, "-m", "openusage", "telemetry", "daemon", "run", "--socket-path", socket_path]
    if config_path:
        cmd += ["--config", config_path]
    return cmd


def ensure_running(socket_path: str, config_path: Optional[str] = None, timeout: float = 10.0) -> bool:
    """Start the daemon in the background unless one answers; True when this call started it.

    A daemon that holds the store's lock but does not answer yet (a long start) is waited for, not
    doubled. What the daemon would refuse at start (a socket path it cannot bind, an unusable state
    dir) is refused here with the same one line; for the rest, the daemon's last logged error.
    """
    if client.is_alive(socket_path):
        return False
    from openusage.daemon.server import check_socket_path

    paths.ensure_private_dir(paths.state_dir())
    check_socket_path(socket_path)
    if _wait_for_holder(socket_path, timeout):
        return False
    log_path = paths.log_path()
    try:
        log_offset = os.path.getsize(log_path)
    except OSError:
        log_offset = 0
    import subprocess  # here: a report imports this module, and starts no daemon

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
            from openusage.daemon import logs

            reason = logs.last_error(log_path, log_offset)
            if reason:
                raise CliError(reason.replace("openusage: ", "", 1), code)
            raise CliError(f"the daemon exited with code {code} at start; see {log_path}")
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


def _wait_for_holder(socket_path: str, timeout: float) -> bool:
    """True once the daemon holding the store answers on socket_path; False when no daemon holds it.

    CliError when the store's daemon listens on another socket (starting one here would only fail).
    """
    db_file = paths.db_path()
    deadline = time.monotonic() + timeout
    while True:
        holder = store_lock.holder(db_file)
        if holder is None:
            return False
        pid = holder.get("pid")
        if isinstance(pid, int) and not _process_exists(pid):
            return False  # the kernel drops the lock with the process: it is on its way out
        other = holder.get("socket")
        if other and other != socket_path:
            raise CliError(f"{store_lock.describe(db_file, holder)}; use --socket-path {other}")
        if client.is_alive(socket_path, timeout=1.0):
            return True
        if time.monotonic() >= deadline:
            raise CliError(f"{store_lock.describe(db_file, holder)} and does not answer within {timeout:.0f}s; "
                           f"see {paths.log_path()}", EXIT_UNREACHABLE)
        time.sleep(0.1)


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
    """SIGTERM the daemon on the socket and wait until it is gone; its pid.

    When nothing answers on the socket but the store's daemon was started on it (it is still
    starting, or too busy to answer), that daemon is the one stopped: its pid is in the store's lock.
    """
    try:
        pid = int(health(socket_path)["pid"])
    except CliError as exc:
        if exc.code != EXIT_UNREACHABLE:
            raise
        db_file = paths.db_path()
        holder = store_lock.holder(db_file)
        if not holder or not isinstance(holder.get("pid"), int):
            raise
        if holder.get("socket") != socket_path:
            raise CliError(f"no daemon answers on {socket_path}; {store_lock.describe(db_file, holder)}: "
                           f"stop it with --socket-path {holder.get('socket')}", EXIT_UNREACHABLE) from exc
        pid = holder["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The daemon unlinks its socket as the last step of a clean shutdown.
        if not os.path.exists(socket_path) or not _process_exists(pid):
            return pid
        time.sleep(0.05)
    raise CliError(f"daemon {pid} did not stop within {timeout:.0f}s")
