"""A small public Python client of the daemon's read API, for scripts.

    from openusage.client import Client

    with Client() as daemon:                      # the default socket, or Client("/path/to.sock")
        for key, snap in daemon.usage(window="7d")["snapshots"].items():
            print(key, snap["status"], snap.get("spend", {}).get("total"))

Built on requests-unixsocket (a requests Session over the Unix socket). The latency-critical paths
of openusage itself - the hook on every agent turn, the dashboard's start - keep the stdlib client
in openusage.daemon.client, which imports no requests.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional
from urllib.parse import quote

import requests
import requests_unixsocket

from openusage import paths

__all__ = ["Client", "ClientError", "DaemonUnreachable"]


class ClientError(Exception):
    """The daemon answered with an error: `status` is the HTTP status, the message its `error`."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class DaemonUnreachable(ClientError):
    """Nothing answers on the socket (no daemon, a stale socket file, or a timeout)."""


class Client:
    """The daemon's read API: health, providers, usage, read model, refresh."""

    def __init__(self, socket_path: Optional[str] = None, timeout: float = 12.0):
        self.socket_path = socket_path or paths.socket_path()
        self.timeout = timeout
        self._base = "http+unix://" + quote(self.socket_path, safe="")
        self._session = requests_unixsocket.Session()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def health(self) -> Dict[str, Any]:
        """GET /healthz: pid, uptime, counters, spool depth, last poll per provider."""
        return self._call("GET", "/healthz", ok=(200, 503))

    def providers(self) -> List[Dict[str, Any]]:
        """GET /v1/providers: every provider with its source modes, widget specs and accounts."""
        return self._call("GET", "/v1/providers")["providers"]

    def usage(self, provider: Optional[str] = None, window: Optional[str] = None) -> Dict[str, Any]:
        """GET /v1/usage[/PROVIDER]: the read model (all accounts, or one provider's) for a window."""
        path = "/v1/usage" + (f"/{quote(provider, safe='')}" if provider else "")
        return self._call("GET", path, params={"window": window} if window else None)

    def read_model(self, window: Optional[str] = None) -> Dict[str, Any]:
        """POST /v1/read-model: {window, generated_at, window_start, snapshots: {account: UsageSnapshot}}."""
        return self._call("POST", "/v1/read-model", json={"window": window} if window else {})

    def refresh(self, provider: Optional[str] = None) -> int:
        """POST /v1/refresh: poll now (every account, or one provider's); how many polls were scheduled."""
        return int(self._call("POST", "/v1/refresh", json={"provider": provider} if provider else {})["scheduled"])

    def _call(self, method: str, path: str, ok: tuple = (200, 202), **kwargs: Any) -> Any:
        try:
            resp = self._session.request(method, self._base + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise DaemonUnreachable(f"no daemon answers on {self.socket_path} ({type(exc).__name__})") from exc
        try:
            body = resp.json()
        except ValueError as exc:
            raise ClientError(f"daemon answered {resp.status_code} with a body that is not JSON",
                              resp.status_code) from exc
        if resp.status_code not in ok:
            message = body.get("error") if isinstance(body, dict) else None
            raise ClientError(f"daemon answered {resp.status_code}: {message or 'error'}", resp.status_code)
        return body
