"""openusage hub and openusage hub-view URL"""
from __future__ import annotations

import argparse
import os
import sys
import threading

from openusage import config
from openusage.console import EXIT_UNREACHABLE, EXIT_USAGE, CliError, print_json


def register(sub, parents) -> None:
    p = sub.add_parser("hub", parents=parents, help="aggregate several machines' usage",
                       description="Run a hub that receives the snapshot batches exported by several machines' "
                       "daemons (POST /v1/push) and serves them (GET /v1/snapshots, /metrics, /healthz).")
    p.add_argument("--listen", metavar="ADDR", help="HOST:PORT to listen on (default hub.listen, 127.0.0.1:9190)")
    p.add_argument("--allow-public", action="store_true",
                   help="allow a non-loopback address without OPENUSAGE_HUB_TOKEN")
    p.add_argument("--headless", action="store_true", help="serve only; do not open the dashboard")
    p.set_defaults(func=run_hub)

    p = sub.add_parser("hub-view", parents=parents, help="read-only dashboard of a remote hub",
                       description="Show a hub's aggregated snapshots (token from OPENUSAGE_HUB_TOKEN); a plain "
                       "table when not on a terminal.")
    p.add_argument("url", help="the hub's base URL, e.g. http://buildhost:9190")
    p.add_argument("--interval", type=float, metavar="S", help="seconds between reads (default 30)")
    p.set_defaults(func=run_hub_view)


def run_hub(args: argparse.Namespace) -> int:
    from openusage.daemon import logs
    from openusage.hub import server

    settings = config.load(args.config)
    listen = args.listen or settings.get("hub.listen", "127.0.0.1:9190")
    token = os.environ.get("OPENUSAGE_HUB_TOKEN") or None
    try:
        hub = server.start(listen, token, args.allow_public, float(settings.get("hub.stale_timeout_seconds", 300)))
    except server.BindRefused as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    except OSError as exc:
        raise CliError(f"cannot listen on {listen}: {exc.strerror or exc}") from exc
    logs.configure(None, foreground=True)
    print(f"openusage hub listening on {hub.url}" + ("" if token else " (no token: loopback only)"),
          file=sys.stderr, flush=True)
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not args.headless
    try:
        if interactive and _dashboard_available():
            from openusage.hub.view import HubSource

            return _open_dashboard(HubSource(hub.url, token), args, settings)
        stop = threading.Event()
        _stop_on_signals(stop)
        stop.wait()
        return 0
    finally:
        hub.shutdown()
        hub.server_close()


def _stop_on_signals(stop: threading.Event) -> None:
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())


def _dashboard_available() -> bool:
    try:
        from openusage.tui import run  # noqa: F401
    except ImportError:
        return False
    return True


def _open_dashboard(source, args: argparse.Namespace, settings: config.Settings) -> int:
    from openusage.tui import run

    return run.run_dashboard(source, settings, args, interval=getattr(args, "interval", None))


def run_hub_view(args: argparse.Namespace) -> int:
    from openusage.hub.view import HubSource, HubUnreachable, format_hub_table

    if not args.url.startswith(("http://", "https://")):
        raise CliError(f"hub-view expects an http(s) URL, got {args.url!r}", EXIT_USAGE)
    source = HubSource(args.url)
    settings = config.load(args.config)
    if sys.stdin.isatty() and sys.stdout.isatty() and not args.json and _dashboard_available():
        return _open_dashboard(source, args, settings)
    try:
        view = source.fetch()
    except HubUnreachable as exc:
        raise CliError(str(exc), EXIT_UNREACHABLE) from exc
    if args.json:
        print_json(view)
    else:
        print(format_hub_table(view, source.url))
    return 0
