"""HTTP request handling shared by the daemon (Unix socket) and the hub (TCP): routes, requests, JSON answers.

Both servers own their sockets (daemon/server.py, hub/server.py); this module owns what a request
meets once it is accepted: the deadline, the route table, the body limit and the JSON reply.
"""
from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Dict, List, Optional, Tuple

log = logging.getLogger("openusage.daemon.server")  # the name the daemon's log lines have always carried


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


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes until a deadline for the whole request, however slowly they trickle in.

    A per-recv timeout lets a client sending a byte a second hold a thread for ever; this one
    bounds the request line, headers and body together.
    """

    def __init__(self, sock: socket.socket, deadline: float):
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("request not received in time")
        self._sock.settimeout(left)
        return self._sock.recv_into(buffer)


class _Discard(io.RawIOBase):
    """Where the answer goes once the client has gone: later flushes and the close write nothing."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


class JsonRequestHandler(BaseHTTPRequestHandler):
    """Dispatches through server.routes; used by the daemon (Unix socket) and the hub (TCP)."""

    server: Any
    server_version = "openusage"
    sys_version = ""
    timeout = 15  # a client that stalls mid-request is dropped, never holds a thread for long
    wbufsize = -1  # status line, headers and body leave in one send (_send flushes)
    WRITE_SECONDS = 10.0  # for the answer, once the request is in: a client that does not read is dropped
    _write_seconds = WRITE_SECONDS

    def setup(self) -> None:
        super().setup()
        deadline = getattr(self.request, "deadline", None)  # set by UnixHTTPServer for the whole request
        if deadline is not None:
            self.rfile = io.BufferedReader(_DeadlineReader(self.connection, deadline))

    def handle_one_request(self) -> None:
        """BaseHTTPRequestHandler's, with a 408 for a request not in by the deadline and a client gone told apart."""
        try:
            self.raw_requestline = self.rfile.readline(_MAX_LINE + 1)
            if len(self.raw_requestline) > _MAX_LINE:
                self.requestline, self.request_version, self.command = "", "", ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(501, f"Unsupported method ({_clip(self.command)})")
                return
            method()
        except socket.timeout:
            self._timed_out()
        except (ConnectionError, OSError) as exc:
            self._gone(exc)
        self.close_connection = True

    def _timed_out(self) -> None:
        log.debug("%s: request not received in time", self.address_string())
        self.close_connection = True
        self._write_seconds = 1.0  # a client this slow may not read either
        self._send(408, {"error": "request not received in time"}, "GET")

    def _gone(self, exc: BaseException) -> None:
        """The client closed or reset the connection: one debug line, nothing more is written."""
        log.debug("%s: client went away: %s", self.address_string(), exc.__class__.__name__)
        self.close_connection = True
        self.wfile = io.BufferedWriter(_Discard())

    def finish(self) -> None:
        try:
            super().finish()
        except OSError as exc:
            self._gone(exc)

    def address_string(self) -> str:  # the peer of an AF_UNIX socket has no (host, port)
        addr = self.client_address
        return addr[0] if isinstance(addr, tuple) and addr else "unix"

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.address_string(), *(_clip(a) if isinstance(a, str) else a for a in args))

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
        except socket.timeout:
            self._timed_out()
            return
        except ConnectionError as exc:
            self._gone(exc)
            return
        except Exception:  # the server never dies on a request
            _error_log.exception("internal error on %s %s", method, _clip(self.path))
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
        limit = self.server.max_body  # each server sets its own limit
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
            log.debug('%s "%s" %d %d', self.address_string(), _clip(self.requestline), status, len(data))
        # Written in one piece (what send_response and send_header would write, minus their per-line
        # calls): every hook pays for this.
        head = (f"{self.protocol_version} {status} {self.responses.get(status, ('',))[0]}\r\n"
                f"Server: {self.server_version}\r\nDate: {_http_date()}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode("latin-1")
        try:
            if getattr(self.request, "deadline", None) is not None:  # the read's last slice is spent
                self.connection.settimeout(self._write_seconds)
            self.wfile.write(head if method == "HEAD" else head + data)
            self.wfile.flush()
        except OSError as exc:  # gone before reading the answer (or not reading it: the timeout)
            self._gone(exc)
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
_CLIP = 120  # characters of anything a client sent that may reach a log line


def _clip(text: str) -> str:
    """What a client sent, made safe for one log line: no control characters, at most _CLIP characters."""
    text = "".join(c if c.isprintable() else "?" for c in text[:_CLIP + 1])
    return text if len(text) <= _CLIP else text[:_CLIP] + "..."


class _RateLimitedLog:
    """Errors a client can cause, at most BURST every PERIOD seconds: no client can fill the log."""

    BURST = 10
    PERIOD = 60.0

    def __init__(self, logger: logging.Logger):
        self._log = logger
        self._lock = threading.Lock()
        self._window = 0.0
        self._count = 0
        self._dropped = 0

    def exception(self, fmt: str, *args: Any) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._window >= self.PERIOD:
                if self._dropped:
                    self._log.error("%d more request errors not logged in the last %.0f s", self._dropped, self.PERIOD)
                self._window, self._count, self._dropped = now, 0, 0
            self._count += 1
            if self._count > self.BURST:
                self._dropped += 1
                return
        self._log.exception(fmt, *args)


_error_log = _RateLimitedLog(log)


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
