"""openusage plugin list|validate [PATH]"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List

from openusage import paths
from openusage.console import EXIT_USAGE, CliError, print_json, render_table
from openusage.providers import plugins
from openusage.providers.base import Provider


def register(sub, parents) -> None:
    p = sub.add_parser("plugin", parents=parents, help="list or validate provider plugins",
                       description="List the provider plugins found in the plugin directories, or validate one "
                       "file (or all) and report exactly what is wrong.")
    p.add_argument("action", choices=("list", "validate"))
    p.add_argument("path", nargs="?", help="with validate: one plugin file (default: every plugin found)")
    p.set_defaults(func=run)


def _builtin_ids() -> set:
    from openusage.providers import REGISTRY

    return {pid for pid, prov in REGISTRY.items() if not type(prov).__module__.startswith("openusage_plugin_")}


def run(args: argparse.Namespace) -> int:
    dirs = paths.plugin_dirs(args.plugin_dir)
    if args.path:
        if args.action != "validate":
            raise CliError("a PATH goes with 'plugin validate'", EXIT_USAGE)
        if not os.path.isfile(args.path):
            raise CliError(f"no such plugin file: {args.path}", EXIT_USAGE)
        files = [args.path]
    else:
        files = plugins.discover(dirs)
    refused = plugins.refused_dirs(dirs)
    reports = [plugins.load_file(f, _builtin_ids()) for f in files]
    if args.json:
        print_json({"directories": dirs, "refused": refused, "plugins": [_entry(r) for r in reports]})
        return _exit(reports, refused)
    for reason in refused.values():
        print(reason, file=sys.stderr)
    if args.action == "list":
        if not reports:
            print("no plugins in " + ", ".join(dirs))
        else:
            rows = [[r.path, ",".join(p.id for p in r.providers) or "-", "ok" if r.ok else "; ".join(r.errors)]
                    for r in reports]
            print(render_table(["FILE", "PROVIDERS", "STATE"], rows))
    else:
        for r in reports:
            if r.ok:
                print(f"{r.path}: ok ({', '.join(_describe(p) for p in r.providers)})")
            for error in r.errors:
                print(f"{r.path}: {error}")
        if not reports:
            print("no plugins in " + ", ".join(dirs))
    return _exit(reports, refused)


def _exit(reports: List[plugins.PluginReport], refused: Dict[str, str]) -> int:
    """1 when a plugin or a plugin directory could not be loaded: list fails as validate does."""
    return 1 if refused or any(not r.ok for r in reports) else 0


def _describe(p: Provider) -> str:
    return f"{p.id}: {p.name}"


def _entry(r: plugins.PluginReport) -> dict:
    return {"path": r.path, "ok": r.ok, "providers": [p.describe() for p in r.providers], "errors": r.errors}
