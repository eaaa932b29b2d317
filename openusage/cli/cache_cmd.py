"""openusage cache clear [--history]"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional

from openusage import paths
from openusage.console import EXIT_USAGE, CliError
from openusage.daemon import client
from openusage.store import lock as store_lock


def register(sub, parents) -> None:
    p = sub.add_parser("cache", parents=parents, help="clear cached provider state",
                       description="Clear cached provider state (log offsets, last snapshots) so everything "
                       "is read again; --history also deletes all stored usage history.")
    p.add_argument("action", choices=("clear",))
    p.add_argument("--history", action="store_true", help="also delete stored events and rollups")
    p.add_argument("--yes", action="store_true", help="do not ask before deleting history")
    p.add_argument("--db-path", metavar="PATH", help="database file when no daemon runs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.history and not args.yes:
        if not sys.stdin.isatty():
            raise CliError("--history deletes all stored usage history; add --yes to confirm", EXIT_USAGE)
        answer = input("Delete all stored usage history? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 0
    socket_path = paths.socket_path(args.socket_path)
    what = "cache and history" if args.history else "cache"
    db_file = paths.db_path(args.db_path)
    # Through the daemon on the socket when it owns the store meant (any store, without --db-path).
    served = _daemon_store(socket_path)
    if served is not None and (args.db_path is None or os.path.realpath(served) == os.path.realpath(db_file)):
        _clear_through(socket_path, args.history)
        print(f"cleared {what} (through the running daemon)")
        return 0
    if not os.path.exists(db_file):
        print(f"nothing to clear: no database at {db_file}")
        return 0
    holder = store_lock.holder(db_file)
    if holder is not None:  # never under a live daemon's feet: through it, or not at all
        other = holder.get("socket")
        if holder.get("role") != "daemon" or not other or _daemon_store(other) is None:
            raise CliError(f"{store_lock.describe(db_file, holder)}, which does not answer; "
                           "try again in a moment")
        _clear_through(other, args.history)
        print(f"cleared {what} (through the daemon on {other}, which owns {db_file})")
        return 0
    from openusage.store import db, retention

    held = store_lock.StoreLock(db_file)
    held.acquire("command")  # StoreBusy when a daemon took the store meanwhile
    try:
        conn = db.open_store(db_file)
        try:
            conn.execute("BEGIN IMMEDIATE")
            retention.clear_cache(conn)
            if args.history:
                retention.clear_history(conn)
            conn.execute("COMMIT")
        finally:
            conn.close()
    finally:
        held.release()
    print(f"cleared {what} in {db_file}")
    return 0


def _daemon_store(socket_path: str) -> Optional[str]:
    """The database of the daemon answering on socket_path, or None when none answers."""
    try:
        status, body = client.request(socket_path, "GET", "/healthz", timeout=5.0)
    except client.DaemonUnreachable:
        return None
    try:
        path = json.loads(body.decode("utf-8")).get("db_path")
    except (ValueError, AttributeError):
        return None
    return path if isinstance(path, str) else None


def _clear_through(socket_path: str, history: bool) -> None:
    try:
        client.call_json(socket_path, "POST", "/v1/cache/clear", {"history": history}, timeout=70.0)
    except (client.DaemonUnreachable, RuntimeError) as exc:
        raise CliError(f"cache clear through the daemon on {socket_path} failed: {exc}") from exc
