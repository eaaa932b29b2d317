"""openusage alerts list | test [RULE]

Both ask the running daemon (GET /v1/alerts, POST /v1/alerts/test); with no daemon, `list` reads the
rules from settings.json and their state from the store, and `test` sends the sample from this process.
"""
from __future__ import annotations

import argparse
import os
import time
from typing import Any, Dict, List, Optional

from openusage import config, paths
from openusage.console import EXIT_RUNTIME, EXIT_UNREACHABLE, EXIT_USAGE, CliError, print_json, render_table
from openusage.core.printable import printable
from openusage.core.timeutil import to_epoch
from openusage.daemon import client

TEST_TIMEOUT = 300.0


def register(sub, parents) -> None:
    p = sub.add_parser("alerts", parents=parents, help="list alert rules or send a test alert",
                       description="list: the alert rules of settings.json, their state and when they last "
                       "fired; test [RULE]: send a sample alert through every configured channel and say "
                       "what each did.")
    p.add_argument("action", choices=("list", "test"))
    p.add_argument("rule", nargs="?", help="the rule id to test (default: the first rule)")
    p.add_argument("--db-path", metavar="PATH", help="database file when no daemon runs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "list" and args.rule:
        raise CliError("alerts list takes no rule", EXIT_USAGE)
    socket_path = paths.socket_path(args.socket_path)
    if client.is_alive(socket_path):
        view = _through_daemon(socket_path, args)
    else:
        view = _local_list(args) if args.action == "list" else _local_test(args)
    if args.json:
        print_json(view)
    elif args.action == "list":
        print(format_list(view))
    else:
        print(format_test(view))
    if args.action == "test" and not all(o["ok"] for o in view["delivered"]):
        return 1
    return 0


def _through_daemon(socket_path: str, args: argparse.Namespace) -> Dict[str, Any]:
    # A test waits for every channel (a command may take its whole timeout); a daemon that stops
    # answering midway is an error, never a reason to send the sample a second time from here.
    try:
        if args.action == "list":
            return client.call_json(socket_path, "GET", "/v1/alerts")
        return client.call_json(socket_path, "POST", "/v1/alerts/test", {"rule": args.rule} if args.rule else {},
                                timeout=TEST_TIMEOUT)
    except client.DaemonUnreachable as exc:
        raise CliError(f"the daemon stopped answering: {exc}", EXIT_UNREACHABLE) from exc
    except RuntimeError as exc:
        raise CliError(str(exc), EXIT_USAGE if "no alert rule" in str(exc) else EXIT_RUNTIME) from exc


def _service(args: argparse.Namespace, with_store: bool) -> Any:
    """An AlertService on the store file (read only) for a command run without a daemon."""
    from openusage.alerts.service import AlertService

    settings = config.load(args.config)
    db_file = paths.db_path(args.db_path)
    conn = None
    if with_store and os.path.exists(db_file):
        from openusage.store import db

        conn = db.connect(db_file, readonly=True)
    service = AlertService(None, lambda: conn, lambda c: None, settings.get("alerts"), _never())
    if conn is not None:
        from openusage.alerts import state as state_mod

        try:
            stored = state_mod.load(conn)
        except Exception:  # a store older than the alerts migration: no state yet
            stored = {}
        finally:
            conn.close()
        keep = {r.id for r in service.rules}
        service.states = {k: s for k, s in stored.items() if k[0] in keep}
    return service


def _never() -> Any:
    import threading

    return threading.Event()


def _local_list(args: argparse.Namespace) -> Dict[str, Any]:
    return _service(args, with_store=True).view()


def _local_test(args: argparse.Namespace) -> Dict[str, Any]:
    try:
        return _service(args, with_store=False).test(args.rule, to_log=False)
    except KeyError as exc:
        raise CliError(f"no alert rule {args.rule!r} in settings.json", EXIT_USAGE) from exc


def _when(stamp: Optional[str]) -> str:
    epoch = to_epoch(stamp) if stamp else None
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch)) if epoch else "never"


def format_list(view: Dict[str, Any]) -> str:
    alerts: List[Dict[str, Any]] = view.get("alerts") or []
    rows = []
    for rule in view.get("rules") or []:
        mine = [a for a in alerts if a["rule"] == rule["id"]]
        firing = sum(1 for a in mine if a["firing"])
        last = max((a["fired_at"] for a in mine if a.get("fired_at")), default=None,
                   key=lambda s: to_epoch(s) or 0)
        rows.append((rule["id"], rule["when"], rule["description"], f"firing ({firing})" if firing else "armed",
                     _when(last)))
    if not rows:
        return "no alert rules (settings.json alerts.rules is empty)"
    out = [render_table(("RULE", "WHEN", "WATCHES", "STATE", "LAST FIRED"), rows)]
    if alerts:
        fired = [(a["rule"], f"{a['provider_id']}:{a['account_id']}", a.get("limit") or "-",
                  "firing" if a["firing"] else ("armed" if a["armed"] else "waiting to re-arm"),
                  "-" if a.get("value") is None else f"{a['value']:g}", _when(a.get("fired_at")),
                  "yes" if a["seen"] else "no")
                 for a in alerts]
        out += ["", render_table(("RULE", "ACCOUNT", "LIMIT", "STATE", "VALUE", "LAST FIRED", "SEEN"), fired)]
    notify = view.get("notify") or {}
    desktop = "off" if not notify.get("desktop") else (notify.get("desktop_program") or "on, no notifier found")
    command = " ".join(notify["command"]) if notify.get("command") else "none"
    out += ["", f"desktop: {desktop}; command: {command}; cooldown {notify.get('cooldown_seconds', 0):g} s"]
    return "\n".join(out)


def format_test(view: Dict[str, Any]) -> str:
    alert = view["alert"]
    lines = [f"sent a test alert for rule {alert['rule']}: {alert['message']}"]
    for outcome in view["delivered"]:
        lines.append(f"  {outcome['channel']}: {'ok' if outcome['ok'] else 'FAILED'} ({outcome['detail']})")
    return "\n".join(printable(line) for line in lines)
