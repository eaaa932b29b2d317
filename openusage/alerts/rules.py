"""Alert rules as values and their evaluation as pure functions (no clock, no store, no I/O).

A rule turns a snapshot into readings, one per limit (or one per account); `step` moves one reading's
state forward: a rule fires once per crossing, re-arms when the value falls back past its margin or the
window it fired in has reset, and fires at most once per cooldown per rule and account.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from openusage.core.timeutil import to_epoch

DEFAULT_MARGIN_PERCENT = 5.0  # a rate_limit rule re-arms this many points below its threshold
DEFAULT_MARGIN_SHARE = 0.05  # spend and balance rules: this share of the threshold


@dataclass
class Rule:
    """One entry of settings.json `alerts.rules` (validated by openusage.config)."""

    id: str
    when: str
    provider: str = "*"
    account: str = "*"
    limit: str = "*"
    threshold: Optional[float] = None  # used_percent_at_least, at_least_usd or at_most
    window: Optional[str] = None
    before_reset: bool = False
    statuses: Tuple[str, ...] = ()
    for_seconds: float = 0.0
    margin: float = 0.0

    def matches(self, provider_id: str, account_id: str) -> bool:
        return self.provider in ("*", provider_id) and self.account in ("*", account_id)

    def describe(self) -> str:
        """The rule in a few words, for `alerts list`."""
        where = f"{self.provider}" + ("" if self.account == "*" else f"/{self.account}")
        if self.when == "rate_limit":
            return f"{where} limit {self.limit} used >= {_num(self.threshold)} %"
        if self.when == "projected_exhaustion":
            return f"{where} limit {self.limit} runs out" + (" before its reset" if self.before_reset else "")
        if self.when == "spend":
            return f"{where} spend in {self.window} >= {_num(self.threshold)} USD"
        if self.when == "balance":
            return f"{where} balance <= {_num(self.threshold)}"
        return f"{where} status {'/'.join(self.statuses)} for {_num(self.for_seconds)} s"


@dataclass
class Notify:
    """settings.json `alerts.notify`."""

    desktop: bool = True
    command: Optional[List[str]] = None
    command_timeout: float = 10.0
    cooldown: float = 3600.0


@dataclass
class Reading:
    """What one rule sees for one account and limit at one evaluation."""

    rule: str
    provider_id: str
    account_id: str
    limit: str  # "" for rules about a whole account (spend, balance, status)
    value: Optional[float]
    threshold: Optional[float]
    active: bool  # the condition holds
    rearm: bool  # the value is back past the margin
    resets_at: Optional[str] = None
    extra: Optional[Dict[str, Any]] = None

    @property
    def key(self) -> Tuple[str, str, str, str]:
        return (self.rule, self.provider_id, self.account_id, self.limit)


@dataclass
class State:
    """The stored state of one (rule, provider, account, limit); the store keeps one row per key."""

    armed: bool = True
    firing: bool = False
    since: Optional[float] = None  # when the condition began to hold (status rules wait for_seconds)
    fired_at: Optional[float] = None
    resets_at: Optional[str] = None  # the reset time of the window the last alert fired in
    value: Optional[float] = None
    threshold: Optional[float] = None
    seen: bool = True

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def _num(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --- settings -> rules ------------------------------------------------------------------------


def rule_from_dict(raw: Dict[str, Any]) -> Rule:
    """A validated settings entry as a Rule."""
    when = raw["when"]
    threshold = {"rate_limit": raw.get("used_percent_at_least"), "spend": raw.get("at_least_usd"),
                 "balance": raw.get("at_most")}.get(when)
    threshold = None if threshold is None else float(threshold)
    margin = raw.get("rearm_margin")
    if margin is None:
        margin = DEFAULT_MARGIN_PERCENT if when == "rate_limit" else abs(threshold or 0) * DEFAULT_MARGIN_SHARE
    return Rule(id=raw["id"], when=when, provider=raw.get("provider") or "*", account=raw.get("account") or "*",
                limit=raw.get("limit") or "*", threshold=threshold, window=raw.get("window"),
                before_reset=bool(raw.get("before_reset", False)), statuses=tuple(raw.get("status") or ()),
                for_seconds=float(raw.get("for_seconds") or 0), margin=float(margin))


def from_settings(alerts: Optional[Dict[str, Any]]) -> Tuple[List[Rule], Notify]:
    """Rules (enabled ones) and delivery settings from the merged `alerts` section."""
    alerts = alerts or {}
    rules = [rule_from_dict(r) for r in alerts.get("rules") or [] if r.get("enabled", True) is not False]
    n = alerts.get("notify") or {}
    command = n.get("command")
    return rules, Notify(desktop=bool(n.get("desktop", True)), command=list(command) if command else None,
                         command_timeout=float(n.get("command_timeout_seconds") or 10),
                         cooldown=float(3600 if n.get("cooldown_seconds") is None else n["cooldown_seconds"]))


# --- snapshot -> readings ---------------------------------------------------------------------

SpendLookup = Callable[[str, str, str], Tuple[Optional[float], Optional[str]]]


def used_percent(limit: Dict[str, Any]) -> Optional[float]:
    """A rate limit's used share in percent, from whichever fields it has."""
    if limit.get("used_percent") is not None:
        return float(limit["used_percent"])
    size = limit.get("limit")
    if size:
        if limit.get("used") is not None:
            return 100.0 * limit["used"] / size
        if limit.get("remaining") is not None:
            return 100.0 * (size - limit["remaining"]) / size
    return None


def readings(rule: Rule, snap: Dict[str, Any], spend: Optional[SpendLookup] = None) -> List[Reading]:
    """What `rule` sees in one account's snapshot (dict form); spend(provider, account, window) gives
    (the window's spend from the store, the window's end) for spend rules."""
    provider_id, account_id = snap.get("provider_id", ""), snap.get("account_id", "")
    if not rule.matches(provider_id, account_id):
        return []
    base = dict(rule=rule.id, provider_id=provider_id, account_id=account_id)
    if rule.when in ("rate_limit", "projected_exhaustion"):
        out = []
        for name, limit in sorted((snap.get("rate_limits") or {}).items()):
            if rule.limit in ("*", name) and isinstance(limit, dict):
                reading = _limit_reading(rule, base, name, limit)
                if reading is not None:
                    out.append(reading)
        return out
    if rule.when == "spend":
        if spend is None or rule.window is None:
            return []
        value, ends = spend(provider_id, account_id, rule.window)
        return [] if value is None else [_over(rule, base, value, ends)]
    if rule.when == "balance":
        value = balance_total(snap)
        if value is None:
            return []
        assert rule.threshold is not None
        return [Reading(limit="", value=value, threshold=rule.threshold, active=value <= rule.threshold,
                        rearm=value > rule.threshold + rule.margin, **base)]
    status = snap.get("status") or "UNKNOWN"
    active = status in rule.statuses
    return [Reading(limit="", value=None, threshold=rule.for_seconds, active=active, rearm=not active,
                    extra={"status": status, "message": snap.get("message")}, **base)]


def _limit_reading(rule: Rule, base: Dict[str, str], name: str, limit: Dict[str, Any]) -> Optional[Reading]:
    resets_at = limit.get("resets_at")
    if rule.when == "rate_limit":
        value = used_percent(limit)
        return None if value is None else _over(rule, dict(base, limit=name), value, resets_at)
    pace = limit.get("pace")
    if not isinstance(pace, dict):
        return None  # no projection, never fires
    active = pace.get("before_reset") is True if rule.before_reset else pace.get("exhausts_at") is not None
    return Reading(limit=name, value=used_percent(limit), threshold=None, active=active, rearm=not active,
                   resets_at=resets_at, extra={"exhausts_at": pace.get("exhausts_at"),
                                               "rate_percent_per_hour": pace.get("rate_percent_per_hour")},
                   **base)


def _over(rule: Rule, base: Dict[str, str], value: float, resets_at: Optional[str]) -> Reading:
    assert rule.threshold is not None
    fields = dict(base)
    fields.setdefault("limit", "")
    return Reading(value=round(value, 6), threshold=rule.threshold, active=value >= rule.threshold,
                   rearm=value < rule.threshold - rule.margin, resets_at=resets_at, **fields)


def balance_total(snap: Dict[str, Any]) -> Optional[float]:
    """Cash + voucher + granted of spend.balance, or None when the snapshot has no balance."""
    balance = (snap.get("spend") or {}).get("balance") or {}
    parts = [balance.get(k) for k in ("cash", "voucher", "granted") if balance.get(k) is not None]
    return float(sum(parts)) if parts else None


# --- one step of a reading's state ------------------------------------------------------------


def step(reading: Reading, old: Optional[State], now: float, rule: Rule, cooldown: float,
         last_fired: Optional[float]) -> Tuple[State, bool]:
    """The new state of a reading's key and whether an alert fires now.

    last_fired: the latest firing of this rule for this account (any limit): the cooldown's start.
    """
    state = dataclasses.replace(old) if old is not None else State()
    if not state.armed:
        reset = to_epoch(state.resets_at) if state.resets_at else None
        if reading.rearm or (reset is not None and now >= reset):
            state.armed, state.firing = True, False
    if not reading.active:
        state.since = None
        state.firing = False
        return state, False
    if state.since is None:
        state.since = now
    if not state.armed:
        state.firing = True
        return state, False
    if now - state.since < rule.for_seconds:
        return state, False
    if last_fired is not None and now - last_fired < cooldown:
        # Firing (for /metrics) but not notified; stays armed: notifies once the cooldown is over if
        # the condition still holds then.
        state.firing = True
        return state, False
    state.armed, state.firing, state.fired_at, state.seen = False, True, now, False
    state.resets_at, state.value, state.threshold = reading.resets_at, reading.value, reading.threshold
    return state, True
