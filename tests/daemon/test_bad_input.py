"""Bad input against a real daemon: over a thousand generated malformed requests, and the daemon is fine after.

Each request goes over its own connection as raw bytes. Every one gets a 4xx with a status line and
a JSON error, except where HTTP says otherwise and the server does what HTTP says: an unknown method
token gets 501 Not Implemented, an HTTP/2 request line 505 HTTP Version Not Supported, and a
connection that sends no request line at all (nothing, or an empty line) is closed without an
answer. Afterwards /healthz answers 200, a good hook is stored exactly once, nothing was stored by
the bad requests, no request raised inside the daemon, and the database passes integrity_check.
"""
import json
import os
import random
import socket
import sqlite3
import string
import threading

from support import wait_for

from openusage.daemon import client

SEED = 20240611
HOOK = "/v1/hook/claude-code"
GOOD = {"session_id": "s1", "transcript_path": "/x/s1.jsonl", "cwd": "/home/u/proj", "hook_event_name": "PostToolUse",
        "tool_name": "Bash", "tool_use_id": "toolu_good_1", "tool_input": {"command": "ls"}, "tool_response": {}}
CLOSED = "closed"  # no answer: the connection was closed


def request(method, path, body=b"", headers=None, length=None, version="HTTP/1.1"):
    """Raw request bytes; length=None sends the body's true Content-Length, False sends none."""
    lines = [f"{method} {path} {version}", "Host: openusage"]
    if length is not False:
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def exchange(path, raw, close_write=True):
    """Send raw bytes, half-close, read until the server closes; the status (or CLOSED) and the body."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(path)
    sender = None
    try:
        if len(raw) > 256 * 1024:  # the server may answer before it reads it all: send from a thread
            def send():
                try:
                    sock.sendall(raw)
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

            sender = threading.Thread(target=send)
            sender.start()
        else:
            try:
                sock.sendall(raw)
                if close_write:
                    sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        if sender is not None:
            sock.shutdown(socket.SHUT_RDWR)
            sender.join(30)
        sock.close()
    if not data:
        return CLOSED, b""
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b"\r\n", 1)[0].split()[1]), body


def invalid_json(text):
    """True when the daemon must refuse this hook body: not a JSON object or an array of 1..1000 objects."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return True
    items = data if isinstance(data, list) else [data]
    return not items or len(items) > 1000 or not all(isinstance(i, dict) for i in items)


def generated_cases(rnd):
    """(label, raw request bytes, expected status or set of statuses or CLOSED)."""
    good = json.dumps(GOOD).encode()
    cases = []

    # malformed JSON: a good payload with junk put in, flipped or cut, kept only when it is invalid
    junk = ["{", "}", "[", "]", ",", ":", '"', "\\", "nul", "tru", "1e", "-", "\x00", "'", "NaN]", "{}{}"]
    while len([c for c in cases if c[0] == "malformed json"]) < 200:
        text = good.decode()
        at = rnd.randrange(len(text))
        text = text[:at] + rnd.choice(junk) + text[at + rnd.randrange(0, 3):]
        if invalid_json(text):
            cases.append(("malformed json", request("POST", HOOK, text.encode()), 400))
    for shape in ("null", "1", '"x"', "[]", "[1, 2]", "[{}, 3]", "true", " ", "", "[" + ",".join(["{}"] * 1001) + "]"):
        cases.append(("json of the wrong shape", request("POST", HOOK, shape.encode()), 400))
    for depth in (1000, 10_000, 100_000, 300_000):  # nesting past the parser's recursion limit
        cases.append(("deeply nested json", request("POST", HOOK, b"[" * depth + b"]" * depth), 400))
        cases.append(("deeply nested read-model body", request("POST", "/v1/read-model",
                                                               b'{"w":' + b"[" * depth + b"]" * depth + b"}"), 400))

    # truncated: proper prefixes of a good body (Content-Length matching the prefix)
    for _ in range(150):
        cut = rnd.randrange(len(good))
        cases.append(("truncated json", request("POST", HOOK, good[:cut]), 400))

    # truncated requests: proper prefixes of a whole good request, then the client closes
    whole = request("POST", HOOK, good)
    for _ in range(150):
        cut = rnd.randrange(1, len(whole))
        cases.append(("truncated request", whole[:cut], range(400, 500)))
    cases.append(("no bytes at all", b"", CLOSED))
    cases.append(("empty request line", b"\r\n", CLOSED))

    # oversized: over the 1 MiB body limit, sent whole, or only announced
    for i in range(15):
        size = 1024 * 1024 + 1 + rnd.randrange(512 * 1024)
        body = (b'{"x": "' + b"a" * size + b'"}') if i % 3 else os.urandom(size)
        cases.append(("oversized body", request("POST", HOOK, body), 413))
    for size in (1024 * 1024 + 1, 10 ** 9, 10 ** 18):
        cases.append(("oversized Content-Length", request("POST", HOOK, b"{}", length=size), 413))

    # non-UTF-8 bodies
    for _ in range(100):
        raw = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200)))
        body = raw + b"\xff" + good[: rnd.randrange(len(good))]
        cases.append(("non-utf-8 body", request("POST", HOOK, body), 400))
    cases.append(("non-utf-8 read-model body", request("POST", "/v1/read-model", b'{"window": "\xff"}'), 400))

    # wrong methods on known paths
    for _ in range(60):
        method = rnd.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
        path = rnd.choice([HOOK, "/v1/hook/codex", "/v1/read-model", "/v1/refresh", "/v1/cache/clear"])
        cases.append(("wrong method", request(method, path, good if method != "HEAD" else b""), 405))
    for path in ("/healthz", "/health", "/v1/providers", "/v1/usage", "/v1/usage/claude_code", "/metrics"):
        cases.append(("wrong method", request("POST", path, b"{}"), 405))
    for method in ("FOO", "BREW", "TRACE", "CONNECT", "PROPFIND", "get", "P0ST"):
        cases.append(("unknown method", request(method, HOOK, good), 501))

    # unknown paths
    for _ in range(80):
        name = "".join(rnd.choice(string.ascii_letters + string.digits + "-_.~%") for _ in range(rnd.randrange(1, 30)))
        path = rnd.choice(["/", "/v1/", "/v2/hook/claude-code", "/v1/hooks/x", "/v1/hook", "/v1/hook/",
                           f"/{name}", f"/v1/{name}", f"/v1/hook/claude-code/{name}", f"/v1/usage/a/{name}"])
        cases.append(("unknown path", request(rnd.choice(["GET", "POST"]), path, good), 404))

    # bad source names (the path matches the hook route, the name is not a valid source)
    for _ in range(80):
        name = rnd.choice([
            "".join(rnd.choice(string.ascii_uppercase) for _ in range(rnd.randrange(1, 10))),
            "-" + "".join(rnd.choice(string.ascii_lowercase) for _ in range(5)),
            "a" * rnd.randrange(65, 200),
            "claude%20code", "claude%2Fcode", "%00", "..", ".hidden", "_x", "a:b", "a%3Fb", "caf%C3%A9",
            "x" + "".join(rnd.choice("!$&'()*+,;=@") for _ in range(3)),
        ])
        cases.append(("bad source name", request("POST", f"/v1/hook/{name}", good), 400))

    # chunked bodies: refused, a Content-Length is required
    for _ in range(40):
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(good), good)
        headers = {"Transfer-Encoding": rnd.choice(["chunked", "Chunked", "CHUNKED"])}
        cases.append(("chunked", request("POST", HOOK, chunked, headers=headers, length=False), 411))

    # wrong Content-Length
    for _ in range(100):
        kind = rnd.randrange(5)
        if kind == 0:
            cases.append(("non-numeric Content-Length", request("POST", HOOK, good, length=rnd.choice(
                ["abc", "1.5", "0x10", "", "1 2", "+-3", "\u00b2"])), 400))
        elif kind == 1:
            cases.append(("negative Content-Length", request("POST", HOOK, good, length=-rnd.randrange(1, 10 ** 6)),
                          400))
        elif kind == 2:  # announces more than is sent
            cases.append(("short body", request("POST", HOOK, good, length=len(good) + rnd.randrange(1, 5000)), 400))
        elif kind == 3:  # announces less than is sent: the daemon reads a proper prefix
            cases.append(("long body", request("POST", HOOK, good, length=rnd.randrange(1, len(good))), 400))
        else:  # none at all: an empty body
            cases.append(("no Content-Length", request("POST", HOOK, good, length=False), 400))

    # garbage request lines
    for _ in range(120):
        kind = rnd.randrange(4)
        if kind == 0:  # binary junk without spaces
            line = bytes(rnd.choice(range(33, 256)) for _ in range(rnd.randrange(1, 100)))
        elif kind == 1:  # too many words
            line = " ".join(["POST", HOOK, "HTTP/1.1"] + ["x"] * rnd.randrange(1, 5)).encode()
        elif kind == 2:  # a version that is no HTTP version
            version = rnd.choice(["HTTP/", "HTTP/x.y", "HTTP/1", "HTTP/1.1.1", "FTP/1.0", "http"])
            line = f"POST {HOOK} {version}".encode()
        else:  # two words: HTTP/0.9, not served
            line = f"{rnd.choice(['GET', 'POST', 'PUT', 'JUNK'])} {HOOK}".encode()
        cases.append(("garbage request line", line + b"\r\n\r\n" + good, 400))
    cases.append(("HTTP/0.9 request", b"GET /healthz\r\n", 400))  # answered with a status line, as HTTP/1.0
    cases.append(("HTTP/2 request line", request("POST", HOOK, good, version="HTTP/2.0"), 505))
    cases.append(("request line over 64 KiB", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414))
    cases.append(("header line over 64 KiB", b"POST " + HOOK.encode() + b" HTTP/1.1\r\nX-Big: " + b"a" * 70_000
                  + b"\r\n\r\n", 431))
    many = "".join(f"X-H{i}: v\r\n" for i in range(150)).encode()
    cases.append(("too many headers", b"POST " + HOOK.encode() + b" HTTP/1.1\r\n" + many + b"\r\n", 431))

    # bad values in good-looking requests
    for value in ("soon", "1e", "", "nan-ish", "12:30"):
        cases.append(("bad Received-At header", request("POST", HOOK, good, headers={
            "X-Openusage-Received-At": value}) if value else request("POST", HOOK, b"  "), 400))
    for body in (b'{"window": "2w"}', b'{"window": 7}', b"[1]", b'"7d"', b"{", b'{"window": null, '):
        cases.append(("bad read-model body", request("POST", "/v1/read-model", body), 400))
    for body in (b'{"history": "yes"}', b"[]", b"{oops"):
        cases.append(("bad cache-clear body", request("POST", "/v1/cache/clear", body), 400))
    cases.append(("bad refresh body", request("POST", "/v1/refresh", b'{"provider": 3}'), 400))
    cases.append(("unknown refresh target", request("POST", "/v1/refresh", b'{"provider": "nope"}'), 404))
    cases.append(("unknown usage provider", request("GET", "/v1/usage/nope"), 404))
    cases.append(("bad window query", request("GET", "/v1/usage?window=1y"), 400))
    return cases


def matches(expected, status):
    if isinstance(expected, range):
        return status in expected
    return status == expected


def test_a_thousand_bad_requests_leave_the_daemon_healthy(daemon_factory):
    d = daemon_factory().start()
    cases = generated_cases(random.Random(SEED))
    assert len(cases) >= 1000
    wrong = []
    for label, raw, expected in cases:
        status, body = exchange(d.socket_path, raw)
        if not matches(expected, status):
            wrong.append((label, raw[:120], expected, status, body[:200]))
        elif status != CLOSED and raw[:4] != b"HEAD":
            assert "error" in json.loads(body.decode("utf-8")), (label, body)  # errors are JSON
    assert wrong == []

    health = client.call_json(d.socket_path, "GET", "/healthz")
    assert health["status"] == "ok"
    assert health["events_stored"] == 0 and health["duplicates_dropped"] == 0
    good = json.dumps(GOOD).encode()
    assert exchange(d.socket_path, request("POST", HOOK, good))[0] == 200
    assert exchange(d.socket_path, request("POST", HOOK, good))[0] == 200
    health = client.call_json(d.socket_path, "GET", "/healthz")
    assert health["events_stored"] == 1 and health["duplicates_dropped"] == 1

    assert d.stop() == 0
    log = os.path.join(d.state_dir, "daemon.log")
    text = open(log, encoding="utf-8").read() if os.path.exists(log) else ""
    assert "Traceback" not in text and "internal error" not in text
    conn = sqlite3.connect(os.path.join(d.state_dir, "telemetry.db"))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT tool_call_id FROM event_detail").fetchall() == [("toolu_good_1",)]
    finally:
        conn.close()


def test_values_the_store_cannot_take_never_stop_the_writer(daemon_factory):
    """Times past what the store can bucket are refused; absurd counts count as absent; the writer lives."""
    d = daemon_factory().start()
    times = [1e300, -5e12, 1e20, "9999-12-31T23:59:59Z", 10 ** 400]
    for i, at in enumerate(times):
        body = json.dumps({"event_type": "message_usage", "occurred_at": at, "message_id": f"t{i}",
                           "input_tokens": 5}).encode()
        assert exchange(d.socket_path, request("POST", "/v1/hook/script", body))[0] == 400, at
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'{"event_type": "message_usage", "message_id": "x", "occurred_at": ' + literal + b"}"
        assert exchange(d.socket_path, request("POST", "/v1/hook/script", body))[0] == 400, literal
    for value in ("inf", "nan", "1e300", "-1", "0"):
        raw = request("POST", HOOK, json.dumps(GOOD).encode(), headers={"X-Openusage-Received-At": value})
        assert exchange(d.socket_path, raw)[0] == 400, value
    counts = {"input_tokens": 1e300, "output_tokens": 10 ** 30, "requests": 2 ** 64}
    body = json.dumps({"event_type": "message_usage", "message_id": "big", "model": "m", "cost_usd": 1e308,
                       **counts}).encode()
    assert exchange(d.socket_path, request("POST", "/v1/hook/script", body))[0] == 200
    # a spooled record with an impossible receipt time goes to bad/, it never blocks the spool
    spool_dir = os.path.join(d.state_dir, "telemetry-spool")
    os.makedirs(spool_dir, exist_ok=True)
    with open(os.path.join(spool_dir, "00000000000000000001-1-bad.json"), "w") as fh:
        json.dump({"v": 1, "source": "claude-code", "account_id": None, "received_at": 1e300,
                   "body": json.dumps(GOOD)}, fh)
    d.stop()
    d.start()  # drains the spool at start, in the background
    assert wait_for(lambda: client.call_json(d.socket_path, "GET", "/healthz")["spool"]["bad"] == 1)
    health = client.call_json(d.socket_path, "GET", "/healthz")
    assert health["status"] == "ok" and health["events_stored"] == 1
    assert health["spool"]["pending"] == 0 and health["spool"]["bad"] == 1
    assert exchange(d.socket_path, request("POST", HOOK, json.dumps(GOOD).encode()))[0] == 200
    snap = client.call_json(d.socket_path, "POST", "/v1/read-model", {"window": "all"})["snapshots"]["script"]
    assert snap["tokens"]["input"] == 0 and snap["spend"]["total"] == 0
