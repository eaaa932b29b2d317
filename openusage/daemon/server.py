"""ThreadingHTTPServer on an AF_UNIX socket, dispatching JSON requests through a route table.

The three fixes a Unix-socket ThreadingHTTPServer needs: bind to a path (not host, port), an
address_string that does not index the peer address, and removing the socket file on close.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import queue
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple

from openusage.daemon import client

log = logging.getLogger("openusage.daemon.server")

MAX_BODY = 1024 * 1024


class Request:
    """What a route handler gets: method, path, query, path parameter, raw body, headers."""

    def __init__(self, method: str, path: str, query: Dict[str, str], param: Optional[str], body: bytes,
                 headers: Any):
        self.method = method
        self.path = path
        self.query = query
        self.param = param
        self.body = body
        self.headers = headers

    def json(self) -> Any:
        """The body as JSON; ApiError(400) when it is not."""
        if not self.body:
            return {}
        try:
            return json.loads(self.body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ApiError(400, "body is not UTF-8") from exc
        except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser goes
            raise ApiError(400, f"malformed JSON: {exc}") from exc


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


Handler = Callable[[Request], Tuple[int, Any]]


class Routes:
    """Exact routes {(METHOD, path): handler} and prefix routes {(METHOD, prefix): handler}."""

    def __init__(self) -> None:
        self.exact: Dict[Tuple[str, str], Handler] = {}
        self.prefix: List[Tuple[str, str, Handler]] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        if path.endswith("/{}"):
            self.prefix.append((method, path[:-2], handler))
        else:
            self.exact[(method, path)] = handler

    def match(self, method: str, path: str) -> Tuple[Optional[Handler], Optional[str], bool]:
        """(handler, path parameter, path known for another method)."""
        handler = self.exact.get((method, path))
        if handler:
            return handler, None, True
        known = any(p == path for (_, p) in self.exact)
        for m, prefix, h in self.prefix:
            if path.startswith(prefix) and len(path) > len(prefix) and "/" not in path[len(prefix):]:
                if m == method:
                    return h, path[len(prefix):], True
                known = True
        return None, None, known


class JsonRequestHandler(BaseHTTPRequestHandler):
    """Dispatches through server.routes; used by the daemon (Unix socket) and the hub (TCP)."""

    server: Any
    server_version = "openusage"
    sys_version = ""
    timeout = 15  # a client that stalls mid-request is dropped, never holds a thread for long
    wbufsize = -1  # status line, headers and body leave in one send (_send flushes)

    def address_string(self) -> str:  # the peer of an AF_UNIX socket has no (host, port)
        addr = self.client_address
        return addr[0] if isinstance(addr, tuple) and addr else "unix"

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    def _dispatch(self, method: str) -> None:
        try:
            status, payload = self._handle(method)
        except ApiError as exc:
            status, payload = exc.status, {"error": exc.message}
        except Exception:  # the server never dies on a request
            log.exception("internal error on %s %s", method, self.path)
            status, payload = 500, {"error": "internal error"}
        self._send(status, payload, method)

    def _handle(self, method: str) -> Tuple[int, Any]:
        if self.server.draining:
            raise ApiError(503, "shutting down")
        raw_path, _, query_string = self.path.partition("?")
        handler, param, known = self.server.routes.match(method, raw_path)
        if handler is None:
            raise ApiError(405 if known else 404, "method not allowed" if known else "not found")
        body = self._read_body()
        query = _parse_query(query_string) if query_string else {}
        return handler(Request(method, raw_path, query, param, body, self.headers))

    def _read_body(self) -> bytes:
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise ApiError(411, "chunked bodies are not accepted; send Content-Length")
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError as exc:
            raise ApiError(400, "bad Content-Length") from exc
        if length < 0:
            raise ApiError(400, "bad Content-Length")
        limit = getattr(self.server, "max_body", MAX_BODY)
        if length > limit:
            self.close_connection = True
            raise ApiError(413, f"body over the limit of {limit} bytes")
        body = self.rfile.read(length)
        if len(body) < length:
            raise ApiError(400, "body shorter than Content-Length")
        return body

    def _send(self, status: int, payload: Any, method: str) -> None:
        if isinstance(payload, (bytes, str)):
            data = payload.encode("utf-8") if isinstance(payload, str) else payload
            ctype = "text/plain; version=0.0.4; charset=utf-8"
        else:
            data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            ctype = "application/json"
        if log.isEnabledFor(logging.DEBUG):
            log.debug('%s "%s" %d %d', self.address_string(), self.requestline, status, len(data))
        # Written in one piece (what send_response and send_header would write, minus their per-line
        # calls): every hook pays for this.
        head = (f"{self.protocol_version} {status} {self.responses.get(status, ('',))[0]}\r\n"
                f"Server: {self.server_version}\r\nDate: {_http_date()}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head if method == "HEAD" else head + data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def parse_request(self) -> bool:
        """The request line and headers (BaseHTTPRequestHandler's rules, without the email parser).

        The stdlib reads headers with the email package, ~60 us a request, as much as the hook's
        own work. Errors are answered with a status line (HTTP/1.0); HTTP/0.9 is not served.
        """
        self.command = ""
        self.request_version = "HTTP/1.0"
        self.close_connection = True
        self.requestline = requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if not words:
            return False  # an empty line: nothing to answer
        if len(words) != 3:
            self.send_error(400, f"Bad request syntax ({requestline!r})")
            return False
        command, path, version = words
        numbers = version[5:].split(".") if version.startswith("HTTP/") else []
        if len(numbers) != 2 or not all(n.isdigit() and len(n) <= 10 for n in numbers):
            self.send_error(400, f"Bad request version ({version!r})")
            return False
        if int(numbers[0]) >= 2:
            self.send_error(505, f"Invalid HTTP version ({version[5:]})")
            return False
        self.command, self.request_version = command, version
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        headers = Headers()
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                self.send_error(431, "Line too long")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            if len(headers) >= _MAX_HEADERS:
                self.send_error(431, "Too many headers")
                return False
            name, sep, value = str(line, "iso-8859-1").partition(":")
            if not sep or not name or name != name.strip():  # no colon, or obs-fold / space before it
                self.send_error(400, "Bad header line")
                return False
            headers.add(name, value.strip())
        self.headers = headers
        return True

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        # Called for malformed requests and by the base class for unknown methods: answer in JSON.
        self.close_connection = True
        self._send(code, {"error": message or self.responses.get(code, ("error",))[0]}, "GET")


_MAX_LINE = 65536  # the stdlib's limits for a request or header line and for the number of headers
_MAX_HEADERS = 100


class Headers:
    """Request headers: case-insensitive, the first of repeated names wins (as email.message's get)."""

    def __init__(self) -> None:
        self._items: Dict[str, str] = {}
        self._count = 0

    def add(self, name: str, value: str) -> None:
        self._items.setdefault(name.lower(), value)
        self._count += 1

    def get(self, name: str, default: Any = None) -> Any:
        return self._items.get(name.lower(), default)

    def __len__(self) -> int:
        return self._count


_date_cache: Tuple[int, str] = (0, "")


def _http_date() -> str:
    """The Date header, formatted once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        from email.utils import formatdate

        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def _parse_query(qs: str) -> Dict[str, str]:
    from urllib.parse import parse_qsl

    try:
        return dict(parse_qsl(qs, keep_blank_values=True, strict_parsing=False))
    except ValueError as exc:
        raise ApiError(400, "bad query string") from exc


class AlreadyRunning(RuntimeError):
    pass


class UnixHTTPServer(ThreadingHTTPServer):
    """Requests run on reused worker threads: a new one is started only when none is idle.

    Starting a thread per request cost as much CPU as the hook itself; idle workers beyond the
    busiest recent moment exit after IDLE_SECONDS. Never more than MAX_WORKERS run at once;
    connections beyond them wait in a queue.
    """

    address_family = socket.AF_UNIX
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    MAX_WORKERS = 128
    IDLE_SECONDS = 60.0

    def __init__(self, path: str, routes: Routes):
        self.routes = routes
        self.draining = False
        self.socket_path = path
        self._active = 0  # accepted connections not yet finished
        self._idle = threading.Condition()
        self._workers = 0
        self._available = 0  # idle workers not yet promised a connection
        self._backlog = 0  # queued connections no worker was promised
        self._work: queue.SimpleQueue[Any] = queue.SimpleQueue()
        super().__init__(path, JsonRequestHandler)  # type: ignore[arg-type]

    def get_request(self) -> Tuple[socket.socket, Any]:
        # socket.accept() looks the family and type up as enums for every connection; they are known.
        fd, address = self.socket._accept()
        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=fd), address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._idle:
            self._active += 1
            spawn = False
            if self._available > 0:
                self._available -= 1
            elif self._workers < self.MAX_WORKERS:
                self._workers += 1
                spawn = True
            else:
                self._backlog += 1
        self._work.put((request, client_address))
        if spawn:
            threading.Thread(target=self._worker, name="request", daemon=True).start()

    def _worker(self) -> None:
        while True:
            try:
                item = self._work.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._idle:
                    if self._available > 0:  # no connection is on its way to this worker
                        self._available -= 1
                        self._workers -= 1
                        return
                continue
            if item is None:
                return
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)
                with self._idle:
                    self._active -= 1
                    if self._backlog > 0:
                        self._backlog -= 1
                    else:
                        self._available += 1
                    self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait for in-flight requests to finish; False when some are still running."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def server_close(self) -> None:
        super().server_close()
        with self._idle:
            workers = self._workers
        for _ in range(workers):  # idle workers leave; busy ones after their request
            self._work.put(None)

    def server_bind(self) -> None:
        prepare_socket_path(self.socket_path)
        old_umask = os.umask(0o177)
        try:
            self.socket.bind(self.socket_path)
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, 0o600)
        self.server_address = self.socket_path
        self._bound_inode = os.stat(self.socket_path).st_ino

    def remove_socket_file(self) -> None:
        """Unlink our socket file, unless another daemon has bound the path since."""
        try:
            if os.stat(self.socket_path).st_ino == getattr(self, "_bound_inode", None):
                os.unlink(self.socket_path)
        except FileNotFoundError:
            pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("error while handling a request")


def prepare_socket_path(path: str) -> None:
    """Private parent dir; a live daemon on the path is an error, a stale socket file is removed."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        os.makedirs(parent, mode=0o700, exist_ok=True)
        os.chmod(parent, 0o700)
    if not os.path.exists(path) and not os.path.islink(path):
        return
    if client.is_alive(path, timeout=2.0):
        raise AlreadyRunning(f"a daemon is already running on {path}")
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
