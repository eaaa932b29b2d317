"""Where the dashboard's data comes from. A source has fetch(window) -> read-model dict,
refresh(provider=None) and describe() -> str for the status line; `hub-view` brings its own.

DaemonSource reads the local daemon over its Unix socket with requests-unixsocket, and starts the
daemon in the background on the first fetch when none answers. Its methods run on the app's fetch
thread; describe() only reads attributes, so the loop may call it at any time.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional
from urllib.parse import quote

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
        self._session: Any = None

    # --- the source interface -------------------------------------------------------------------

    def fetch(self, window: str) -> Dict[str, Any]:
        if self.autostart and not self._checked_start:
            self._start_if_needed()
        model = self._call("POST", "/v1/read-model", {"window": window})
        if not isinstance(model, dict) or not isinstance(model.get("snapshots"), dict):
            raise SourceError("the daemon answered with something that is not a read model")
        self.state = "connected"
        return model

    def refresh(self, provider: Optional[str] = None) -> None:
        self._call("POST", "/v1/refresh", {"provider": provider} if provider else {})

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
        from openusage.cli import daemon_ctl
        from openusage.cli.common import CliError
        from openusage.daemon import client

        self._checked_start = True
        if client.is_alive(self.socket_path, timeout=self.timeouts[0]):
            return
        self.state = "starting"
        try:
            self.started_daemon = daemon_ctl.ensure_running(self.socket_path, self.config_path)
        except CliError as exc:
            self.state = "unreachable"
            raise SourceError(str(exc)) from exc
        if self.started_daemon:
            daemon_ctl.wait_first_poll(self.socket_path)

    def _url(self, path: str) -> str:
        return "http+unix://" + quote(self.socket_path, safe="") + path

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        import requests

        if self._session is None:
            import requests_unixsocket

            self._session = requests_unixsocket.Session()
            self._session.trust_env = False  # no proxies or netrc for a local socket
        try:
            resp = self._session.request(method, self._url(path), json=payload, timeout=self.timeouts)
        except requests.RequestException as exc:
            self.state = "unreachable"
            raise SourceError(f"no daemon answers on {_short_path(self.socket_path)} ({type(exc).__name__})") from exc
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 400:
            detail = body.get("error") if isinstance(body, dict) else None
            raise SourceError(f"daemon answered {resp.status_code}: {detail or resp.reason}")
        return body

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def _short_path(path: str) -> str:
    home = os.path.expanduser("~")
    if home and home != "/" and path.startswith(home + os.sep):
        return "~" + path[len(home):]
    return path
