"""Export of the read model: JSON as it is, or CSV that opens cleanly in a spreadsheet."""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Dict

from openusage import config
from openusage.core.snapshot import figure_period, period_label, window_spend
from openusage.daemon import client

DAILY_COLUMNS = ("date", "provider", "account", "currency", "cost", "tokens", "requests", "unpriced_tokens")
# spend_total is the window's spend only; a figure of another period is in its own column, with that period
# (see UsageSnapshot.periods); cost_incomplete and unpriced name what a cost leaves out.
SNAPSHOT_COLUMNS = ("provider", "account", "display_name", "status", "message", "currency", "spend_total",
                    "tokens_input", "tokens_output", "tokens_cache_read", "tokens_cache_write", "tokens_total",
                    "tool_calls", "top_model", "timestamp", "spend_total_period", "spend_cycle", "spend_cycle_period",
                    "spend_lifetime", "tokens_period", "balance_cash", "cost_incomplete", "unpriced")


def read_model(settings: config.Settings, window: str, socket_path: str) -> Dict[str, Any]:
    """From the daemon when one answers, else fetched now in this process."""
    try:
        return client.call_json(socket_path, "POST", "/v1/read-model", {"window": window})
    except client.DaemonUnreachable:
        from openusage import inprocess

        return inprocess.fetch_now(settings, window)


def to_json(model: Dict[str, Any]) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _plain(value: Any) -> Any:
    # No thousands separators, no exponent notation: numbers a spreadsheet reads as numbers.
    # Text that a spreadsheet would run as a formula (a message or a name beginning with = + - @, tab
    # or CR) gets a leading apostrophe, which makes it plain text (OWASP's CSV-injection advice).
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value == value else ""
    return "" if value is None else value


def _period(snap: Dict[str, Any], figure: str) -> str:
    return period_label(figure_period(snap, figure))


def to_csv(model: Dict[str, Any], what: str = "daily") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    snaps = sorted(model.get("snapshots", {}).values(), key=lambda s: (s["provider_id"], s["account_id"]))
    if what == "daily":
        writer.writerow(DAILY_COLUMNS)
        for snap in snaps:
            for point in snap.get("daily") or []:
                writer.writerow([_plain(v) for v in (point["date"], snap["provider_id"], snap["account_id"],
                                                     snap.get("currency") or "USD", point.get("cost"),
                                                     point.get("tokens"), point.get("requests"),
                                                     point.get("unpriced_tokens"))])
    else:
        writer.writerow(SNAPSHOT_COLUMNS)
        for snap in snaps:
            spend = snap.get("spend") or {}
            window_tokens = figure_period(snap, "tokens") is None
            tokens = snap.get("tokens") or {}
            models = snap.get("models") or []
            writer.writerow([_plain(v) for v in (
                snap["provider_id"], snap["account_id"], snap.get("display_name"), snap.get("status"),
                snap.get("message"), snap.get("currency"), window_spend(snap),
                tokens.get("input"), tokens.get("output"), tokens.get("cache_read"), tokens.get("cache_write"),
                tokens.get("total"), snap.get("tool_calls"), models[0]["model"] if models else None,
                snap.get("timestamp"),
                _period(snap, "spend.total") if spend.get("total") is not None else None, spend.get("cycle"),
                _period(snap, "spend.cycle") if spend.get("cycle") is not None else None, spend.get("lifetime"),
                None if window_tokens or not tokens else _period(snap, "tokens"),
                (spend.get("balance") or {}).get("cash"), "true" if spend.get("incomplete") else None,
                "; ".join(f"{u.get('model')} ({u.get('tokens') or 0} tokens)" for u in snap.get("unpriced") or [])
                or None)])
    return out.getvalue()
