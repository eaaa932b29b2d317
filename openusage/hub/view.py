"""Reading a hub: the aggregated snapshots over HTTP, as a table or as a dashboard data source."""
from __future__ import annotations

import os
from typing import Any, Dict, Optional

from openusage.console import render_table
from openusage.core import redact
from openusage.core.printable import printable
from openusage.core.schema import SchemaError, check_snapshot
from openusage.snapshot_cells import snapshot_row


class HubUnreachable(Exception):
    pass


class HubSource:
    """A dashboard data source reading GET /v1/snapshots of a hub."""

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("OPENUSAGE_HUB_TOKEN")
        redact.remember(self.token)
        self.timeout = timeout
        self._session = None
        self.last_count = 0
        self.left_out = 0  # snapshots of the last answer that failed the schema

    def fetch(self, window: Optional[str] = None) -> Dict[str, Any]:
        import requests

        if self._session is None:
            self._session = requests.Session()
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            resp = self._session.get(self.url + "/v1/snapshots", headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise HubUnreachable(f"hub {self.url} unreachable: {type(exc).__name__}") from exc
        if resp.status_code == 401:
            raise HubUnreachable(f"hub {self.url} refused the token (401): set OPENUSAGE_HUB_TOKEN")
        if resp.status_code != 200:
            raise HubUnreachable(f"hub {self.url} answered {resp.status_code}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise HubUnreachable(f"hub {self.url} answered with something that is not JSON") from exc
        view = checked_view(data)
        if view is None:
            raise HubUnreachable(f"hub {self.url} answered with something that is not a hub view")
        self.last_count = len(view["snapshots"])
        self.left_out = len(data["snapshots"]) - self.last_count
        return view

    def refresh(self, provider: Optional[str] = None) -> None:
        """A hub is read-only: refreshing means reading it again."""

    def describe(self) -> str:
        skipped = f" ({self.left_out} malformed left out)" if self.left_out else ""
        return f"hub {self.url} · {self.last_count} machine snapshots{skipped}"


def checked_view(data: Any) -> Optional[Dict[str, Any]]:
    """A hub's /v1/snapshots answer with every snapshot checked against the schema: one that fails is left
    out (a hub of another version, or one that stored something bad, breaks no view); None when the
    answer is not a view at all."""
    if not isinstance(data, dict) or not isinstance(data.get("snapshots"), dict):
        return None
    snapshots = {}
    for key, snap in data["snapshots"].items():
        try:
            snapshots[key] = check_snapshot(snap)
        except SchemaError:
            continue
    machines = data.get("machines")
    return dict(data, snapshots=snapshots, machines=machines if isinstance(machines, dict) else {})


def format_hub_table(view: Dict[str, Any], url: str) -> str:
    snaps = view.get("snapshots") or {}
    machines = view.get("machines") or {}
    header = printable(f"hub {url} · {len(snaps)} machine snapshots from {len(machines)} machine(s)")
    if not snaps:
        return header + "\nno snapshots yet: point a daemon's export.target at this hub"
    rows = []
    for key in sorted(snaps):
        snap = snaps[key]
        machine = (snap.get("extras") or {}).get("machine") or key.split(":", 1)[0]
        row = snapshot_row(snap)
        row[0] = snap.get("display_name", "").split(" · ", 1)[-1] or row[0]
        rows.append([machine] + row)
    table = render_table(["MACHINE", "PROVIDER", "ACCOUNT", "STATUS", "SPEND", "TOKENS", "TOP MODEL"], rows,
                         right=(4, 5))
    return header + "\n" + table
