"""A real HTTP server on 127.0.0.1 for provider tests: routes -> recorded-shape answers, requests recorded.

    with FakeServer() as srv:
        srv.route("GET", "/v1/models", body={"data": []}, headers={"x-ratelimit-limit-requests": "60"})
        srv.route("POST", "/v1/chat", status=429, headers={"retry-after": "20"}, body={"error": "slow down"})
        srv.route("GET", "/slow", delay=5)            # longer than the client's timeout
        srv.route("GET", "/bad", raw=b"{not json")    # malformed body
        ... provider.fetch(AccountConfig(..., base_url=srv.url), ctx) ...
        assert srv.requests[0].headers["authorization"] == "Bearer sk-test"

A route's path matches without the query string; the query is recorded apart. Unrouted paths get 404.
A delayed answer waits on an event that is set when the server stops, so no thread outlives a test.
The `server` fixture (tests/providers/conftest.py) yields a started FakeServer.

An API provider's failure tests aim at one request through an Endpoint:

    PROBE = Endpoint("POST", "/v1/chat/completions", fetch)      # fetch(srv, **options) -> snapshot
    assert PROBE.error(server, 429, body, {"retry-after": "5"}).status == "LIMIT"
    PROBE.check_timeout_and_malformed(server, b"<html>", "probe answer is not valid JSON")
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

import pytest

from openusage.core.snapshot import UsageSnapshot
from openusage.providers.base import ProviderError, make_context

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "providers")
NOW = 1795348800.0  # 2026-11-22T12:00:00Z: the fixtures' buckets fall in this month


def run_fetch(provider: Any, account: Any, environ: Optional[Dict[str, str]] = None,
              state: Optional[Dict[str, Any]] = None, now: float = NOW) -> Any:
    """provider.fetch with a real context whose environment is only `environ`; returns the snapshot."""
    ctx = make_context(provider, account, state if state is not None else {}, environ=environ or {}, now=now)
    snap = provider.fetch(account, ctx).snapshot
    # Every snapshot must survive the trip through JSON unchanged (daemon store, hub, --json).
    assert UsageSnapshot.from_dict(json.loads(json.dumps(snap.to_dict()))) == snap
    assert (snap.provider_id, snap.account_id) == (provider.id, account.id)
    return snap


def fixture(provider_id: str, name: str) -> Any:
    """A recorded-shape payload from tests/fixtures/providers/<id>/<name>.json."""
    with open(os.path.join(FIXTURES, provider_id, name + ".json"), encoding="utf-8") as fh:
        return json.load(fh)


def fetch_error(fetch: Callable[..., Any], *args: Any, **kwargs: Any) -> ProviderError:
    """The ProviderError fetch(*args, **kwargs) must raise (the test fails when it raises none)."""
    with pytest.raises(ProviderError) as info:
        fetch(*args, **kwargs)
    return info.value


@dataclass
class Endpoint:
    """The one request an API provider's failure tests aim at, and the test module's fetch(srv, **options)."""
    method: str
    path: str
    fetch: Callable[..., Any]

    def error(self, srv: FakeServer, status: int = 200, body: Any = None, headers: Optional[Dict[str, str]] = None,
              delay: float = 0.0, **options: Any) -> ProviderError:
        """Route one answer (body: JSON, or bytes sent as they are) and return the error the fetch raises."""
        srv.route(self.method, self.path, status=status, body=body, headers=headers, delay=delay)
        return fetch_error(self.fetch, srv, **options)

    def check_timeout_and_malformed(self, srv: FakeServer, malformed: bytes, message: str,
                                    headers: Optional[Dict[str, str]] = None) -> None:
        """An answer slower than timeout_seconds is ERR `request timed out`; an unparsable 200 (with `headers`)
        is ERR with exactly `message`."""
        err = self.error(srv, delay=3, timeout_seconds=0.3)
        assert (err.status, err.message) == ("ERR", "request timed out")
        err = self.error(srv, body=malformed, headers=headers)
        assert (err.status, err.message) == ("ERR", message)


@dataclass
class Recorded:
    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def text(self) -> str:
        """Everything but the headers, for 'the key never appears here' checks."""
        return self.path + "?" + json.dumps(self.query) + self.body.decode("utf-8", "replace")


@dataclass
class Route:
    status: int = 200
    headers: Dict[str, str] = field(default_factory=dict)
    body: Any = None  # JSON-encoded unless bytes
    delay: float = 0.0
    handler: Optional[Callable[[Recorded], Tuple[int, Dict[str, str], Any]]] = None

    def answer(self, request: Recorded) -> Tuple[int, Dict[str, str], bytes]:
        status, headers, body = (self.handler(request) if self.handler
                                 else (self.status, self.headers, self.body))
        if isinstance(body, bytes):
            return status, headers, body
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        return status, dict({"Content-Type": "application/json"}, **headers), data


class FakeServer:
    def __init__(self) -> None:
        self.routes: Dict[Tuple[str, str], Route] = {}
        self.requests: List[Recorded] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # --- set-up -------------------------------------------------------------------------------

    def route(self, method: str, path: str, status: int = 200, body: Any = None,
              headers: Optional[Dict[str, str]] = None, delay: float = 0.0, raw: Optional[bytes] = None,
              handler: Optional[Callable[[Recorded], Tuple[int, Dict[str, str], Any]]] = None) -> None:
        self.routes[(method.upper(), path)] = Route(status=status, headers=dict(headers or {}),
                                                    body=raw if raw is not None else body, delay=delay,
                                                    handler=handler)

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- checks -------------------------------------------------------------------------------

    def paths(self) -> List[str]:
        return [r.path for r in self.requests]

    def assert_secret_only_in(self, secret: str, header: str, value: Optional[str] = None) -> None:
        """Every request carried the secret in `header` (exactly `value` when given) and nowhere else."""
        assert self.requests, "no request reached the server"
        for req in self.requests:
            got = req.headers.get(header.lower())
            assert got is not None and secret in got, f"{req.path}: {header} missing"
            if value is not None:
                assert got == value
            assert secret not in req.text(), f"{req.path}: secret in URL or body"
            for name, other in req.headers.items():
                if name != header.lower():
                    assert secret not in other, f"{req.path}: secret in header {name}"

    # --- the handler --------------------------------------------------------------------------

    def _handler_class(self) -> type:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet tests
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Recorded(method=self.command, path=parts.path, query=parse_qs(parts.query),
                                   headers={k.lower(): v for k, v in self.headers.items()}, body=body)
                with fake._lock:
                    fake.requests.append(request)
                route = fake.routes.get((self.command, parts.path))
                if route is None:
                    status, headers, data = 404, {"Content-Type": "application/json"}, b'{"error": "not found"}'
                else:
                    if route.delay and fake._stopping.wait(route.delay):
                        return
                    status, headers, data = route.answer(request)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler

