"""openusage daily|weekly|monthly|session|blocks, and export."""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any, Dict, Optional

from openusage import config, paths
from openusage.console import EXIT_UNREACHABLE, EXIT_USAGE, CliError, print_json, provider_ids
from openusage.daemon import control as daemon_ctl

REPORTS = {
    "daily": "usage per day",
    "weekly": "usage per week",
    "monthly": "usage per month",
    "session": "usage per session, with project and duration",
    "blocks": "5-hour billing blocks, with the active block's burn rate and projection",
}


def register(sub, parents) -> None:
    for name, what in REPORTS.items():
        p = sub.add_parser(name, parents=parents, help=what,
                           description=f"Report of {what}, from the daemon's store when a daemon answers, else "
                           "from a direct (incremental) scan of the local agent logs.")
        p.add_argument("--since", metavar="DAY", help="first day (local to --timezone): YYYY-MM-DD, YYYYMMDD, "
                       "today, yesterday, or Nd (the last N days, today included)")
        p.add_argument("--until", metavar="DAY", help="last day, inclusive (the same forms as --since)")
        p.add_argument("--timezone", metavar="ZONE", help="time zone of days: an IANA name, utc, or an offset "
                       "like +05:45 (default: the local one)")
        p.add_argument("--provider", action="append", metavar="ID", help="only this provider (repeatable)")
        p.add_argument("--project", action="append", metavar="NAME", help="only this project (repeatable)")
        p.add_argument("--breakdown", action="store_true", help="a row per model under each period")
        p.add_argument("--wide", action="store_true",
                       help="every column, however wide the terminal (piped output always has every column)")
        p.add_argument("--mode", choices=("auto", "calculate", "display"), default="auto",
                       help="costs: logged if present else calculated (auto), calculated, or logged only")
        p.add_argument("--week-start", choices=("monday", "sunday"), default="monday", help="first day of a week")
        p.add_argument("--last", type=int, metavar="N", help="only the last N rows")
        p.add_argument("--source", choices=("auto", "daemon", "direct"), default="auto",
                       help="the daemon's store, a direct scan, or the daemon when one answers (default)")
        p.set_defaults(func=run, report=name)

    p = sub.add_parser("export", parents=parents, help="export snapshots and per-day rows as CSV or JSON",
                       description="Export the read model's snapshots and per-day rows (date, provider, account, "
                       "cost, tokens, requests) as CSV or JSON.")
    p.add_argument("--format", choices=("csv", "json"), required=True)
    p.add_argument("--window", choices=("1d", "3d", "7d", "30d", "all"), help="window (default data.time_window)")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--what", choices=("daily", "snapshots"), default="daily",
                   help="with csv: per-day rows (default) or one row per account")
    p.set_defaults(func=run_export)


_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_RELATIVE = re.compile(r"^(\d{1,4})d$")


def parse_zone(name: Optional[str]) -> Optional[tzinfo]:
    """An IANA zone, `utc`, or a fixed offset (`+05:45`, `-0300`, `UTC+1`); None for the local zone."""
    if not name:
        return None
    if name.lower() in ("utc", "z", "gmt"):
        return timezone.utc
    offset = _OFFSET.match(name)
    if offset:
        sign, hours, minutes = offset.group(1), int(offset.group(2)), int(offset.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise CliError(f"--timezone: offset {name!r} is out of range (-14:00 to +14:00)", EXIT_USAGE)
        delta = timedelta(hours=hours, minutes=minutes)
        return timezone(-delta if sign == "-" else delta, name)
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception as exc:
        raise CliError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin, utc, or +05:45)",
                       EXIT_USAGE) from exc


def parse_day(text: str, tz: Optional[tzinfo], flag: str, now: float) -> date:
    """A --since/--until day: YYYY-MM-DD, YYYYMMDD, today, yesterday or Nd (N days back, today the first)."""
    today = datetime.fromtimestamp(now, tz).date()
    word = text.strip().lower()
    if word in ("today", "yesterday"):
        return today - timedelta(days=0 if word == "today" else 1)
    relative = _RELATIVE.match(word)
    if relative:
        days = int(relative.group(1))
        if days < 1:
            raise CliError(f"{flag}: {text!r}: Nd needs N of at least 1 (1d is today)", EXIT_USAGE)
        return today - timedelta(days=days - 1)
    for form in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(word, form).date()
        except ValueError:
            pass
    raise CliError(f"{flag}: expected YYYY-MM-DD, YYYYMMDD, today, yesterday or Nd (like 7d), got {text!r}",
                   EXIT_USAGE)


def day_start(day: date, tz: Optional[tzinfo]) -> float:
    """The epoch at which `day` begins in tz (the local zone when None)."""
    if tz is None:
        return time.mktime((day.year, day.month, day.day, 0, 0, 0, 0, 0, -1))
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def build_report(conn, args: argparse.Namespace, tz: Optional[tzinfo], now: float) -> Dict[str, Any]:
    from openusage.core.windows import is_local_zone
    from openusage.reports import build, data

    since = day_start(parse_day(args.since, tz, "--since", now), tz) if args.since else None
    # --until is inclusive: up to the start of the next day in the zone (DST days are 23 or 25 hours).
    until = day_start(parse_day(args.until, tz, "--until", now) + timedelta(days=1), tz) if args.until else None
    if since is not None and until is not None and since >= until:
        raise CliError("--since is after --until", EXIT_USAGE)
    if args.report in ("daily", "weekly", "monthly"):
        def period_of(epoch: float) -> str:
            return build.period_start(datetime.fromtimestamp(epoch, tz), args.report, args.week_start)

        rows = None
        if args.mode == "auto" and not args.project and is_local_zone(tz):
            rows = data.load_rows_by_local_day(conn, since, until, args.provider)
        if rows is None:
            rows = data.load_rows_by_period(conn, period_of, since, until, args.provider, args.project, args.mode)
        return build.periods(rows, args.report, tz, args.week_start, args.last)
    rows = data.load_rows(conn, since, until, args.provider, args.project, args.mode,
                          by_session=args.report == "session")
    if args.report == "session":
        return build.sessions(rows, tz, data.session_info(conn), args.last)
    return build.blocks(rows, now, args.last)


def run(args: argparse.Namespace) -> int:
    from openusage.providers import REGISTRY, load_plugins
    from openusage.reports import render, source

    if args.last is not None and args.last < 1:
        raise CliError("--last must be at least 1", EXIT_USAGE)
    tz = parse_zone(args.timezone)
    load_plugins(args.plugin_dir)
    args.provider = provider_ids(args.provider, REGISTRY)
    settings = config.load(args.config)
    if args.source != "direct":
        daemon_ctl.check_config(paths.socket_path(args.socket_path), args.config, "or use --source direct")
    progress = sys.stderr.isatty() and not args.json
    try:
        with source.open_source(args.source, settings, paths.socket_path(args.socket_path), args.provider,
                                progress) as (conn, used):
            report = build_report(conn, args, tz, time.time())
    except source.SourceError as exc:
        raise CliError(str(exc), EXIT_UNREACHABLE) from exc
    if used == "daemon" and not report.get(render.ROWS_KEY[args.report]) and source.local_collectors(
            settings, args.provider):
        print("openusage: nothing for this report from the daemon; try --source direct "
              "(a scan of this machine's agent logs)", file=sys.stderr)
    if args.json:
        print_json(report)
        return 0
    width = None if args.wide or not sys.stdout.isatty() else _terminal_width()
    text, note = render.table(report, args.report, width, args.breakdown)
    print(text)
    if args.report == "blocks":
        active = [b for b in report["blocks"] if b["is_active"]]
        if active:
            print(render.burn_rate_line(active[-1], width))
    if note:
        print(note)
    unpriced = render.unpriced_note(report)
    if unpriced:
        print(unpriced)
    return 0


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def run_export(args: argparse.Namespace) -> int:
    from openusage.reports import export

    settings = config.load(args.config)
    window = args.window or settings.get("data.time_window", "30d")
    if args.output:
        _check_output(args.output)  # before the work, not after it
    daemon_ctl.check_config(paths.socket_path(args.socket_path), args.config)
    model = export.read_model(settings, window, paths.socket_path(args.socket_path))
    text = export.to_json(model) if args.format == "json" else export.to_csv(model, args.what)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror or exc}; choose another --output",
                           EXIT_USAGE) from exc
    else:
        sys.stdout.write(text)
    return 0


def _check_output(path: str) -> None:
    """CliError (exit 2) when `path` cannot be written: a missing directory, a directory in its place."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise CliError(f"cannot write {path}: the directory {parent} does not exist; create it or choose another "
                       "--output", EXIT_USAGE)
    if os.path.isdir(path):
        raise CliError(f"cannot write {path}: it is a directory; choose a file name for --output", EXIT_USAGE)
