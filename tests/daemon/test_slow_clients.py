"""The daemon under idle and slow clients: /healthz and hooks are answered within 2 s, and nothing a client
sends fills the log. Real daemons on tmp AF_UNIX sockets; every load is bounded in count and in time."""
import json
import logging
import os
import socket
import threading
import time

import pytest
from support import wait_for

from openusage import httpserver
from openusage.daemon import client, server

BUDGET = 2.0  # seconds for each answer under load (the dashboard's dial budget)
IDLE = 300
SLOW = 150
HOOK_BODY = json.dumps({"session_id": "s1", "hook_event_name": "PostToolUse", "tool_name": "Bash",
                        "tool_use_id": "toolu_load"}).encode()


def connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(BUDGET)
    sock.connect(path)
    return sock


def answer_times(path, rounds=5):
    """Seconds each /healthz and each hook took (the same hook: stored once, then dropped as a duplicate)."""
    health, hooks = [], []
    for _ in range(rounds):
        began = time.monotonic()
        assert client.call_json(path, "GET", "/healthz", timeout=BUDGET)["status"] == "ok"
        health.append(time.monotonic() - began)
        began = time.monotonic()
        assert client.post_fast(path, "/v1/hook/claude-code", HOOK_BODY, {}, BUDGET) == 200
        hooks.append(time.monotonic() - began)
    return health, hooks


def closed_by_server(sock, timeout):
    """The status the server answered before closing (None when it closed without a word)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return int(data.split()[1]) if data else None


def log_text(d):
    with open(os.path.join(d.state_dir, "daemon.log"), encoding="utf-8") as fh:
        return fh.read()


def test_300_idle_connections_neither_stall_the_daemon_nor_stay_open(daemon_factory):
    d = daemon_factory().start()
    idle = [connect(d.socket_path) for _ in range(IDLE)]
    opened = time.monotonic()
    try:
        health, hooks = answer_times(d.socket_path)
        assert max(health) < BUDGET and max(hooks) < BUDGET, (health, hooks)
        limit = server.UnixHTTPServer.REQUEST_SECONDS + 3
        assert all(closed_by_server(s, limit) is None for s in idle)  # closed, without an answer
        assert time.monotonic() - opened < limit + 1
    finally:
        for s in idle:
            s.close()
    assert "ERROR" not in log_text(d)


def test_150_slowloris_clients_get_408_and_never_stall_the_daemon(daemon_factory):
    d = daemon_factory().start()
    request = b"POST /v1/hook/claude-code HTTP/1.1\r\nHost: openusage\r\nContent-Length: 5\r\n\r\n{}   "
    slow = [connect(d.socket_path) for _ in range(SLOW)]
    stop = threading.Event()

    def trickle():  # one byte a second on every connection, for as long as the server keeps it
        sent = 0
        while not stop.is_set() and sent < len(request):
            for s in slow:
                try:
                    s.send(request[sent:sent + 1])
                except OSError:
                    pass
            sent += 1
            stop.wait(1.0)

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    try:
        time.sleep(1.5)  # every connection has sent its first bytes: each holds a worker now
        health, hooks = answer_times(d.socket_path)
        assert max(health) < BUDGET and max(hooks) < BUDGET, (health, hooks)
        limit = server.UnixHTTPServer.REQUEST_SECONDS + 3
        answers = [closed_by_server(s, limit) for s in slow]
        assert answers == [408] * SLOW
    finally:
        stop.set()
        sender.join(5)
        for s in slow:
            s.close()
    assert "ERROR" not in log_text(d)


def test_a_body_shorter_than_its_length_is_408_or_400_never_500(daemon_factory):
    d = daemon_factory().start()
    head = b"POST /v1/hook/claude-code HTTP/1.1\r\nHost: openusage\r\nContent-Length: 100\r\n\r\n"
    kept_open = connect(d.socket_path)
    kept_open.sendall(head + b'{"session_id": "s"')
    began = time.monotonic()
    assert closed_by_server(kept_open, 15) == 408
    assert time.monotonic() - began < server.UnixHTTPServer.REQUEST_SECONDS + 2  # not the 15 s of before
    kept_open.close()
    half_closed = connect(d.socket_path)
    half_closed.sendall(head + b'{"session_id": "s"')
    half_closed.shutdown(socket.SHUT_WR)
    assert closed_by_server(half_closed, 5) == 400
    half_closed.close()
    text = log_text(d)
    assert "Traceback" not in text and "ERROR" not in text
    assert client.call_json(d.socket_path, "GET", "/healthz")["events_stored"] == 0


def test_a_client_gone_before_the_answer_is_one_debug_line(daemon_factory, monkeypatch):
    monkeypatch.setenv("OPENUSAGE_DEBUG", "1")
    d = daemon_factory().start()
    gone = 5
    for n in range(gone):
        body = json.dumps({"session_id": "s", "hook_event_name": "Stop", "n": n}).encode()
        s = connect(d.socket_path)
        s.sendall(b"POST /v1/read-model HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        s.close()  # before the answer
    assert wait_for(lambda: "client went away" in log_text(d), 10)
    time.sleep(0.5)
    text = log_text(d)
    assert "Traceback" not in text and " ERROR " not in text
    assert 1 <= text.count("client went away") <= gone


def test_nothing_a_client_sends_fills_the_log(daemon_factory):
    d = daemon_factory().start()
    before = len(log_text(d).splitlines())
    junk = [b"\x1b[2J\x1b[31mFAKE ERROR line\r\n\r\n", b"GET /" + b"A" * 70000 + b" HTTP/1.1\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n", b"POST /v1/hook/x HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST /v1/hook/x HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", b"\x00\xff" * 100 + b"\r\n\r\n",
            b"BREW /\x1b]0;pwned\x07 HTTP/1.1\r\n\r\n",
            b"POST /v1/hook/claude-code HTTP/1.1\r\nContent-Length: 3\r\n\r\n{{{"]
    for n in range(300):
        s = connect(d.socket_path)
        try:
            s.sendall(junk[n % len(junk)])
            if n % 3 == 0:
                s.close()  # gone before the answer
                continue
            closed_by_server(s, 5)
        except OSError:
            pass
        finally:
            s.close()
    assert client.call_json(d.socket_path, "GET", "/healthz")["status"] == "ok"
    time.sleep(0.3)
    added = log_text(d).splitlines()[before:]
    assert len(added) <= 2, added[:5]  # at the default level a client's bytes log nothing
    assert not any("\x1b" in line for line in added)


def test_a_full_backlog_is_answered_503_at_once(short_dir):
    release = threading.Event()
    routes = server.Routes()
    routes.add("GET", "/slow", lambda r: (200, {"ok": release.wait(30)}))

    class Small(server.UnixHTTPServer):
        MAX_WORKERS = 2
        MAX_BACKLOG = 2

    path = os.path.join(short_dir, "small.sock")
    srv = Small(path, routes)
    loop = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    loop.start()
    results = []
    callers = [threading.Thread(target=lambda: results.append(client.request(path, "GET", "/slow", timeout=30)[0]))
               for _ in range(4)]  # two run, two wait for a worker
    try:
        for t in callers:
            t.start()
        assert wait_for(lambda: srv._backlog == 2, 5)
        began = time.monotonic()
        status, body = client.request(path, "GET", "/slow", timeout=5)
        assert status == 503 and json.loads(body) == {"error": "daemon is busy"}
        assert time.monotonic() - began < 1.0 and srv.refused == 1
    finally:
        release.set()
        for t in callers:
            t.join(10)
        srv.shutdown()
        srv.server_close()
        srv.remove_socket_file()
    assert results == [200] * 4


def test_log_lines_from_requests_are_clipped_and_rate_limited(caplog):
    clipped = httpserver._clip("\x1b[2J" + "x" * 500)
    assert "\x1b" not in clipped and len(clipped) <= httpserver._CLIP + 3
    limited = httpserver._RateLimitedLog(logging.getLogger("openusage.test.ratelimit"))
    with caplog.at_level(logging.ERROR, logger="openusage.test.ratelimit"):
        for _ in range(1000):
            try:
                raise ValueError("boom")
            except ValueError:
                limited.exception("request failed")
    assert len(caplog.records) == httpserver._RateLimitedLog.BURST


@pytest.mark.parametrize("chunks", [[b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n\r\n"]])
def test_a_request_in_several_pieces_within_the_deadline_is_served(daemon_factory, chunks):
    d = daemon_factory().start()
    s = connect(d.socket_path)
    for chunk in chunks:
        s.sendall(chunk)
        time.sleep(0.3)
    assert closed_by_server(s, 5) == 200
    s.close()
