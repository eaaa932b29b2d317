"""openusage telemetry daemon [run|stop|status] and telemetry hook SOURCE."""
from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from typing import Any, Dict

from openusage import paths
from openusage.console import EXIT_USAGE, CliError, print_json
from openusage.daemon import control as daemon_ctl


def register(sub, parents) -> None:
    tele = sub.add_parser("telemetry", parents=parents, help="the collection daemon and agent hooks",
                          description="The always-on collection daemon and the hook agents call.")
    tsub = tele.add_subparsers(title="telemetry commands", metavar="COMMAND")
    tele.set_defaults(func=lambda args: tele.print_help() or 2)

    daemon = tsub.add_parser("daemon", parents=parents, help="run or control the daemon",
                             description="Run the daemon in the foreground (default), or control a running one.")
    daemon.add_argument("action", nargs="?", default="run", choices=("run", "stop", "status", "install", "uninstall"),
                        help="run (default): foreground; stop: SIGTERM and wait; status: service state, health "
                        "and counters; install/uninstall: the user service (systemd or launchd)")
    daemon.add_argument("--dry-run", action="store_true", help="with install: print what would be written and run")
    daemon.add_argument("--db-path", metavar="PATH", help="database file (default $STATE/telemetry.db)")
    daemon.add_argument("--log-file", metavar="PATH", help="log file (default $STATE/daemon.log)")
    daemon.set_defaults(func=run_daemon)

    hook = tsub.add_parser("hook", parents=parents, help="deliver one agent hook payload (stdin)",
                           description="Deliver one hook payload to the daemon, or spool it when the daemon "
                           "is down. Exit 0 unless --strict.")
    hook.add_argument("source", help="the agent: claude-code, codex, opencode, gemini-cli, ...")
    hook.add_argument("payload", nargs="?", help="payload as an argument (Codex notify) instead of stdin")
    hook.add_argument("--account-id", help="attribute the events to this account")
    hook.add_argument("--strict", action="store_true", help="exit 1 when delivery failed")
    hook.set_defaults(func=run_hook)


def run_hook(args: argparse.Namespace) -> int:
    from openusage.cli import hook_cmd

    argv = [args.source] + ([args.payload] if args.payload else [])
    if args.account_id:
        argv += ["--account-id", args.account_id]
    if args.strict:
        argv.append("--strict")
    if args.socket_path:
        argv += ["--socket-path", args.socket_path]
    return hook_cmd.main(argv)


def run_daemon(args: argparse.Namespace) -> int:
    socket_path = paths.socket_path(args.socket_path)
    if args.action == "status":
        return _status(socket_path, args.json)
    if args.action in ("install", "uninstall"):
        from openusage.cli import service_cmd

        return service_cmd.run(args)
    if args.action == "stop":
        pid = daemon_ctl.stop(socket_path)
        print(f"daemon {pid} stopped")
        return 0
    return _run(args, socket_path)


def _absolute_env() -> None:
    """The path variables read again later (a reload), made absolute where the daemon was started."""
    for name in ("OPENUSAGE_CONFIG", "OPENUSAGE_STATE_DIR", "OPENUSAGE_TELEMETRY_SOCKET", "OPENUSAGE_PLUGIN_DIR"):
        value = os.environ.get(name)
        if value:
            os.environ[name] = os.pathsep.join(os.path.abspath(os.path.expanduser(p)) if p else p
                                               for p in value.split(os.pathsep))


def _run(args: argparse.Namespace, socket_path: str) -> int:
    from openusage.config import ConfigError
    from openusage.daemon import logs
    from openusage.daemon.app import Daemon
    from openusage.errors import OpenusageError
    from openusage.providers import load_plugins

    state = paths.state_dir()
    paths.ensure_private_dir(state)  # PathError: one line on stderr, exit 2 (there is no log to write yet)
    logs.configure(paths.log_path(args.log_file), foreground=True)
    # Every path the user gave resolves where the daemon was started, before it leaves that directory.
    plugin_dirs = [os.path.abspath(os.path.expanduser(d)) for d in args.plugin_dir or []]
    db_path = paths.db_path(args.db_path)
    config_path = paths.config_path(args.config) if args.config else None
    _absolute_env()
    # Everything the daemon creates is private, and it holds no directory of the user's open
    # (or lets a relative path in a plugin or provider resolve against it).
    os.umask(0o077)
    os.chdir(state)
    try:
        load_plugins(plugin_dirs)
        daemon = Daemon(socket_path=socket_path, db_path=db_path, config_path=config_path)
        code = daemon.run()
    except (OpenusageError, ConfigError) as exc:
        line = f"config: {exc}" if isinstance(exc, ConfigError) else str(exc)
        logs.to_file(f"openusage: {line}")  # the same line in the log, for a daemon started in the background
        print(f"openusage: {line}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else exc.code
    # Everything is committed and the socket is gone; a provider fetch stuck in a worker thread must
    # not hold the exit (the interpreter would join it).
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:
        # A catch-up read the stop interrupted has worker processes: end them as an ordinary exit
        # does (os._exit skips it), or the resource tracker reports their semaphores as leaked.
        mp_util._exit_function()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # a stuck worker thread must not hold the exit (bench/README.md, start-up speed)


def _status(socket_path: str, as_json: bool) -> int:
    from openusage.daemon import service

    try:
        svc = service.state()
    except (OSError, subprocess.SubprocessError):
        svc = {}
    try:
        info = daemon_ctl.health(socket_path)
    except CliError:
        if as_json:
            print_json({"service": svc, "daemon": None})
        else:
            print(format_service(svc))
        raise
    if as_json:
        print_json(dict(info, service=svc))
        return 0
    print(format_service(svc))
    print(format_status(info))
    return 0


def format_service(svc: Dict[str, Any]) -> str:
    if not svc:
        return "service           unknown"
    if svc.get("installed") != "true":
        return f"service           not installed ({svc.get('manager')})"
    parts = [f"{k}={v}" for k, v in svc.items() if k not in ("manager", "installed")]
    return f"service           {svc.get('manager')} user service, " + (", ".join(parts) or "installed")


def format_status(info: Dict[str, Any]) -> str:
    spool_info = info.get("spool", {})
    lines = [
        f"status            {info.get('status')}",
        f"pid               {info.get('pid')}",
        f"version           {info.get('version')}",
        f"uptime            {_duration(info.get('uptime_seconds') or 0)}",
        f"socket            {info.get('socket')}",
        f"database          {info.get('db_path')} ({_size(info.get('db_size_bytes'))})",
        f"events stored     {info.get('events_stored', 0):,}",
        f"events updated    {info.get('events_updated', 0):,}",
        f"duplicates        {info.get('duplicates_dropped', 0):,} dropped",
        f"spool             {spool_info.get('pending', 0)} pending, {spool_info.get('bad', 0)} set aside",
    ]
    providers = info.get("providers") or {}
    if providers:
        lines.append("last poll:")
        for key, p in sorted(providers.items()):
            detail = p.get("error") or f"{p.get('events', 0)} events, {p.get('duration_ms', '?')} ms"
            lines.append(f"  {key:<28} {p.get('last_poll') or 'not yet':<26} {p.get('status') or '-':<7} {detail}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"


def _size(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n}"
