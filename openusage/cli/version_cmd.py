"""openusage version"""
from __future__ import annotations

import argparse
import platform
import sqlite3

from openusage import __version__
from openusage.console import print_json


def register(sub, parents) -> None:
    p = sub.add_parser("version", parents=parents, help="print the version",
                       description="Print the openusage version, with the Python and SQLite it runs on.")
    p.set_defaults(func=run, uses=("--json",))


def run(args: argparse.Namespace) -> int:
    info = {"openusage": __version__, "python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    if args.json:
        print_json(info)
    else:
        print(f"openusage {__version__} (Python {info['python']}, SQLite {info['sqlite']})")
    return 0
