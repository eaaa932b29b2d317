"""openusage telemetry hook SOURCE: deliver one agent hook payload to the daemon, or spool it.

Runs on every agent turn: stdlib only, no argparse, one socket round trip. Exit 0 whatever
happens (a hook must never break the agent) unless --strict is given.
"""
import sys
import time

from openusage import paths
from openusage.daemon import client, spool

MAX_PAYLOAD = 1024 * 1024
BUDGET_SECONDS = 15.0
RECEIVED_AT_HEADER = "X-Openusage-Received-At"

USAGE = """usage: openusage telemetry hook SOURCE [PAYLOAD] [--account-id ID] [--strict] [--socket-path PATH]

Deliver one hook payload (JSON on stdin, or PAYLOAD as the last argument, as Codex's notify passes
it) to the daemon; when the daemon is down, keep it in the spool for the daemon to ingest later.
Exit 0 unless --strict is given and delivery failed."""


def _parse(argv):
    opts = {"account_id": None, "strict": False, "socket_path": None}
    positional = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            print(USAGE)
            sys.exit(0)
        if arg == "--strict":
            opts["strict"] = True
        elif arg.startswith("--account-id=") or arg.startswith("--socket-path="):
            key, _, value = arg[2:].partition("=")
            opts[key.replace("-", "_")] = value
        elif arg in ("--account-id", "--socket-path"):
            if i + 1 >= len(argv):
                raise ValueError(f"{arg} needs a value")
            opts[arg[2:].replace("-", "_")] = argv[i + 1]
            i += 1
        elif arg.startswith("--"):
            raise ValueError(f"unknown option {arg}")
        else:
            positional.append(arg)
        i += 1
    if not positional or len(positional) > 2:
        raise ValueError("expected SOURCE and at most one PAYLOAD argument")
    return positional[0], (positional[1] if len(positional) == 2 else None), opts


def _read_payload(payload_arg):
    if payload_arg is not None:
        return payload_arg.encode("utf-8", errors="surrogateescape")
    if sys.stdin is None or sys.stdin.closed:
        return b""
    try:
        return sys.stdin.buffer.read(MAX_PAYLOAD + 1)
    except OSError:
        return b""


def _fail(message: str, strict: bool) -> int:
    sys.stderr.write(f"openusage hook: {message}\n")
    return 1 if strict else 0


def main(argv) -> int:
    received_at = time.time()
    try:
        source, payload_arg, opts = _parse(argv)
    except ValueError as exc:
        sys.stderr.write(f"openusage hook: {exc}\n{USAGE}\n")
        return 2
    body = _read_payload(payload_arg)
    if len(body) > MAX_PAYLOAD:
        return _fail("payload over 1 MiB; not delivered", opts["strict"])
    if not body.strip():
        return _fail("empty payload; nothing to deliver", opts["strict"])
    path = f"/v1/hook/{source}"
    if opts["account_id"]:
        from urllib.parse import quote

        path += "?account_id=" + quote(opts["account_id"], safe="")
    sock = paths.socket_path(opts["socket_path"])
    try:
        status = client.post_fast(sock, path, body, {RECEIVED_AT_HEADER: repr(received_at)}, BUDGET_SECONDS)
    except client.DaemonUnreachable:
        status = None
    if status == 200:
        return 0
    if status is not None and 400 <= status < 500:
        return _fail(f"daemon refused the payload (HTTP {status}); not kept", opts["strict"])
    try:
        spool.write(paths.spool_dir(), source, opts["account_id"], body, received_at)
    except (OSError, spool.SpoolFull) as exc:
        return _fail(f"daemon unreachable and spooling failed: {exc}", opts["strict"])
    if opts["strict"]:
        sys.stderr.write(f"openusage hook: daemon unreachable at {sock}; event spooled\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
