"""Where the dashboard's data comes from. A source has fetch(window) -> read-model dict,
refresh(provider=None) and describe() -> str for the status line; `hub-view` brings its own.

DaemonSource reads the local daemon over its Unix socket (openusage.daemon.client, stdlib only), and
starts the daemon in the background on the first fetch when none answers. Its methods run on the app's fetch
thread; describe() only reads attributes, so the loop may call it at any time.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

CONNECT_TIMEOUT = 2.0  # DESIGN section 7: dashboard 2 s dial / 12 s request
READ_TIMEOUT = 12.0


class SourceError(Exception):
    """A fetch or refresh failed; the message is for the status line."""


class DaemonSource:
    def __init__(self, socket_path: str, config_path: Optional[str] = None, autostart: bool = True,
                 timeouts: tuple = (CONNECT_TIMEOUT, READ_TIMEOUT)):
        self.socket_path = socket_path
        self.config_path = config_path
        self.autostart = autostart
        self.timeouts = timeouts
        self.state = "connecting"  # connecting, starting, started, connected, unreachable
        self.started_daemon = False
        self._checked_start = False

    # --- the source interface -------------------------------------------------------------------

    def fetch(self, window: str) -> Dict[str, Any]:
        if self.autostart and not self._checked_start:
            self._start_if_needed()
        model = self._call("POST", "/v1/read-model", {"window": window})
        if not isinstance(model, dict) or not isinstance(model.get("snapshots"), dict):
            raise SourceError("the daemon answered with something that is not a read model")
        self.state = "connected"
        try:
            model["alerts"] = unseen_alerts(self._call("GET", "/v1/alerts"))
        except SourceError:  # a daemon without alerts: the tiles still show
            model["alerts"] = []
        return model

    def mark_seen(self, provider_id: str, account_id: str) -> None:
        """The user has seen this account's alerts (its detail view was opened)."""
        self._call("POST", "/v1/alerts/seen", {"provider_id": provider_id, "account_id": account_id})

    def refresh(self, provider: Optional[str] = None) -> None:
        self._call("POST", "/v1/refresh", {"provider": provider} if provider else {})

    def start_hint(self) -> str:
        """What the start key does while the daemon does not answer, for the status line."""
        from openusage.daemon import service

        manager = service.manager_of(self.socket_path)
        if manager:
            return f"{manager} restarts the daemon"
        return "s starts the daemon" if self.autostart else ""

    def start(self) -> str:
        """The start key: start the daemon unless a service manager runs it; what happened."""
        from openusage.console import CliError
        from openusage.daemon import control as daemon_ctl
        from openusage.daemon import service

        manager = service.manager_of(self.socket_path)
        if manager or not self.autostart:
            return f"{manager} restarts the daemon" if manager else ""
        self.state = "starting"
        try:
            started = daemon_ctl.ensure_running(self.socket_path, self.config_path)
        except CliError as exc:
            self.state = "unreachable"
            raise SourceError(str(exc)) from exc
        if not started:
            return "a daemon answers again"
        self.started_daemon = True
        daemon_ctl.wait_first_poll(self.socket_path)
        return "daemon started"

    def describe(self) -> str:
        if self.state == "connected":
            return "daemon ok, started by openusage" if self.started_daemon else "daemon ok"
        where = _short_path(self.socket_path)
        if self.state == "starting":
            return f"starting the daemon on {where}"
        if self.state == "unreachable":
            return "daemon unreachable, retrying"
        return f"connecting to {where}"

    # --- plumbing -------------------------------------------------------------------------------

    def _start_if_needed(self) -> None:
        from openusage.console import CliError
        from openusage.daemon import client
        from openusage.daemon import control as daemon_ctl
        from openusage.errors import OpenusageError

        self._checked_start = True
        if client.is_alive(self.socket_path, timeout=self.timeouts[0]):
            return
        self.state = "starting"
        try:
            self.started_daemon = daemon_ctl.ensure_running(self.socket_path, self.config_path)
        except (CliError, OpenusageError) as exc:  # OpenusageError: a socket path or state dir it cannot use
            self.state = "unreachable"
            raise SourceError(str(exc)) from exc
        if self.started_daemon:
            daemon_ctl.wait_first_poll(self.socket_path)

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        # The stdlib client every command uses: importing requests would cost the dashboard ~0.1 s
        # before its first data, a fifth of its start-up budget.
        from openusage.daemon import client

        try:
            return client.call_json(self.socket_path, method, path, payload, timeout=self.timeouts[1],
                                    connect_timeout=self.timeouts[0])
        except client.DaemonUnreachable as exc:
            self.state = "unreachable"
            cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "no answer"
            raise SourceError(f"no daemon answers on {_short_path(self.socket_path)} ({cause})") from exc
        except RuntimeError as exc:  # an error status, or a body that is not JSON
            raise SourceError(str(exc)) from exc

    def close(self) -> None:
        """Nothing to release: every call has its own connection."""


def unseen_alerts(view: Any) -> List[Dict[str, Any]]:
    """The fired alerts the user has not seen, newest first, each with its message when the daemon has it."""
    if not isinstance(view, dict):
        return []
    messages = {}
    for alert in reversed(view.get("recent") or []):
        if isinstance(alert, dict):
            key = (alert.get("rule"), alert.get("provider_id"), alert.get("account_id"), alert.get("limit") or "")
            messages[key] = alert.get("message")
    out = []
    for row in view.get("alerts") or []:
        if isinstance(row, dict) and row.get("seen") is False:
            key = (row.get("rule"), row.get("provider_id"), row.get("account_id"), row.get("limit") or "")
            out.append(dict(row, message=messages.get(key)))
    return sorted(out, key=lambda a: str(a.get("fired_at") or ""), reverse=True)


def _short_path(path: str) -> str:
    home = os.path.expanduser("~")
    if home and home != "/" and path.startswith(home + os.sep):
        return "~" + path[len(home):]
    return path
