"""openusage demo: a separate daemon fed by the demo provider, so a new user sees live data at once.

The demo lives in its own state dir ($STATE/demo) and never touches real data.
"""
from __future__ import annotations

import argparse
import json
import os

from openusage import paths
from openusage.daemon import client
from openusage.daemon import control as daemon_ctl

# The sample data crosses the default 90 % alert on purpose (to show a LIMIT tile): the demo lists its
# alerts but never puts one about made-up figures on the desktop.
QUIET_ALERTS = {"notify": {"desktop": False}}
DEMO_SETTINGS = {
    "auto_detect": False,
    "accounts": [{"id": "demo", "provider": "demo", "display_name": "Demo (sample data)"}],
    "alerts": QUIET_ALERTS,
}


def register(sub, parents) -> None:
    p = sub.add_parser("demo", parents=parents, help="show the dashboard with sample data",
                       description="Start a separate daemon with the demo provider (sample data, in "
                       "$STATE/demo) and show it; --stop ends that daemon.")
    p.add_argument("--stop", action="store_true", help="stop the demo daemon")
    p.add_argument("--window", choices=("1d", "3d", "7d", "30d", "all"), help="time window")
    p.set_defaults(func=run)


def demo_dir() -> str:
    return os.path.join(paths.state_dir(), "demo")


def prepare() -> str:
    """Create the demo state dir and settings; switch this process (and children) to it."""
    directory = demo_dir()
    paths.ensure_private_dir(directory)
    settings_path = os.path.join(directory, "settings.json")
    try:
        with open(settings_path, encoding="utf-8") as fh:
            current = json.load(fh)
    except (OSError, ValueError):
        current = None
    if not isinstance(current, dict):
        current = dict(DEMO_SETTINGS)
    elif "alerts" not in current:  # written by an older openusage: its alerts would reach the desktop
        current["alerts"] = QUIET_ALERTS
    else:
        current = None  # as it is
    if current is not None:
        with open(settings_path, "w", encoding="utf-8") as fh:
            json.dump(current, fh, indent=2)
    os.environ["OPENUSAGE_STATE_DIR"] = directory
    os.environ.pop("OPENUSAGE_TELEMETRY_SOCKET", None)
    return settings_path


def run(args: argparse.Namespace) -> int:
    settings_path = prepare()
    socket_path = paths.socket_path()
    if args.stop:
        if not client.is_alive(socket_path):
            print("no demo daemon is running")
            return 0
        pid = daemon_ctl.stop(socket_path)
        print(f"demo daemon {pid} stopped")
        return 0
    from openusage.cli import dashboard_cmd

    args.config = settings_path
    args.socket_path = socket_path
    return dashboard_cmd.run(args)
