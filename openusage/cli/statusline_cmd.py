"""openusage statusline: one line for Claude Code's statusLine, and --install/--uninstall.

Claude Code runs the command on every update with its statusLine JSON on stdin, so it must answer
fast: it reads the daemon's database directly (read-only) and falls back to the reports cache.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from typing import Any, Dict, List, Optional

from openusage.console import EXIT_RUNTIME, EXIT_USAGE, CliError
from openusage.core.printable import printable

MAX_INPUT = 1024 * 1024
OURS_MARK = "openusage statusline"


def register(sub, parents) -> None:
    p = sub.add_parser("statusline", parents=parents, help="one status line for Claude Code",
                       description="Read Claude Code's statusLine JSON on stdin and print one line: model, "
                       "session cost, today's cost, active 5-hour block cost and time left, burn rate, "
                       "context used. --install/--uninstall edit Claude Code's settings.json "
                       "($CLAUDE_SETTINGS_FILE, else the first $CLAUDE_CONFIG_DIR, else ~/.claude), changing "
                       "only the statusLine.")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--install", action="store_true", help="set this command as Claude Code's statusLine")
    group.add_argument("--uninstall", action="store_true", help="remove it (only if it is ours)")
    p.add_argument("--color", action="store_true", help="colour the line (Claude Code shows ANSI colours)")
    p.set_defaults(func=run, uses=("--no-color",))  # Claude Code reads one line: no JSON, no settings


# --- the line ---------------------------------------------------------------------------------


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _store_path() -> Optional[str]:
    from openusage import paths
    from openusage.reports.source import cache_db_path

    for path in (paths.db_path(), cache_db_path()):
        if os.path.exists(path):
            return path
    return None


def usage_today(now: float) -> Dict[str, Any]:
    """Today's Claude Code cost and the active block, from the local store (empty when there is none)."""
    from openusage.core.windows import local_midnight
    from openusage.reports import build, data
    from openusage.store import db

    path = _store_path()
    if path is None:
        return {}
    conn = db.connect(path, readonly=True)
    try:
        today = data.Totals()
        for row in data.load_rows(conn, local_midnight(now), None, ["claude_code"], by_session=False):
            today.add(row, split=False)
        recent = data.load_rows(conn, now - 2 * build.BLOCK_SECONDS, None, ["claude_code"], by_session=False)
        return {"today": today.cost_usd, "today_incomplete": bool(today.unpriced),
                "block": build.active_block(recent, now)}
    finally:
        conn.close()


def compose(status: Dict[str, Any], usage: Dict[str, Any], color: bool = False, unicode: bool = True) -> str:
    """The status line from Claude Code's input and the store's figures (`unicode`: may print "\u2265")."""
    parts: List[str] = []
    at_least = "\u2265" if unicode else ">="
    model = status.get("model") or {}
    name = model.get("display_name") or model.get("id") if isinstance(model, dict) else None
    if name:
        parts.append(_paint(printable(str(name)), "1", color))
    cost = (status.get("cost") or {}).get("total_cost_usd")
    if isinstance(cost, (int, float)):
        parts.append(f"session {_usd(cost)}")
    # A cost that leaves out models without a price is at least that much: "today >=$1.20".
    if usage.get("today") is not None:
        parts.append(f"today {at_least if usage.get('today_incomplete') else ''}{_usd(usage['today'])}")
    block = usage.get("block")
    if block:
        left = block["projection"]["remaining_minutes"]
        more = at_least if block.get("cost_incomplete") else ""
        parts.append(f"block {more}{_usd(block['cost_usd'])} ({left // 60}h{left % 60:02d}m left)")
        parts.append(f"{more}{_usd(block['burn_rate']['cost_per_hour'])}/h")
    ctx = status.get("context_window") or {}
    size = ctx.get("context_window_size")
    used = ctx.get("total_input_tokens")
    if isinstance(size, (int, float)) and size > 0 and isinstance(used, (int, float)):
        pct = 100.0 * used / size
        parts.append(_paint(f"ctx {pct:.0f}%", "31" if pct >= 90 else "33" if pct >= 70 else "32", color))
    limits = status.get("rate_limits") or {}
    for key, label in (("five_hour", "5h"), ("seven_day", "7d")):
        entry = limits.get(key)
        pct = entry.get("used_percentage", entry.get("used_percent")) if isinstance(entry, dict) else None
        if isinstance(pct, (int, float)):
            parts.append(_paint(f"{label} {pct:.0f}%", "31" if pct >= 90 else "33" if pct >= 70 else "32", color))
    return " | ".join(parts)


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


# --- install ----------------------------------------------------------------------------------


def settings_path() -> str:
    """Claude Code's settings file, found as `integrations install claude_code` finds it:
    $CLAUDE_SETTINGS_FILE, else the first $CLAUDE_CONFIG_DIR, else ~/.claude."""
    from openusage.integrations import claude_code

    return claude_code.default_target()


def our_command() -> str:
    return shlex.join([sys.executable, "-m", "openusage", "statusline"])


def _load_settings(path: str) -> Dict[str, Any]:
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CliError(f"{path} is not valid JSON; left untouched ({exc})") from exc
    if not isinstance(data, dict):
        raise CliError(f"{path} is not a JSON object; left untouched")
    return data


def _write_settings(path: str, data: Dict[str, Any]) -> None:
    """Back the file up and rewrite it with only the statusLine changed (the user's layout kept)."""
    from openusage.integrations import jsonedit

    os.makedirs(os.path.dirname(path), exist_ok=True)
    original = None
    if os.path.exists(path):
        with open(path, "rb") as src, open(path + ".bak", "wb") as dst:
            raw = src.read()
            dst.write(raw)
        os.chmod(path + ".bak", 0o600)
        original = raw.decode("utf-8")
    if original and original.strip():
        text = jsonedit.update(original, data)
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    tmp = path + ".openusage-tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _is_ours(entry: Any) -> bool:
    return isinstance(entry, dict) and OURS_MARK in str(entry.get("command", "")).replace("-m openusage", "openusage")


def install() -> str:
    path = settings_path()
    data = _load_settings(path)
    current = data.get("statusLine")
    wanted = {"type": "command", "command": our_command(), "padding": 0}
    if current == wanted:
        return f"already installed in {path}"
    if current and not _is_ours(current):
        shown = current.get("command") if isinstance(current, dict) else current
        raise CliError(f"{path} already has a statusLine ({shown!r}); remove it first")
    data["statusLine"] = wanted
    _write_settings(path, data)
    return f"installed in {path} (backup in {path}.bak)"


def uninstall() -> str:
    path = settings_path()
    data = _load_settings(path)
    if not _is_ours(data.get("statusLine")):
        return f"no openusage statusLine in {path}"
    del data["statusLine"]
    _write_settings(path, data)
    return f"removed from {path}"


def run(args: argparse.Namespace) -> int:
    if args.install:
        print(install())
        return 0
    if args.uninstall:
        print(uninstall())
        return 0
    raw = sys.stdin.buffer.read(MAX_INPUT + 1) if not sys.stdin.isatty() else b""
    if len(raw) > MAX_INPUT:
        raise CliError("statusLine input over 1 MiB", EXIT_USAGE)
    try:
        status = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise CliError("statusLine input is not JSON", EXIT_USAGE) from exc
    if not isinstance(status, dict):
        raise CliError("statusLine input is not a JSON object", EXIT_USAGE)
    try:
        from openusage.agents import claude_limits

        claude_limits.remember(status.get("rate_limits"), time.time())  # for the Claude Code tile
    except OSError as exc:
        print(f"openusage statusline: cannot keep the plan limits: {exc}", file=sys.stderr)
    try:
        usage = usage_today(time.time())
    except Exception as exc:  # the line must still show what Claude Code gave us
        usage = {}
        print(f"openusage statusline: {type(exc).__name__}: {exc}", file=sys.stderr)
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    print(compose(status, usage, color=args.color and not args.no_color and not os.environ.get("NO_COLOR"),
                  unicode=encoding.startswith("utf")))
    return 0 if status or usage else EXIT_RUNTIME
