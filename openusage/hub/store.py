"""The hub's in-memory view: the latest snapshot batch of every machine, evicted when stale."""
from __future__ import annotations

import re
import threading
import time
from typing import Any, Dict, List, Optional

from openusage.core.schema import MAX_ID, SchemaError, check_snapshot

MAX_SNAPSHOTS_PER_PUSH = 1000
MAX_ALERTS_PER_PUSH = 10000
_ALERT_KEYS = ("rule", "provider_id", "account_id")
_MACHINE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # whole name (fullmatch: "m\n" is refused)


class PushError(ValueError):
    """A push that fails the schema check; nothing of it is stored."""


def validate_push(body: Any) -> Dict[str, Any]:
    """{"machine": NAME, "snapshots": [UsageSnapshot...], "alerts": [...] (optional)} checked whole against
    the snapshot schema (one bad field refuses the push, naming its path); the cleaned batch."""
    if not isinstance(body, dict):
        raise PushError("body must be a JSON object")
    machine = body.get("machine")
    if not isinstance(machine, str) or not _MACHINE.fullmatch(machine):
        raise PushError("machine: 1-128 characters of letters, digits, '.', '_' and '-'")
    snaps = body.get("snapshots")
    if isinstance(snaps, dict):
        snaps = list(snaps.values())
    if not isinstance(snaps, list):
        raise PushError("snapshots: expected an array")
    if len(snaps) > MAX_SNAPSHOTS_PER_PUSH:
        raise PushError(f"snapshots: at most {MAX_SNAPSHOTS_PER_PUSH} per push")
    cleaned = []
    for i, snap in enumerate(snaps):
        try:
            cleaned.append(check_snapshot(snap, f"snapshots[{i}]"))
        except SchemaError as exc:
            raise PushError(str(exc)) from exc
    return {"machine": machine, "snapshots": cleaned, "alerts": _alerts(body.get("alerts"))}


def _alerts(alerts: Any) -> List[Dict[str, Any]]:
    """The optional alert rows of a push: {rule, provider_id, account_id, firing}."""
    if alerts is None:
        return []
    if not isinstance(alerts, list) or len(alerts) > MAX_ALERTS_PER_PUSH:
        raise PushError(f"alerts: expected an array of at most {MAX_ALERTS_PER_PUSH}")
    out = []
    for i, row in enumerate(alerts):
        if not isinstance(row, dict) or not all(_name(row.get(k)) for k in _ALERT_KEYS) \
                or not isinstance(row.get("firing"), bool):
            raise PushError(f"alerts[{i}]: expected {{rule, provider_id, account_id: strings of 1-{MAX_ID} printable "
                            "characters, firing: boolean}}")
        out.append({k: row[k] for k in _ALERT_KEYS + ("firing",)})
    return out


def _name(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID and value.isprintable()


class HubStore:
    def __init__(self, stale_timeout: float = 300.0):
        self.stale_timeout = stale_timeout
        self._lock = threading.Lock()
        self._machines: Dict[str, Dict[str, Any]] = {}  # machine -> {"at": epoch, "snapshots": [...]}

    def push(self, batch: Dict[str, Any], now: Optional[float] = None) -> int:
        """Replace a machine's snapshots with its new batch (accounts it no longer has disappear)."""
        now = time.time() if now is None else now
        with self._lock:
            self._machines[batch["machine"]] = {"at": now, "snapshots": batch["snapshots"],
                                                "alerts": batch.get("alerts") or []}
        return len(batch["snapshots"])

    def evict(self, now: Optional[float] = None) -> List[str]:
        now = time.time() if now is None else now
        with self._lock:
            gone = [m for m, entry in self._machines.items() if now - entry["at"] > self.stale_timeout]
            for machine in gone:
                del self._machines[machine]
        return gone

    def machines(self, now: Optional[float] = None) -> Dict[str, float]:
        """Machine -> time of its last push (after evicting stale ones)."""
        self.evict(now)
        with self._lock:
            return {m: e["at"] for m, e in self._machines.items()}

    def entries(self, now: Optional[float] = None) -> List[tuple]:
        """(machine, snapshot dict) pairs, sorted by key machine:provider:account."""
        self.evict(now)
        with self._lock:
            items = [(m, s) for m, e in self._machines.items() for s in e["snapshots"]]
        return sorted(items, key=lambda ms: (ms[0], ms[1]["provider_id"], ms[1]["account_id"]))

    def alerts(self, now: Optional[float] = None) -> List[tuple]:
        """(machine, alert row) pairs of every live machine."""
        self.evict(now)
        with self._lock:
            return sorted(((m, a) for m, e in self._machines.items() for a in e.get("alerts") or []),
                          key=lambda ma: (ma[0], ma[1]["rule"], ma[1]["provider_id"], ma[1]["account_id"]))

    def view(self, now: Optional[float] = None) -> Dict[str, Any]:
        """The aggregated view: the read-model shape, keyed machine:provider:account."""
        now = time.time() if now is None else now
        snapshots = {}
        for machine, snap in self.entries(now):
            shown = dict(snap, display_name=f"{machine} · {snap.get('display_name') or snap['provider_id']}")
            shown["extras"] = dict(snap.get("extras") or {}, machine=machine)
            snapshots[f"{machine}:{snap['provider_id']}:{snap['account_id']}"] = shown
        machines = {m: {"last_push_age_seconds": round(now - at, 1)} for m, at in self.machines(now).items()}
        return {"window": "hub", "machines": machines, "snapshots": snapshots}
