"""A snapshot's figures as plain text cells: the dashboard's plain table, `openusage list` and hub-view."""
from __future__ import annotations

from typing import Any, Dict, List

from openusage.core.snapshot import figure_period, period_label


def money(amount: Any, currency: str = "USD") -> str:
    if amount is None:
        return "-"
    if currency == "USD":
        return f"${amount:,.2f}"
    return f"{amount:,.2f} {currency}"


def compact(n: Any) -> str:
    """12345678 -> 12.3M"""
    if n is None:
        return "-"
    n = float(n)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def spend_cell(snap: Dict[str, Any]) -> str:
    """The window's spend; when that is unknown, the cycle's or the lifetime's with its period; a spend
    of whole provider days says which, and one that leaves out unpriced models is marked '+'."""
    spend = snap.get("spend") or {}
    currency = snap.get("currency") or "USD"
    for figure in ("total", "cycle", "lifetime"):
        if spend.get(figure) is not None:
            period = figure_period(snap, f"spend.{figure}")
            text = money(spend[figure], currency) + ("+" if spend.get("incomplete") and figure == "total" else "")
            return text + (f" ({period_label(period)})" if period else "")
    return "-"


def snapshot_row(snap: Dict[str, Any]) -> List[str]:
    tokens = (snap.get("tokens") or {}).get("total")
    period = figure_period(snap, "tokens")
    models = snap.get("models") or []
    top = models[0]["model"] if models else "-"
    return [
        snap.get("display_name") or snap["provider_id"],
        snap["account_id"],
        snap.get("status") or "UNKNOWN",
        spend_cell(snap),
        compact(tokens) + (f" ({period_label(period)})" if period and tokens is not None else ""),
        top,
    ]
