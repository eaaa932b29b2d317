"""openusage config validate|show|path"""
from __future__ import annotations

import argparse
import json
import os
import sys

from openusage import config, paths
from openusage.console import EXIT_USAGE, print_json


def register(sub, parents) -> None:
    p = sub.add_parser("config", parents=parents, help="check, show or locate settings.json",
                       description="Check, show or locate settings.json.")
    p.add_argument("action", choices=("validate", "show", "path"),
                   help="validate: report every problem by key path; show: effective settings; path: the file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = paths.config_path(args.config)
    if args.action == "path":
        print(path)
        return 0
    if args.action == "validate":
        if args.config and not os.path.exists(path):
            if args.json:
                _report(True, path, ["no such file"], f"{path}: no such file")
            else:
                print(f"openusage: config: {path}: no such file", file=sys.stderr)
            return EXIT_USAGE
        return _validate(path, args.json)
    settings = config.load(args.config)
    print_json(settings.merged)
    return 0


def _validate(path: str, as_json: bool) -> int:
    import difflib

    from openusage.providers import REGISTRY

    if not os.path.exists(path):
        _report(as_json, path, [], f"no settings file at {path}; the defaults are in use")
        return 0
    try:
        settings = config.load(path)
        errors = []
    except config.ConfigError as exc:
        settings, errors = None, exc.errors
    if settings is not None:
        for i, acct in enumerate(settings.accounts):
            if acct["provider"] not in REGISTRY:
                close = difflib.get_close_matches(acct["provider"].replace("-", "_"), list(REGISTRY), n=1, cutoff=0.7)
                hint = f"; did you mean {close[0]}?" if close else " (see 'openusage list')"
                errors.append(f"accounts[{i}].provider: unknown provider {acct['provider']!r}{hint}")
    warnings = config.warnings(settings.raw if settings is not None else _raw(path))
    if errors:
        if as_json:
            print_json({"path": path, "valid": False, "errors": errors, "warnings": warnings})
        else:
            for error in errors:
                print(f"openusage: config: {path}: {error}", file=sys.stderr)
            _print_warnings(path, warnings)
        return EXIT_USAGE
    count = len(settings.accounts) if settings else 0
    message = f"{path}: valid ({count} account{'s' if count != 1 else ''})"
    if as_json:
        print(json.dumps({"path": path, "valid": True, "errors": [], "warnings": warnings, "message": message}))
    else:
        _print_warnings(path, warnings)
        print(message + (f", {len(warnings)} warning{'s' if len(warnings) != 1 else ''}" if warnings else ""))
    return 0


def _raw(path: str) -> object:
    """The file's JSON for the unknown-key warnings of a file that failed validation (None if unreadable)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _print_warnings(path: str, warnings) -> None:
    for warning in warnings:
        print(f"openusage: config: {path}: warning: {warning}", file=sys.stderr)


def _report(as_json: bool, path: str, errors, message: str) -> None:
    if as_json:
        print(json.dumps({"path": path, "valid": not errors, "errors": errors, "message": message}))
    else:
        print(message)
