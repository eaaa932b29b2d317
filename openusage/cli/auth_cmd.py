"""openusage auth import-cookies --provider ID --format json|netscape [FILE]"""
from __future__ import annotations

import argparse
import sys

from openusage import cookies
from openusage.console import EXIT_USAGE, CliError
from openusage.providers import REGISTRY, load_plugins


def register(sub, parents) -> None:
    p = sub.add_parser("auth", parents=parents, help="credentials for web-session providers",
                       description="Import browser session cookies for providers whose usage is only "
                       "reachable with a web session; kept 0600 in the state dir, never in settings.json.")
    asub = p.add_subparsers(title="auth commands", metavar="COMMAND")
    p.set_defaults(func=lambda args: p.print_help() or EXIT_USAGE)
    imp = asub.add_parser("import-cookies", parents=parents, help="import cookies exported from a browser",
                          description="Import cookies exported from a browser (a JSON export or a Netscape "
                          "cookies.txt) for one provider; only the provider's own domains are kept.")
    imp.add_argument("--provider", required=True, metavar="ID",
                     help="the provider, e.g. cursor (cursor.com's session, for a machine without the Cursor app)")
    imp.add_argument("--format", required=True, choices=("json", "netscape"), help="the export's format")
    imp.add_argument("file", nargs="?", help="the export (default: standard input)")
    imp.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    load_plugins(args.plugin_dir)
    provider = REGISTRY.get(args.provider)
    domains = list(getattr(provider, "cookie_domains", ()) or ())
    if provider is None or not domains:
        usable = sorted(pid for pid, p in REGISTRY.items() if getattr(p, "cookie_domains", ()))
        raise CliError(f"provider {args.provider!r} takes no cookies"
                       + (f" (providers that do: {', '.join(usable)})" if usable else ""), EXIT_USAGE)
    try:
        text = open(args.file, encoding="utf-8").read() if args.file else sys.stdin.read()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}", EXIT_USAGE) from exc
    try:
        parsed = cookies.parse_json(text) if args.format == "json" else cookies.parse_netscape(text)
    except cookies.CookieError as exc:
        raise CliError(f"{args.format} cookies: {exc}", EXIT_USAGE) from exc
    kept = cookies.for_domains(parsed, domains)
    if not kept:
        raise CliError(f"no cookies for {', '.join(domains)} in the export", EXIT_USAGE)
    path = cookies.save(provider.id, kept)
    print(f"kept {len(kept)} of {len(parsed)} cookies for {provider.id} in {path} (mode 0600)")
    return 0
