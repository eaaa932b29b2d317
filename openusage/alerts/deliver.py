"""Delivering a fired alert: the log always, a desktop notification and the user's command when set.

Every channel is optional and every failure is logged and reported, never raised. Programs run by
absolute path with an argv list (no shell); the user's command gets the alert as JSON on stdin.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from openusage.alerts.rules import Notify
from openusage.core import redact
from openusage.core.timeutil import to_epoch

log = logging.getLogger("openusage.alerts")

OSASCRIPT = "/usr/bin/osascript"
DESKTOP_TIMEOUT = 10.0
# AppleScript reads title and body from argv, so no text of an alert is ever parsed as script.
_APPLESCRIPT = ("on run argv", "display notification (item 2 of argv) with title (item 1 of argv)", "end run")
ALERT_FIELDS = ("rule", "provider_id", "account_id", "limit", "value", "threshold", "resets_at", "fired_at")


@dataclass
class Outcome:
    """What one channel did with one alert."""

    channel: str
    ok: bool
    detail: str

    def to_dict(self) -> Dict[str, Any]:
        return {"channel": self.channel, "ok": self.ok, "detail": self.detail}


def title_and_body(alert: Dict[str, Any]) -> tuple:
    """The notification's title and body: the account, the limit, the value and the reset time."""
    who = alert.get("display_name") or alert["provider_id"]
    account = alert["account_id"]
    name = f"{who} ({account})" if account and account != alert["provider_id"] else who
    what = alert.get("limit") or alert.get("when") or "alert"
    title = f"openusage: {name} {what}"
    body = alert.get("message") or ""
    reset = to_epoch(alert.get("resets_at")) if alert.get("resets_at") else None
    if reset is not None:
        import time

        body += f"; resets {time.strftime('%a %H:%M', time.localtime(reset))}"
    return title, f"{body} (rule {alert['rule']})".strip()


def desktop_program() -> Optional[List[str]]:
    """The notifier's argv prefix by absolute path (notify-send on PATH, osascript on macOS), or None."""
    if sys.platform == "darwin":
        return [OSASCRIPT] if os.access(OSASCRIPT, os.X_OK) else None
    found = shutil.which("notify-send")
    return [os.path.abspath(found)] if found else None


def desktop_argv(program: List[str], title: str, body: str) -> List[str]:
    if os.path.basename(program[0]) == "osascript":
        script = [arg for line in _APPLESCRIPT for arg in ("-e", line)]
        return [program[0], *script, title, body]
    return [program[0], "--app-name=openusage", title, body]


def send_desktop(alert: Dict[str, Any]) -> Outcome:
    program = desktop_program()
    if program is None:
        return Outcome("desktop", False, "no notifier found (notify-send on PATH, or macOS osascript)")
    title, body = title_and_body(alert)
    return _run("desktop", desktop_argv(program, title, body), None, DESKTOP_TIMEOUT)


def run_command(alert: Dict[str, Any], argv: List[str], timeout: float) -> Outcome:
    payload = json.dumps(_payload(alert), ensure_ascii=False)
    return _run("command", [os.path.expanduser(argv[0]), *argv[1:]], payload.encode("utf-8"), timeout)


def _payload(alert: Dict[str, Any]) -> Dict[str, Any]:
    out = {k: alert.get(k) for k in ALERT_FIELDS}
    for key in ("when", "message", "display_name", "test", "exhausts_at", "status"):
        if alert.get(key) is not None:
            out[key] = alert[key]
    return out


def _run(channel: str, argv: List[str], stdin: Optional[bytes], timeout: float) -> Outcome:
    try:
        proc = subprocess.run(argv, input=stdin if stdin is not None else b"", stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout, close_fds=True, check=False)
    except subprocess.TimeoutExpired:
        return Outcome(channel, False, f"{os.path.basename(argv[0])} timed out after {timeout:g}s")
    except OSError as exc:
        return Outcome(channel, False, f"cannot run {argv[0]}: {exc.strerror or exc}")
    if proc.returncode != 0:
        err = redact.clip(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1], 200) \
            if proc.stderr.strip() else ""
        return Outcome(channel, False, f"{os.path.basename(argv[0])} exited {proc.returncode}"
                       + (f": {err}" if err else ""))
    return Outcome(channel, True, f"{os.path.basename(argv[0])} exited 0")


def deliver(alert: Dict[str, Any], notify: Notify, to_log: bool = True) -> List[Outcome]:
    """Send one alert through every configured channel; each outcome is logged (unless not to_log: a
    command run without a daemon has no log)."""
    outcomes: List[Outcome] = []
    if to_log:
        outcomes.append(Outcome("log", True, "written to the daemon log"))
        log.warning("alert %s: %s %s: %s", alert["rule"], alert["provider_id"], alert["account_id"],
                    alert.get("message") or "")
    if notify.desktop:
        outcomes.append(send_desktop(alert))
    if notify.command:
        outcomes.append(run_command(alert, notify.command, notify.command_timeout))
    for outcome in outcomes[1:] if to_log else ():
        if outcome.ok:
            log.info("alert %s: %s: %s", alert["rule"], outcome.channel, outcome.detail)
        else:
            log.warning("alert %s: %s failed: %s", alert["rule"], outcome.channel, outcome.detail)
    return outcomes
