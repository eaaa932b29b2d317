"""The scriptable provider commands: detect, list, usage, status."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
from typing import Any, Dict, List

from openusage import accounts as accounts_mod
from openusage import config, paths
from openusage.cli.dashboard_cmd import format_table
from openusage.console import EXIT_RUNTIME, CliError, print_json, provider_ids, render_table
from openusage.core.printable import printable
from openusage.core.snapshot import window_spend
from openusage.daemon import client
from openusage.daemon import control as daemon_ctl
from openusage.providers import REGISTRY, load_plugins
from openusage.snapshot_cells import compact, money

WINDOWS = ("1d", "3d", "7d", "30d", "all")


def register(sub, parents) -> None:
    p = sub.add_parser("detect", parents=parents, help="find installed tools and API keys",
                       description="Find installed coding tools and API-key environment variables (no network), "
                       "merged with the configured accounts (configuration wins).")
    p.add_argument("--all", action="store_true", help="also list providers that were not found")
    p.set_defaults(func=run_detect)

    p = sub.add_parser("list", parents=parents, help="list providers",
                       description="Providers with id, name, source modes, detected accounts and UI metadata.")
    p.set_defaults(func=run_list)

    p = sub.add_parser("usage", parents=parents, help="fetch usage now, in this process",
                       description="Fetch every (or one) provider account now, in this process; no daemon needed.")
    p.add_argument("--provider", action="append", metavar="ID", help="only this provider or account (repeatable)")
    p.add_argument("--save", action="store_true", help="store the results in the daemon's database")
    p.add_argument("--window", choices=WINDOWS, help="window for the aggregates (default data.time_window)")
    p.set_defaults(func=run_usage)

    p = sub.add_parser("status", parents=parents, help="one line per account; exit 1 if any is not OK",
                       description="One status line per account, from the daemon when one answers, else fetched "
                       "now. Exit 0 when every account is OK, 1 otherwise.")
    p.add_argument("ids", nargs="*", metavar="ID", help="providers or accounts to show (default all)")
    p.set_defaults(func=run_status)


def _settings(args: argparse.Namespace) -> config.Settings:
    load_plugins(args.plugin_dir)
    return config.load(args.config)


def detection_rows(settings: config.Settings) -> List[Dict[str, Any]]:
    rows: Dict[str, Dict[str, Any]] = {}
    for acct in accounts_mod.detect_all():
        rows[acct.id] = {"id": acct.id, "provider": acct.provider, "source": acct.detected_by,
                         "credential": _credential(acct.api_key_env), "configured": False}
    for acct in settings.accounts:
        rows[acct["id"]] = {"id": acct["id"], "provider": acct["provider"], "source": "settings.json",
                            "credential": _credential(acct.get("api_key_env")), "configured": True,
                            "enabled": acct.get("enabled", True)}
    return sorted(rows.values(), key=lambda r: (r["provider"], r["id"]))


def _credential(env_name: Any) -> Any:
    if not env_name:
        return None
    value = os.environ.get(env_name)
    return f"{env_name} (set)" if value else f"{env_name} (unset)"  # nothing of a key is shown


def run_detect(args: argparse.Namespace) -> int:
    settings = _settings(args)
    rows = detection_rows(settings)
    if args.all:
        seen = {r["provider"] for r in rows}
        rows += [{"id": None, "provider": pid, "source": None, "credential": None, "configured": False}
                 for pid in sorted(REGISTRY) if pid not in seen and pid not in ("demo", "custom")]
    if args.json:
        print_json({"accounts": rows})
        return 0
    if not rows:
        print("nothing detected; set an API key variable or install a coding agent, or see 'openusage detect --all'")
        return 0
    table = [[r["provider"], r["id"] or "-", r["source"] or "not found", r["credential"] or "-",
              "configured" if r["configured"] else ("detected" if r["id"] else "-")] for r in rows]
    print(render_table(["PROVIDER", "ACCOUNT", "FOUND IN", "CREDENTIAL", "STATE"], table))
    return 0


def run_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    detected: Dict[str, List[str]] = {}
    polling: Dict[str, Dict[str, str]] = {}
    for provider, acct in accounts_mod.resolve(settings):
        detected.setdefault(acct.provider, []).append(acct.id)
        if provider is not None:
            polling.setdefault(acct.provider, {})[acct.id] = provider.polling(acct)
    providers = []
    for pid, provider in sorted(REGISTRY.items()):
        info = provider.describe()
        info["accounts"] = detected.get(pid, [])
        info["account_polling"] = polling.get(pid, {})
        providers.append(info)
    if args.json:
        print_json({"providers": providers})
        return 0
    rows = [[p["id"], p["name"], ",".join(p["source_modes"]), ",".join(p["accounts"]) or "-", _poll_word(p),
             _paths(p)] for p in providers]
    headers = ["ID", "NAME", "SOURCES", "ACCOUNTS", "POLLING", "PATHS"]
    table = render_table(headers, rows)
    width = shutil.get_terminal_size().columns
    if sys.stdout.isatty() and max(len(line) for line in table.splitlines()) > width:
        table = _paths_below(headers[:-1], rows, providers, width)  # piped output keeps one row per provider
    print(table)
    return 0


def _poll_word(info: Dict) -> str:
    """What polling costs, in a word: "billed" as soon as one account asked for a billed probe."""
    texts = list(info["account_polling"].values()) or [info["polling"]]
    return "billed" if any(t.startswith("BILLED") for t in texts) else "free"


def _paths_below(headers: List[str], rows: List[List[str]], providers: List[Dict[str, Any]], width: int) -> str:
    """The table without its PATHS column, each agent's paths wrapped on the lines under its row."""
    lines = render_table(headers, [row[:-1] for row in rows]).splitlines()
    out = lines[:2]
    for line, info in zip(lines[2:], providers):
        out.append(line)
        if info.get("paths"):
            out += textwrap.wrap(_paths(info, 2), width=max(width, 40), initial_indent="    ",
                                 subsequent_indent="      ", break_on_hyphens=False)
    return "\n".join(out)


def _paths(info: Dict[str, Any], shown: int = 1) -> str:
    """Where a local agent looks, in a cell: its first default paths, and the variables that replace them
    (--json lists them all)."""
    paths = info.get("paths") or []
    cell = ", ".join(paths[:shown]) + (f" +{len(paths) - shown}" if len(paths) > shown else "") or "-"
    env = info.get("path_env") or []
    return cell + (f" (or ${', $'.join(env)})" if env else "")


def run_usage(args: argparse.Namespace) -> int:
    from openusage import inprocess

    settings = _settings(args)
    window = args.window or settings.get("data.time_window", "30d")
    if args.provider:
        args.provider = provider_ids(args.provider, REGISTRY, [a.id for _, a in accounts_mod.resolve(settings)])
    model = inprocess.fetch_now(settings, window, args.provider, save=args.save)
    if args.json:
        print_json(model)
        return 0
    print(format_table(model))
    return 0


def _status_model(args: argparse.Namespace, settings: config.Settings) -> Dict[str, Any]:
    socket_path = paths.socket_path(args.socket_path)
    window = settings.get("data.time_window", "30d")
    daemon_ctl.check_config(socket_path, args.config)
    try:
        return client.call_json(socket_path, "POST", "/v1/read-model", {"window": window})
    except client.DaemonUnreachable:
        from openusage import inprocess

        return inprocess.fetch_now(settings, window, args.ids or None)
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc


def run_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    model = _status_model(args, settings)
    snaps = [s for s in model["snapshots"].values()
             if not args.ids or s["provider_id"] in args.ids or s["account_id"] in args.ids]
    if args.ids and not snaps:
        raise CliError(f"no account matches {', '.join(args.ids)}", 2)
    snaps.sort(key=lambda s: (s["provider_id"], s["account_id"]))
    if not snaps and not args.json:
        print("no accounts configured or detected (see 'openusage detect --all')")
        return 0
    if args.json:
        print_json({"accounts": [_status_entry(s) for s in snaps]})
    else:
        for s in snaps:
            print(status_line(s))
    # UNKNOWN (an agent installed that has no data yet) is no failure; WARN, LIMIT, AUTH and ERR are.
    return 0 if all((s.get("status") or "UNKNOWN") in ("OK", "UNKNOWN") for s in snaps) else EXIT_RUNTIME


WINDOW_FIELDS = ("used_percent", "resets_at", "source", "observed_at", "window_seconds", "pace", "limit", "used",
                 "remaining")


def _status_entry(s: Dict[str, Any]) -> Dict[str, Any]:
    windows = {name: {k: lim.get(k) for k in WINDOW_FIELDS if lim.get(k) is not None}
               for name, lim in sorted((s.get("rate_limits") or {}).items())}
    return {"provider": s["provider_id"], "account": s["account_id"], "status": s.get("status") or "UNKNOWN",
            "message": s.get("message"), "spend": window_spend(s),
            "currency": s.get("currency"), "worst_limit_used_percent": _worst(s),
            "plan": (s.get("extras") or {}).get("plan"), "windows": windows}


def _worst(s: Dict[str, Any]) -> Any:
    from openusage.core.snapshot import UsageSnapshot

    frac = UsageSnapshot.from_dict(s).worst_rate_limit()
    return round(frac * 100, 1) if frac is not None else None


def status_line(s: Dict[str, Any]) -> str:
    parts = [f"{s['provider_id']}:{s['account_id']}", s.get("status") or "UNKNOWN"]
    spend = window_spend(s)
    if spend is not None:
        parts.append(money(spend, s.get("currency") or "USD"))
    tokens = (s.get("tokens") or {}).get("total")
    if tokens:
        parts.append(f"{compact(tokens)} tokens")
    worst = _worst(s)
    if worst is not None:
        parts.append(f"limit {worst:.0f}% used")
    if s.get("message") and s.get("status") != "OK":
        parts.append(f"- {s['message']}")
    return printable("  ".join(parts))
