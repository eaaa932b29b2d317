"""The exporter: inside the daemon, push the latest snapshot batch to a hub, best effort.

Never sends secrets, raw payloads or file paths: snapshots are the read model's, with path-like
extras removed; the Bearer token comes from OPENUSAGE_HUB_TOKEN in the daemon's environment.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any, Callable, Dict, List, Optional

from openusage.core import redact

log = logging.getLogger("openusage.exporter")

MAX_BACKOFF = 900.0


def machine_name(configured: Optional[str]) -> str:
    return configured or socket.gethostname().split(".")[0] or "machine"


def _path_like(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith(("/", "~")) or (len(value) > 2 and value[1:3] == ":\\"))


def sanitize(snapshot: Dict[str, Any]) -> Dict[str, Any]:
    """A copy fit to leave the machine: no path-like extras, every string masked."""
    out = redact.mask_tree(snapshot)
    extras = out.get("extras")
    if isinstance(extras, dict):
        clean = {}
        for key, value in extras.items():
            if _path_like(value):
                continue
            if isinstance(value, list):
                value = [v for v in value if not _path_like(v)]
            clean[key] = value
        out["extras"] = clean
    return out


class Exporter(threading.Thread):
    def __init__(self, target: str, interval: float, machine: str, read_model: Callable[[], Dict[str, Any]],
                 stop: threading.Event, token: Optional[str] = None,
                 ready: Optional[Callable[[], bool]] = None,
                 alerts: Optional[Callable[[], List[Dict[str, Any]]]] = None):
        super().__init__(name="exporter", daemon=True)
        self.url = target.rstrip("/") + "/v1/push"
        self.interval = interval
        self.machine = machine
        self.read_model = read_model
        self.stop_event = stop
        self.token = token if token is not None else os.environ.get("OPENUSAGE_HUB_TOKEN")
        redact.remember(self.token)
        self.failures = 0
        self.last_ok: Optional[float] = None
        self._session = None
        self.ready = ready
        self.alerts = alerts  # the alert service's firing(): rows for openusage_alert_firing on the hub

    def run(self) -> None:
        # The first push waits (bounded) for the first poll, so the hub never shows empty tiles.
        for _ in range(100):
            if self.ready is None or self.ready() or self.stop_event.wait(0.1):
                break
        wait = 0.0
        while not self.stop_event.wait(wait):
            wait = self.push_once()

    def push_once(self) -> float:
        """One push; the seconds to wait before the next."""
        import requests

        if self._session is None:
            self._session = requests.Session()
        body = {"machine": self.machine,
                "snapshots": [sanitize(s) for s in self.read_model()["snapshots"].values()]}
        if self.alerts is not None:
            body["alerts"] = self.alerts()
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            resp = self._session.post(self.url, json=body, headers=headers, timeout=15)
            if resp.status_code != 200:
                raise RuntimeError(f"hub answered {resp.status_code}")
        except Exception as exc:
            self.failures += 1
            delay = min(self.interval * (2 ** min(self.failures, 8)), MAX_BACKOFF)
            log.warning("export to %s failed (%s); next try in %.0fs", self.url, _short(exc), delay)
            return delay
        import time

        self.failures = 0
        self.last_ok = time.time()
        return self.interval


def _short(exc: BaseException) -> str:
    return redact.clip(f"{type(exc).__name__}: {exc}", 160)
