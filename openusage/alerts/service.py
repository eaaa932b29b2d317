"""The daemon's alert service: evaluates the rules after each poll and each hook batch, keeps the state
in the store and delivers what fires.

Work arrives as account keys (the daemon calls `request`); one thread coalesces them, waits for the
writes they follow to commit, evaluates, commits the new state and only then delivers, so a daemon
that stops mid-delivery never repeats an alert. Every account is also evaluated once a minute (status
rules wait `for_seconds`; a window may reset between polls).
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from openusage.alerts import deliver
from openusage.alerts import rules as rules_mod
from openusage.alerts import state as state_mod
from openusage.alerts.rules import Notify, Reading, Rule, State
from openusage.core.snapshot import UsageSnapshot
from openusage.core.timeutil import format_rfc3339, to_epoch

log = logging.getLogger("openusage.alerts")

PERIODIC = 60.0
COALESCE = 0.2  # seconds the thread waits for more requests after the first
RECENT = 50  # fired alerts kept in memory for GET /v1/alerts

Account = Tuple[str, str]


class AlertService(threading.Thread):
    def __init__(self, writer: Any, connect: Callable[[], Any], release: Callable[[Any], None],
                 alerts_settings: Optional[Dict[str, Any]], stop: threading.Event, warn_threshold: float = 0.20):
        super().__init__(name="alerts", daemon=True)
        self.writer = writer
        self._connect, self._release = connect, release
        self.stop_event = stop
        self.rules: List[Rule] = []
        self.notify = Notify()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pending: Set[Account] = set()
        self._tickets: List[Any] = []
        self._all = True  # the first pass looks at every account
        self.states: Dict[state_mod.Key, State] = {}
        self.recent: List[Dict[str, Any]] = []
        self.evaluations = 0
        self._busy = False
        self.warn_threshold = warn_threshold  # ui.warn_threshold: the read model's plan-window status
        self.configure(alerts_settings)

    # --- configuration -----------------------------------------------------------------------

    def configure(self, alerts_settings: Optional[Dict[str, Any]], warn_threshold: Optional[float] = None) -> None:
        """Take (new) rules and delivery settings; the state of removed rules is dropped."""
        rules, notify = rules_mod.from_settings(alerts_settings)
        with self._lock:
            self.rules, self.notify = rules, notify
            if warn_threshold is not None:
                self.warn_threshold = warn_threshold
            self.states = {k: s for k, s in self.states.items() if k[0] in {r.id for r in rules}}
        self.request()

    def load(self) -> None:
        """Read the stored state (at start, before the first evaluation)."""
        conn = self._connect()
        try:
            stored = state_mod.load(conn)
        finally:
            self._release(conn)
        with self._lock:
            keep = {r.id for r in self.rules}
            self.states = {k: s for k, s in stored.items() if k[0] in keep}
        if len(stored) != len(self.states):
            self.writer.submit_call(lambda c: state_mod.forget_rules(c, keep)).wait(60)

    # --- requests ----------------------------------------------------------------------------

    def request(self, accounts: Optional[Iterable[Account]] = None, ticket: Any = None) -> None:
        """Evaluate these accounts (None: every account) once `ticket`'s write has committed."""
        with self._lock:
            if accounts is None:
                self._all = True
            else:
                self._pending.update(accounts)
            if ticket is not None:
                self._tickets.append(ticket)
        self._wake.set()

    def run(self) -> None:
        last_all = 0.0
        while not self.stop_event.is_set():
            woke = self._wake.wait(max(0.0, last_all + PERIODIC - time.monotonic()))
            if self.stop_event.is_set():
                return
            if woke:
                self.stop_event.wait(COALESCE)
            self._wake.clear()
            with self._lock:
                everything = self._all or time.monotonic() - last_all >= PERIODIC
                pending, tickets = set(self._pending), self._tickets
                self._pending, self._tickets, self._all = set(), [], False
                self._busy = True
            for ticket in tickets:
                try:
                    ticket.wait(60)
                except Exception:  # a failed write is the writer's to report; evaluate what is stored
                    pass
            if everything:
                last_all = time.monotonic()
            try:
                self.evaluate(None if everything else pending)
            except Exception:
                log.exception("alert evaluation failed")
            finally:
                with self._lock:
                    self._busy = False

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread (the stop event is set): a delivery under way gets `timeout` to finish; the
        state of what it delivers is committed already."""
        self._wake.set()
        if self.is_alive():
            self.join(timeout)

    def idle(self) -> bool:
        """Nothing asked for and nothing under way."""
        with self._lock:
            return not (self._busy or self._pending or self._tickets or self._all or self._wake.is_set())

    # --- evaluation --------------------------------------------------------------------------

    def evaluate(self, accounts: Optional[Set[Account]] = None, now: Optional[float] = None) -> List[Dict[str, Any]]:
        """Evaluate the rules for these accounts (None: all); the alerts that fired, delivered."""
        now = time.time() if now is None else now
        with self._lock:
            rules, notify = list(self.rules), self.notify
        if not rules:
            return []
        conn = self._connect()
        try:
            snaps = _snapshots(conn, accounts, now, self.warn_threshold)
            spend = _spend_lookup(conn, now)
            changed, fired = self._step_all(rules, snaps, spend, notify.cooldown, now)
        finally:
            self._release(conn)
        self.evaluations += 1
        if changed:
            self.writer.submit_call(lambda c: state_mod.save(c, changed, now)).wait(60)
        for alert in fired:  # after the state is durable: a restart never repeats these
            outcomes = deliver.deliver(alert, notify)
            alert["delivered"] = [o.to_dict() for o in outcomes]
        with self._lock:
            self.recent = (fired[::-1] + self.recent)[:RECENT]
        return fired

    def _step_all(self, rules: List[Rule], snaps: List[Dict[str, Any]], spend: rules_mod.SpendLookup,
                  cooldown: float, now: float) -> Tuple[Dict[state_mod.Key, State], List[Dict[str, Any]]]:
        changed: Dict[state_mod.Key, State] = {}
        fired: List[Dict[str, Any]] = []
        with self._lock:
            for rule in rules:
                for snap in snaps:
                    for reading in rules_mod.readings(rule, snap, spend):
                        old = self.states.get(reading.key)
                        new, fires = rules_mod.step(reading, old, now, rule, cooldown,
                                                    self._last_fired(rule.id, reading.provider_id, reading.account_id))
                        if new != old:
                            self.states[reading.key] = changed[reading.key] = new
                        if fires:
                            fired.append(make_alert(rule, reading, snap, now))
        return changed, fired

    def _last_fired(self, rule: str, provider_id: str, account_id: str) -> Optional[float]:
        times = [s.fired_at for k, s in self.states.items()
                 if k[:3] == (rule, provider_id, account_id) and s.fired_at is not None]
        return max(times) if times else None

    # --- views and actions -------------------------------------------------------------------

    def view(self) -> Dict[str, Any]:
        """GET /v1/alerts: rules, every key that has fired, the unseen count, recent alerts."""
        with self._lock:
            rules, notify = list(self.rules), self.notify
            states = sorted(self.states.items())
            recent = list(self.recent)
        program = deliver.desktop_program()
        alerts = [dict(rule=k[0], provider_id=k[1], account_id=k[2], limit=k[3], firing=s.firing, armed=s.armed,
                       seen=s.seen, value=s.value, threshold=s.threshold, resets_at=s.resets_at,
                       fired_at=format_rfc3339(s.fired_at) if s.fired_at else None)
                  for k, s in states if s.fired_at is not None]
        return {
            "rules": [{"id": r.id, "when": r.when, "description": r.describe()} for r in rules],
            "notify": {"desktop": notify.desktop, "desktop_program": program[0] if program else None,
                       "command": notify.command, "command_timeout_seconds": notify.command_timeout,
                       "cooldown_seconds": notify.cooldown},
            "alerts": alerts,
            "unseen": sum(1 for a in alerts if not a["seen"]),
            "recent": recent,
            "evaluations": self.evaluations,
        }

    def firing(self) -> List[Dict[str, Any]]:
        """One entry per (rule, provider, account) with state: firing true when any of its limits is."""
        out: Dict[Tuple[str, str, str], bool] = {}
        with self._lock:
            for key, s in self.states.items():
                out[key[:3]] = out.get(key[:3], False) or s.firing
        return [{"rule": k[0], "provider_id": k[1], "account_id": k[2], "firing": v} for k, v in sorted(out.items())]

    def mark_seen(self, provider_id: Optional[str] = None, account_id: Optional[str] = None) -> int:
        changed: Dict[state_mod.Key, State] = {}
        with self._lock:
            for key, s in self.states.items():
                if not s.seen and provider_id in (None, key[1]) and account_id in (None, key[2]):
                    s.seen = True
                    changed[key] = s
        if changed:
            self.writer.submit_call(lambda c: state_mod.mark_seen(c, provider_id, account_id)).wait(60)
        return len(changed)

    def test(self, rule_id: Optional[str] = None, to_log: bool = True) -> Dict[str, Any]:
        """Send a sample alert through every configured channel; what each did."""
        with self._lock:
            rules, notify = list(self.rules), self.notify
        rule = next((r for r in rules if r.id == rule_id), None) if rule_id else (rules[0] if rules else None)
        if rule_id and rule is None:
            raise KeyError(rule_id)
        alert = sample_alert(rule, time.time())
        return {"alert": alert, "delivered": [o.to_dict() for o in deliver.deliver(alert, notify, to_log)]}


# --- helpers ------------------------------------------------------------------------------------


def _snapshots(conn: sqlite3.Connection, accounts: Optional[Set[Account]], now: float,
               warn_threshold: float) -> List[Dict[str, Any]]:
    """Each account's live values as the read model shows them: its stored snapshot with the pace and
    status of its plan windows (a bare identity for accounts with events only)."""
    from openusage.store import limits

    out: Dict[Account, Dict[str, Any]] = {}
    rows = conn.execute("SELECT provider_id, account_id, body FROM snapshots").fetchall()
    for provider_id, account_id, body in rows:
        if accounts is None or (provider_id, account_id) in accounts:
            try:
                snap = UsageSnapshot.from_dict(json.loads(body))
            except (ValueError, TypeError):
                continue
            limits.decorate(conn, snap, now, warn_threshold)
            out[(provider_id, account_id)] = snap.to_dict()
    for key in accounts or ():
        out.setdefault(key, {"provider_id": key[0], "account_id": key[1]})
    return [out[k] for k in sorted(out)]


def _spend_lookup(conn: sqlite3.Connection, now: float) -> rules_mod.SpendLookup:
    """Spend of a window from the store (the read model's sum), never a provider figure of another period."""
    from openusage.core.windows import next_local_midnight
    from openusage.store import readmodel

    cache: Dict[str, Any] = {}

    def lookup(provider_id: str, account_id: str, window: str) -> Tuple[Optional[float], Optional[str]]:
        rng = cache.get(window) or cache.setdefault(window, readmodel.WindowRange(window, now))
        agg = readmodel.aggregate(conn, provider_id, account_id, rng)
        if agg.empty():
            return None, None
        total = sum(v[5] for v in agg.models.values())
        ends = format_rfc3339(next_local_midnight(now)) if window == "1d" else None
        return round(total, 6), ends

    return lookup


def _message(rule: Rule, reading: Reading, snap: Dict[str, Any]) -> str:
    value = reading.value
    if rule.when == "rate_limit":
        return f"{reading.limit} at {value:.0f} % used (alert at {rule.threshold:g} %)"
    if rule.when == "projected_exhaustion":
        at = to_epoch((reading.extra or {}).get("exhausts_at"))
        when = time.strftime("%a %H:%M", time.localtime(at)) if at else "soon"
        return f"{reading.limit} projected to run out {when}" + (" before its reset" if rule.before_reset else "")
    if rule.when == "spend":
        return f"spend in {rule.window}: {value:.2f} USD (budget {rule.threshold:g} USD)"
    if rule.when == "balance":
        return f"balance {value:.2f} {snap.get('currency') or ''}".rstrip() + f" (alert at {rule.threshold:g})"
    extra = reading.extra or {}
    text = f"status {extra.get('status')}"
    return text + (f": {extra['message']}" if extra.get("message") else "")


def make_alert(rule: Rule, reading: Reading, snap: Dict[str, Any], now: float) -> Dict[str, Any]:
    """The alert as delivered: the fields a command gets on stdin, and what the notification says."""
    alert = {"rule": rule.id, "when": rule.when, "provider_id": reading.provider_id,
             "account_id": reading.account_id, "display_name": snap.get("display_name"),
             "limit": reading.limit or None, "value": reading.value, "threshold": reading.threshold,
             "resets_at": reading.resets_at, "fired_at": format_rfc3339(now),
             "message": _message(rule, reading, snap)}
    for key, value in (reading.extra or {}).items():
        if value is not None and key != "message":
            alert[key] = value
    return alert


def sample_alert(rule: Optional[Rule], now: float) -> Dict[str, Any]:
    """What `openusage alerts test` sends: a made-up reading of the rule, marked test."""
    kind = rule.when if rule else "rate_limit"
    threshold = rule.threshold if rule and rule.threshold is not None else 90.0
    reading = Reading(rule=rule.id if rule else "test", provider_id="demo", account_id="demo",
                      limit="5h" if kind in ("rate_limit", "projected_exhaustion") else "",
                      value=threshold, threshold=threshold, active=True, rearm=False,
                      resets_at=format_rfc3339(now + 3600),
                      extra={"status": "ERR", "exhausts_at": format_rfc3339(now + 1800)})
    sample_rule = rule or Rule(id="test", when="rate_limit", threshold=threshold)
    alert = make_alert(sample_rule, reading, {"display_name": "openusage test", "currency": "USD"}, now)
    alert["test"] = True
    alert["message"] = "test alert: " + alert["message"]
    return alert
