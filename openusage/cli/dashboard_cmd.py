"""openusage (no command): the dashboard on a terminal, else the read model as a table (or JSON);
the daemon is started in the background if none answers."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict

from openusage import config, paths
from openusage.console import EXIT_UNREACHABLE, CliError, print_json, render_table
from openusage.core.printable import printable
from openusage.daemon import client
from openusage.daemon import control as daemon_ctl
from openusage.snapshot_cells import snapshot_row


def fetch_read_model(args: argparse.Namespace, window: str) -> Dict[str, Any]:
    socket_path = paths.socket_path(getattr(args, "socket_path", None))
    if daemon_ctl.ensure_running(socket_path, getattr(args, "config", None)):
        print(f"openusage: started the daemon on {socket_path}", file=sys.stderr)
        daemon_ctl.wait_first_poll(socket_path)
    try:
        return client.call_json(socket_path, "POST", "/v1/read-model", {"window": window}, timeout=12.0)
    except client.DaemonUnreachable as exc:
        raise CliError(f"no daemon answers on {socket_path}", EXIT_UNREACHABLE) from exc
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc


def interactive(args: argparse.Namespace) -> bool:
    """The full-screen dashboard only when stdin and stdout are terminals that can move the cursor."""
    if getattr(args, "json", False) or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


def open_dashboard(args: argparse.Namespace, settings: config.Settings, window: str) -> int:
    from openusage.tui import run
    from openusage.tui.source import DaemonSource

    socket_path = paths.socket_path(getattr(args, "socket_path", None))
    source = DaemonSource(socket_path, getattr(args, "config", None))
    return run.run_dashboard(source, settings, args, window=window)


def run(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    window = getattr(args, "window", None) or settings.get("data.time_window", "30d")
    daemon_ctl.check_config(paths.socket_path(getattr(args, "socket_path", None)), args.config)
    if interactive(args):
        return open_dashboard(args, settings, window)
    model = fetch_read_model(args, window)
    if args.json:
        print_json(model)
        return 0
    print(format_table(model))
    return 0


def format_table(model: Dict[str, Any]) -> str:
    snapshots = list((model.get("snapshots") or {}).values())
    header = printable(f"window {model.get('window')} · {len(snapshots)} account(s)")
    if not snapshots:
        return header + "\nno accounts yet: configure one in settings.json, or try 'openusage demo'"
    rows = [snapshot_row(s) for s in sorted(snapshots, key=lambda s: (s["provider_id"], s["account_id"]))]
    table = render_table(["PROVIDER", "ACCOUNT", "STATUS", "SPEND", "TOKENS", "TOP MODEL"], rows, right=(3, 4))
    messages = [f"  {s['account_id']}: {s['message']}" for s in snapshots
                if s.get("message") and s.get("status") not in (None, "OK")]
    messages += [f"  {s['account_id']}: unpriced " + ", ".join(
        f"{u.get('model')} ({u.get('tokens') or 0:,} tokens)" for u in s["unpriced"]) + "; the spend leaves them out"
        for s in snapshots if s.get("unpriced")]
    return "\n".join([header, table] + [printable(m) for m in messages])
