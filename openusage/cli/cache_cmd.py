"""openusage cache clear [--history]"""
from __future__ import annotations

import argparse
import os
import sys

from openusage import paths
from openusage.cli.common import EXIT_USAGE, CliError
from openusage.daemon import client


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
    try:
        client.call_json(socket_path, "POST", "/v1/cache/clear", {"history": args.history})
        print(f"cleared {what} (through the running daemon)")
        return 0
    except client.DaemonUnreachable:
        pass
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc
    db_file = paths.db_path(args.db_path)
    if not os.path.exists(db_file):
        print(f"nothing to clear: no database at {db_file}")
        return 0
    from openusage.store import db, retention

    conn = db.open_store(db_file)
    try:
        conn.execute("BEGIN IMMEDIATE")
        retention.clear_cache(conn)
        if args.history:
            retention.clear_history(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()
    print(f"cleared {what} in {db_file}")
    return 0
