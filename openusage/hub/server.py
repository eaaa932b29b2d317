"""The hub: a TCP server that aggregates the snapshot batches pushed by several machines' daemons.

Bearer auth when OPENUSAGE_HUB_TOKEN is set (constant-time compare). It refuses to bind a
non-loopback address without a token unless --allow-public.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import socket
import threading
from http.server import ThreadingHTTPServer
from typing import Any, Dict, Optional, Tuple

from openusage.core import redact
from openusage.httpserver import ApiError, JsonRequestHandler, Request, Routes
from openusage.hub import metrics
from openusage.hub.store import HubStore, PushError, validate_push

log = logging.getLogger("openusage.hub")

MAX_PUSH_BYTES = 4 * 1024 * 1024


class BindRefused(Exception):
    pass


def parse_listen(listen: str) -> Tuple[str, int]:
    """'127.0.0.1:9190', '[::1]:9190', ':9190' -> (host, port); ValueError when malformed."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--listen expects HOST:PORT, got {listen!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: Optional[str], allow_public: bool) -> None:
    """Refuse an unprotected bind beyond loopback, naming the three ways out."""
    if is_loopback(host) or token or allow_public:
        return
    raise BindRefused(
        f"refusing to listen on {host} without a token: anyone who can reach it could read and push usage.\n"
        "  1. set OPENUSAGE_HUB_TOKEN (and the same variable for every exporter), or\n"
        "  2. listen on 127.0.0.1 and reach the hub through an SSH tunnel or a reverse proxy, or\n"
        "  3. pass --allow-public if this network is trusted."
    )


class HubServer(ThreadingHTTPServer):
    daemon_threads = True
    max_body = MAX_PUSH_BYTES
    request_queue_size = 128

    def __init__(self, address: Tuple[str, int], store: HubStore, token: Optional[str]):
        self.store = store
        self.token = token
        self.draining = False
        self.routes = build_routes(store, token)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, JsonRequestHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def _authorized(req: Request, token: Optional[str]) -> None:
    if not token:
        return
    header = req.headers.get("Authorization") or ""
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(401, "unauthorized: send Authorization: Bearer <OPENUSAGE_HUB_TOKEN>")


def build_routes(store: HubStore, token: Optional[str]) -> Routes:
    routes = Routes()

    def healthz(req: Request) -> Tuple[int, Dict[str, Any]]:
        return 200, {"status": "ok", "machines": sorted(store.machines())}

    def push(req: Request) -> Tuple[int, Dict[str, Any]]:
        _authorized(req, token)
        try:
            batch = validate_push(req.json())
        except PushError as exc:
            raise ApiError(400, str(exc)) from exc
        stored = store.push(batch)
        return 200, {"stored": stored, "machine": batch["machine"]}

    def snapshots(req: Request) -> Tuple[int, Dict[str, Any]]:
        _authorized(req, token)
        return 200, store.view()

    def prometheus(req: Request) -> Tuple[int, str]:
        _authorized(req, token)
        return 200, metrics.render(store.entries(), store.machines(), alerts=store.alerts())

    routes.add("GET", "/healthz", healthz)
    routes.add("POST", "/v1/push", push)
    routes.add("GET", "/v1/snapshots", snapshots)
    routes.add("GET", "/metrics", prometheus)
    return routes


def start(listen: str, token: Optional[str], allow_public: bool, stale_timeout: float) -> HubServer:
    """Bind (after the guard) and serve in a background thread."""
    host, port = parse_listen(listen)
    check_bind(host, token, allow_public)
    redact.remember(token)
    server = HubServer((host, port), HubStore(stale_timeout), token)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="hub", daemon=True).start()
    log.info("hub listening on %s", server.url)
    return server
