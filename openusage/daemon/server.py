"""ThreadingHTTPServer on an AF_UNIX socket, dispatching JSON requests through a route table.

The three fixes a Unix-socket ThreadingHTTPServer needs: bind to a path (not host, port), an
address_string that does not index the peer address, and removing the socket file on close.
"""
from __future__ import annotations

import errno
import logging
import os
import queue
import selectors
import socket
import stat
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any, Dict

from openusage import paths
from openusage.daemon.spool import MAX_BODY  # one limit on every path into the store
from openusage.errors import OpenusageError, PathError
from openusage.httpserver import JsonRequestHandler, Routes, _error_log

log = logging.getLogger("openusage.daemon.server")


class AlreadyRunning(OpenusageError):
    code = 1


class _Connection(socket.socket):
    """An accepted connection and the time by which its whole request must have arrived."""

    __slots__ = ("deadline",)


_BUSY = (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 26\r\n"
         b"Connection: close\r\n\r\n{\"error\":\"daemon is busy\"}")


class UnixHTTPServer(ThreadingHTTPServer):
    """Requests run on reused worker threads; a connection gets one only once its first bytes are in.

    Starting a thread per request cost as much CPU as the hook itself; idle workers beyond the
    busiest recent moment exit after IDLE_SECONDS. The accept loop holds connections that have sent
    nothing yet in its selector, at no thread's cost, and closes them REQUEST_SECONDS after they
    were accepted; a connection's whole request (line, headers, body) must be in by then too, or it
    is answered 408, so a client trickling bytes holds a worker for REQUEST_SECONDS at most. Never
    more than MAX_WORKERS run at once; beyond them at most MAX_BACKLOG connections wait for one, and
    any more are answered 503 at once rather than left hanging.
    """

    address_family = socket.AF_UNIX
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    max_body = MAX_BODY
    MAX_WORKERS = 512
    MAX_BACKLOG = 512
    MAX_WAITING = 2048  # connections held before their first byte; the oldest goes beyond this
    REQUEST_SECONDS = 5.0
    IDLE_SECONDS = 60.0

    def __init__(self, path: str, routes: Routes):
        self.routes = routes
        self.draining = False
        self.socket_path = path
        self.refused = 0  # connections answered 503 because every worker was busy and the backlog full
        self._active = 0  # connections handed to workers and not yet finished
        self._idle = threading.Condition()
        self._workers = 0
        self._available = 0  # idle workers not yet promised a connection
        self._backlog = 0  # queued connections no worker was promised
        self._work: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._waiting: Dict[int, _Connection] = {}  # fd -> connection with nothing received yet (accept order)
        self._stop_serving = threading.Event()
        self._served = threading.Event()
        self._served.set()
        super().__init__(path, JsonRequestHandler)  # type: ignore[arg-type]

    # --- the accept loop ---------------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._served.clear()
        selector = selectors.DefaultSelector()
        self.socket.setblocking(False)
        selector.register(self.socket, selectors.EVENT_READ, None)
        try:
            while not self._stop_serving.is_set():
                timeout = poll_interval
                if self._waiting:
                    first = next(iter(self._waiting.values()))
                    timeout = max(0.0, min(timeout, first.deadline - time.monotonic()))
                for key, _ in selector.select(timeout):
                    if key.data is None:
                        self._accept(selector)
                    else:
                        selector.unregister(key.fileobj)
                        del self._waiting[key.fd]
                        self._hand_over(key.data)
                self._expire(selector)
        finally:
            for conn in list(self._waiting.values()):
                self._drop(selector, conn)
            selector.close()
            self._served.set()

    def shutdown(self) -> None:
        """Stop the accept loop and wait for it (BaseServer's, for this loop)."""
        self._stop_serving.set()
        self._served.wait()

    def _accept(self, selector: selectors.BaseSelector) -> None:
        for _ in range(64):  # a burst of connections is taken in one wake-up
            try:
                # socket.accept() looks the family and type up as enums for every connection; they are known.
                fd, _address = self.socket._accept()  # type: ignore[attr-defined]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and the like: the connection waits in the kernel's backlog
                log.warning("accept failed: %s", exc)
                return
            conn = _Connection(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=fd)
            conn.deadline = time.monotonic() + self.REQUEST_SECONDS
            try:
                first = conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                first = None
            except OSError:
                first = b""
            if first is None:  # nothing sent yet: wait in the selector, without a thread
                if len(self._waiting) >= self.MAX_WAITING:
                    self._drop(selector, next(iter(self._waiting.values())))
                self._waiting[fd] = conn
                selector.register(conn, selectors.EVENT_READ, conn)
            elif first:
                self._hand_over(conn)
            else:
                conn.close()  # closed before sending anything

    def _expire(self, selector: selectors.BaseSelector) -> None:
        now = time.monotonic()
        while self._waiting:
            conn = next(iter(self._waiting.values()))
            if conn.deadline > now:
                return
            self._drop(selector, conn)

    def _drop(self, selector: selectors.BaseSelector, conn: _Connection) -> None:
        self._waiting.pop(conn.fileno(), None)
        try:
            selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    # --- workers -----------------------------------------------------------------------------

    def _hand_over(self, conn: _Connection) -> None:
        with self._idle:
            spawn = False
            if self._available > 0:
                self._available -= 1
            elif self._workers < self.MAX_WORKERS:
                self._workers += 1
                spawn = True
            elif self._backlog < self.MAX_BACKLOG:
                self._backlog += 1
            else:
                self.refused += 1
                conn.setblocking(False)
                try:
                    conn.send(_BUSY)
                except OSError:
                    pass
                conn.close()
                return
            self._active += 1
        self._work.put((conn, "unix"))
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
        _error_log.exception("error while handling a request")


# sockaddr_un's sun_path, less its terminating NUL
MAX_SOCKET_PATH = 103 if sys.platform == "darwin" or "bsd" in sys.platform else 107
_SOCKET_HINT = "choose another --socket-path (or OPENUSAGE_TELEMETRY_SOCKET)"


def check_socket_path(path: str) -> None:
    """PathError unless a daemon can bind `path`: short enough, under a private directory, no other file there."""
    size = len(os.fsencode(path))
    if size > MAX_SOCKET_PATH:
        raise PathError(f"the socket path {path} is {size} bytes, over the {MAX_SOCKET_PATH}-byte limit of a "
                        f"Unix socket; {_SOCKET_HINT}")
    parent = os.path.dirname(path)
    if not os.path.lexists(parent):
        paths.ensure_private_dir(parent, hint=_SOCKET_HINT)
    try:
        info = os.stat(parent)
    except OSError as exc:
        raise PathError(f"the socket directory {parent} cannot be used: {exc.strerror or exc}; {_SOCKET_HINT}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise PathError(f"the socket path {path} goes through {parent}, which is not a directory; {_SOCKET_HINT}")
    if info.st_mode & 0o022:
        mode = stat.S_IMODE(info.st_mode)
        raise PathError(f"the socket directory {parent} (of {path}) is writable by others (mode {mode:04o}): "
                        f"anyone could replace the socket; run 'chmod go-w {parent}' or {_SOCKET_HINT}")
    try:
        here = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise PathError(f"the socket path {path} cannot be used: {exc.strerror or exc}; {_SOCKET_HINT}") from exc
    if stat.S_ISDIR(here.st_mode):
        raise PathError(f"the socket path {path} is a directory; remove it or {_SOCKET_HINT}")
    if not stat.S_ISSOCK(here.st_mode):
        raise PathError(f"the socket path {path} is a file, not a socket; remove it or {_SOCKET_HINT}")


def prepare_socket_path(path: str) -> None:
    """Private parent dir; a live daemon on the path is an error, a stale socket file is removed.

    Stale means nothing listens: connect() is refused. A daemon that accepts but is slow to answer
    (a long start, a loaded machine) is alive, and its socket is never taken over.
    """
    check_socket_path(path)
    if not os.path.lexists(path):
        return
    if _listening(path):
        raise AlreadyRunning(f"a daemon is already running on {path}; stop it with "
                             f"'openusage telemetry daemon stop --socket-path {path}'")
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def _listening(path: str) -> bool:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2.0)
    try:
        sock.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError:  # a full backlog (EAGAIN) or a timeout: someone is there
        return True
    finally:
        sock.close()
    return True
