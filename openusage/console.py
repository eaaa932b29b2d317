"""Helpers shared by the commands and the views that print: output, errors and exit codes (DESIGN section 10)."""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Iterable, List, Optional, Sequence

from openusage.core.printable import json_text, printable

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class CliError(Exception):
    """A failure that ends the command with a one-line message and an exit code."""

    def __init__(self, message: str, code: int = EXIT_RUNTIME):
        super().__init__(message)
        self.code = code


def provider_ids(names: Optional[Sequence[str]], known: Iterable[str],
                 accounts: Optional[Iterable[str]] = None) -> Optional[List[str]]:
    """--provider values as provider ids: the hook spelling `claude-code` is `claude_code`.

    A name that is neither a known provider nor (where given) an account id ends the command, exit 2.
    """
    if not names:
        return None
    what = "provider" if accounts is None else "provider or account"
    known, accounts = set(known), set(accounts or ())
    out, unknown = [], []
    for name in names:
        pid = name if name in known or name in accounts else name.replace("-", "_")
        (out if pid in known or pid in accounts else unknown).append(pid if pid in known else name)
    if unknown:
        raise CliError(f"unknown {what}: {', '.join(unknown)} (see 'openusage list')", EXIT_USAGE)
    return out


def print_json(data: Any) -> None:
    # One string, one write: json.dump would write every token separately.
    sys.stdout.write(json_text(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False)) + "\n")


def use_color(args: Any = None) -> bool:
    """Colour only on a terminal, never with --no-color or NO_COLOR set."""
    if args is not None and getattr(args, "no_color", False):
        return False
    if os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def render_table(headers: Sequence[str], rows: List[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """A plain aligned text table; columns in `right` are right-aligned; no cell carries a control character."""
    cells = [[printable(str(h)) for h in headers]] + [["" if c is None else printable(str(c)) for c in row]
                                                      for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = []
        for i, cell in enumerate(row):
            parts.append(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
