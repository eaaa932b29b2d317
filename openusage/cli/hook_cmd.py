"""openusage telemetry hook SOURCE: deliver one agent hook payload to the daemon, or spool it.

Runs on every agent turn: no argparse, one socket round trip, and at the top only modules that cost
nothing to import (the spool's json and urllib come in when needed; `python -S -E -X importtime`
shows what a change adds). Exit 0 whatever happens (a hook must never break the agent) unless
--strict is given.
"""
import sys
import time

from openusage import paths
from openusage.daemon import client

MAX_PAYLOAD = 1024 * 1024
BUDGET_SECONDS = 15.0

USAGE = """usage: openusage telemetry hook SOURCE [PAYLOAD] [--account-id ID] [--strict] [--socket-path PATH]
                              [--received-at EPOCH] [--spool]

Deliver one hook payload (JSON on stdin, or PAYLOAD as the last argument, as Codex's notify passes
it) to the daemon; when the daemon is down, keep it in the spool for the daemon to ingest later.
--received-at stamps the payload with an earlier receipt time (epoch seconds) and --spool skips
the delivery attempt: the installed hook script uses them when its own delivery failed.
Exit 0 unless --strict is given and delivery failed."""

_VALUE_OPTIONS = ("--account-id", "--socket-path", "--received-at")


def _parse(argv):
    opts = {"account_id": None, "strict": False, "socket_path": None, "received_at": None, "spool": False}
    positional = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            print(USAGE)
            sys.exit(0)
        if arg in ("--strict", "--spool"):
            opts[arg[2:]] = True
        elif arg.startswith(tuple(o + "=" for o in _VALUE_OPTIONS)):
            key, _, value = arg[2:].partition("=")
            opts[key.replace("-", "_")] = value
        elif arg in _VALUE_OPTIONS:
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
    if opts["received_at"] is not None:
        try:
            opts["received_at"] = float(opts["received_at"])
        except ValueError:
            raise ValueError("--received-at needs epoch seconds") from None
        if not opts["received_at"] > 0:
            raise ValueError("--received-at needs epoch seconds")
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
    received_at = opts["received_at"] or received_at
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
    status = None
    if not opts["spool"]:
        try:
            status = client.post_fast(sock, path, body, {client.RECEIVED_AT_HEADER: repr(received_at)}, BUDGET_SECONDS)
        except client.DaemonUnreachable:
            pass
    if status == 200:
        return 0
    if status is not None and 400 <= status < 500:
        return _fail(f"daemon refused the payload (HTTP {status}); not kept", opts["strict"])
    from openusage.daemon import spool

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
