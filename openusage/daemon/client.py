"""A small HTTP client for the daemon's Unix socket. Stdlib only: the hook path uses it."""
from __future__ import annotations

import _socket  # the C module: `socket` (its enum classes) and json add ~30 ms to a hook (bench/README.md)

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the hook imports this (bench/README.md, start-up speed)
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple

# socket, json and http.client are imported where used: the hook path needs only post_fast.

RECEIVED_AT_HEADER = "X-Openusage-Received-At"  # the hook's receipt time (epoch seconds), read by the hook route


class DaemonUnreachable(Exception):
    """Nothing answers on the socket (not running, stale socket, or timed out)."""


def _unix_connection(path: str, timeout: float, connect_timeout: Optional[float] = None):
    import http.client
    import socket

    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout if connect_timeout is None else connect_timeout)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            sock.settimeout(self.timeout)
            self.sock = sock

    return UnixConnection("localhost", timeout=timeout)


def post_fast(socket_path: str, path: str, body: bytes, headers: Dict[str, str], timeout: float) -> int:
    """POST with a bare HTTP/1.0 exchange over the socket; the response status.

    Used by the hook command, which runs on every agent turn: no http.client import, one round trip.
    """
    head = [f"POST {path} HTTP/1.0", "Host: openusage", "Content-Type: application/json",
            f"Content-Length: {len(body)}"]
    head.extend(f"{k}: {v}" for k, v in headers.items())
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(socket_path)
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise DaemonUnreachable(f"{socket_path}: {exc.__class__.__name__}: {exc}") from exc
    finally:
        sock.close()
    parts = data.split(b"\r\n", 1)[0].split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise DaemonUnreachable(f"{socket_path}: no HTTP answer")
    return int(parts[1])


def request(
    socket_path: str,
    method: str,
    path: str,
    body: Optional[bytes] = None,
    timeout: float = 12.0,
    headers: Optional[Dict[str, str]] = None,
    connect_timeout: Optional[float] = None,
) -> Tuple[int, bytes]:
    """Send one request; (status, body). DaemonUnreachable when the daemon does not answer.

    connect_timeout bounds the dial alone (the dashboard's 2 s), timeout the rest of the exchange.
    """
    import http.client

    conn = _unix_connection(socket_path, timeout, connect_timeout)
    try:
        hdrs = {"Host": "openusage"}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException) as exc:
        raise DaemonUnreachable(f"{socket_path}: {exc.__class__.__name__}: {exc}") from exc
    finally:
        conn.close()


def call_json(socket_path: str, method: str, path: str, payload: Any = None, timeout: float = 12.0,
              connect_timeout: Optional[float] = None) -> Any:
    """Request with a JSON body and a JSON answer; raises RuntimeError on an HTTP error status."""
    import json

    body = None if payload is None else json.dumps(payload).encode("utf-8")
    status, data = request(socket_path, method, path, body, timeout, connect_timeout=connect_timeout)
    try:
        parsed = json.loads(data.decode("utf-8")) if data else None
    except ValueError as exc:
        raise RuntimeError(f"daemon answered {status} with a body that is not JSON") from exc
    if status >= 400:
        message = parsed.get("error") if isinstance(parsed, dict) else None
        raise RuntimeError(f"daemon answered {status}: {message or 'error'}")
    return parsed


def is_alive(socket_path: str, timeout: float = 2.0) -> bool:
    try:
        status, _ = request(socket_path, "GET", "/healthz", timeout=timeout)
    except DaemonUnreachable:
        return False
    return status in (200, 503)
