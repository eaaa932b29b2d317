"""Prometheus text exposition (format 0.0.4) of snapshots, for the hub and the daemon.

One snapshot that is not what the schema says (the hub checks pushes, but a render must not trust
that) is left out whole; it never stops the others from being rendered.
"""
from __future__ import annotations

import logging
import math
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

from openusage.core.snapshot import STATUSES, figure_period
from openusage.core.timeutil import to_epoch

Labels = Dict[str, str]

log = logging.getLogger("openusage.metrics")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def _finite(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {type(value).__name__}")
    number = float(value)  # OverflowError past a float's range
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _value(v: float) -> str:
    if v != v:  # NaN
        return "NaN"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


class _Family:
    def __init__(self, name: str, kind: str, help_text: str):
        self.name, self.kind, self.help = name, kind, help_text
        self.samples: List[Tuple[Labels, float]] = []

    def add(self, labels: Labels, value: Optional[float]) -> None:
        if value is not None:
            self.samples.append((labels, _finite(value)))

    def render(self) -> List[str]:
        if not self.samples:
            return []
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        lines += [f"{self.name}{_labels(lab)} {_value(v)}" for lab, v in self.samples]
        return lines


def _period_labels(period: Dict[str, Any]) -> Labels:
    """period=<kind>, and since=<first day> where known (stable for the whole period, unlike its end)."""
    labels = {"period": str(period.get("kind") or "")}
    if period.get("start"):
        labels["since"] = str(period["start"])[:10]
    return labels


def render(entries: Iterable[Tuple[Optional[str], Dict[str, Any]]], pushes: Optional[Dict[str, float]] = None,
           now: Optional[float] = None, alerts: Iterable[Tuple[Optional[str], Dict[str, Any]]] = ()) -> str:
    """Metrics for (machine or None, snapshot dict) pairs, for the hub the last push time per machine, and
    (machine or None, {rule, provider_id, account_id, firing}) alert pairs."""
    now = time.time() if now is None else now
    fam = {
        "spend": _Family("openusage_spend", "gauge", "Spend in the window, native currency."),
        "period_spend": _Family("openusage_period_spend", "gauge",
                                "Spend of a period that is not the window (label period: month_to_date, cycle, "
                                "lifetime, days; since: its first day), native currency."),
        "period_tokens": _Family("openusage_period_tokens", "gauge",
                                 "Tokens of a period that is not the window, by kind."),
        "unpriced": _Family("openusage_unpriced_tokens", "gauge",
                            "Tokens in the window of a model without a price: the spend leaves them out."),
        "balance": _Family("openusage_balance", "gauge", "Balance left, native currency."),
        "tokens": _Family("openusage_tokens", "gauge", "Tokens in the window by kind."),
        "used": _Family("openusage_rate_limit_used_percent", "gauge", "Share of a rate limit or quota used."),
        "remaining": _Family("openusage_rate_limit_remaining", "gauge", "Remaining units of a rate limit."),
        "reset": _Family("openusage_rate_limit_resets_at_seconds", "gauge", "Unix time a rate limit resets."),
        "pace": _Family("openusage_rate_limit_pace_percent_per_hour", "gauge",
                        "Pace of a plan window: percent used per hour, averaged over the current window."),
        "exhausts": _Family("openusage_rate_limit_exhausts_at_seconds", "gauge",
                            "Unix time a plan window reaches 100 % at its pace (absent: not at this pace)."),
        "before": _Family("openusage_rate_limit_exhausts_before_reset", "gauge",
                          "1 when a plan window reaches 100 % at its pace before it resets."),
        "observed": _Family("openusage_rate_limit_observed_at_seconds", "gauge",
                            "Unix time a plan window's reading was taken, by source."),
        "status": _Family("openusage_status", "gauge", "1 for the account's current status."),
        "push": _Family("openusage_last_push_age_seconds", "gauge", "Seconds since a machine last pushed."),
        "alert": _Family("openusage_alert_firing", "gauge", "1 while an alert rule fires for an account."),
    }
    for machine, snap in entries:
        scratch = {name: _Family(f.name, f.kind, f.help) for name, f in fam.items()}
        try:
            _add_snapshot(scratch, machine, snap)
        except (AttributeError, TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            log.warning("metrics: left out a snapshot of %s that does not fit the schema (%s)",
                        machine or "this machine", type(exc).__name__)
            continue
        for name, family in scratch.items():
            fam[name].samples += family.samples
    for machine, alert in alerts:
        labels: Labels = {"machine": machine} if machine else {}
        labels.update(rule=alert["rule"], provider=alert["provider_id"], account=alert["account_id"])
        fam["alert"].add(labels, 1 if alert.get("firing") else 0)
    for machine, pushed_at in sorted((pushes or {}).items()):
        fam["push"].add({"machine": machine}, round(now - pushed_at, 3))
    lines: List[str] = []
    for family in fam.values():
        lines += family.render()
    return "\n".join(lines) + "\n"


def _add_snapshot(fam: Dict[str, _Family], machine: Optional[str], snap: Dict[str, Any]) -> None:
    base: Labels = {"machine": machine} if machine else {}
    base.update(provider=str(snap.get("provider_id", "")), account=str(snap.get("account_id", "")))
    currency = str(snap.get("currency") or "USD")
    spend = snap.get("spend") or {}
    for figure in ("total", "cycle", "lifetime"):
        period = figure_period(snap, f"spend.{figure}")
        if period is None and figure == "total":
            fam["spend"].add(dict(base, currency=currency), spend.get("total"))
        elif period is not None:
            fam["period_spend"].add(dict(base, currency=currency, **_period_labels(period)), spend.get(figure))
    tokens_period = figure_period(snap, "tokens")
    for kind, count in (snap.get("tokens") or {}).items():
        if tokens_period is None:
            fam["tokens"].add(dict(base, kind=kind), count)
        else:
            fam["period_tokens"].add(dict(base, kind=kind, **_period_labels(tokens_period)), count)
    for entry in snap.get("unpriced") or []:
        fam["unpriced"].add(dict(base, model=str(entry.get("model", ""))), entry.get("tokens"))
    for kind, amount in (spend.get("balance") or {}).items():
        fam["balance"].add(dict(base, currency=currency, kind=kind), amount)
    for name, limit in (snap.get("rate_limits") or {}).items():
        labels = dict(base, limit=name)
        used = limit.get("used_percent")
        if used is None and limit.get("limit"):
            if limit.get("used") is not None:
                used = 100.0 * limit["used"] / limit["limit"]
            elif limit.get("remaining") is not None:
                used = 100.0 * (limit["limit"] - limit["remaining"]) / limit["limit"]
        fam["used"].add(labels, used)
        fam["remaining"].add(labels, limit.get("remaining"))
        fam["reset"].add(labels, to_epoch(limit.get("resets_at")) if limit.get("resets_at") else None)
        pace = limit.get("pace") if isinstance(limit.get("pace"), dict) else None
        if pace:
            fam["pace"].add(labels, pace.get("rate_percent_per_hour"))
            fam["exhausts"].add(labels, to_epoch(pace["exhausts_at"]) if pace.get("exhausts_at") else None)
            fam["before"].add(labels, 1 if pace.get("before_reset") else 0)
        if limit.get("observed_at") and limit.get("source"):
            fam["observed"].add(dict(labels, source=str(limit["source"])), to_epoch(limit["observed_at"]))
    current = snap.get("status") or "UNKNOWN"
    for status in STATUSES:
        fam["status"].add(dict(base, status=status), 1 if status == current else 0)
