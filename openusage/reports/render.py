"""Report tables: aligned, fitted to the terminal width (compact when narrow), with a totals row."""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

from openusage.cli.common import render_table

COMPACT_BELOW = 110  # columns


def _n(value: Any) -> str:
    return f"{int(value):,}"


def _usd(value: Any) -> str:
    return f"${value:,.2f}"


def _cells(row: Dict[str, Any], compact: bool) -> List[str]:
    if compact:
        return [_n(row["input_tokens"]), _n(row["output_tokens"]), _n(row["total_tokens"]), _usd(row["cost_usd"])]
    return [_n(row["input_tokens"]), _n(row["output_tokens"]), _n(row["cache_write_tokens"]),
            _n(row["cache_read_tokens"]), _n(row["total_tokens"]), _usd(row["cost_usd"])]


def _token_headers(compact: bool) -> List[str]:
    if compact:
        return ["INPUT", "OUTPUT", "TOTAL", "COST"]
    return ["INPUT", "OUTPUT", "CACHE WRITE", "CACHE READ", "TOTAL TOKENS", "COST (USD)"]


def _models_cell(row: Dict[str, Any], compact: bool) -> str:
    names = [m["model"] for m in row.get("models", [])]
    if compact and len(names) > 1:
        return f"{names[0]} +{len(names) - 1}"
    return ", ".join(names) or "-"


def table(report: Dict[str, Any], kind: str, width: int, breakdown: bool = False) -> str:
    """The report as text for a terminal `width` columns wide."""
    compact = width < COMPACT_BELOW
    key = {"daily": "daily", "weekly": "weekly", "monthly": "monthly", "session": "sessions", "blocks": "blocks"}[kind]
    rows = report.get(key) or []
    if not rows:
        return f"no usage found for this {kind} report"
    lead = _lead_headers(kind, compact)
    headers = lead + ["MODELS"] + _token_headers(compact)
    body: List[Sequence[str]] = []
    for row in rows:
        body.append(_lead_cells(kind, row, compact) + [_models_cell(row, compact)] + _cells(row, compact))
        if breakdown:
            for m in row.get("models", []):
                body.append(["  └ " + m["model"]] + [""] * (len(lead) - 1) + [""] + _cells(m, compact))
    totals = report["totals"]
    body.append(["TOTAL"] + [""] * (len(lead) - 1) + [""] + _cells(totals, compact))
    right = tuple(range(len(lead) + 1, len(headers)))
    return render_table(headers, body, right=right)


def _lead_headers(kind: str, compact: bool) -> List[str]:
    if kind == "session":
        return ["SESSION", "PROJECT"] + ([] if compact else ["LAST ACTIVE", "DURATION"])
    if kind == "blocks":
        return ["BLOCK START", "STATUS"]
    return ["MONTH" if kind == "monthly" else "WEEK OF" if kind == "weekly" else "DATE"]


def _lead_cells(kind: str, row: Dict[str, Any], compact: bool) -> List[str]:
    if kind == "session":
        sid = row["session_id"]
        cells = [sid[:12] + "…" if len(sid) > 13 else sid, row.get("project") or "-"]
        if not compact:
            minutes = row["duration_seconds"] // 60
            cells += [row["last_at"][:16].replace("T", " "), f"{minutes // 60}h {minutes % 60:02d}m"]
        return cells
    if kind == "blocks":
        status = "ACTIVE" if row["is_active"] else "done"
        if row["is_active"]:
            status += f" ({row['projection']['remaining_minutes']}m left)"
        return [row["start"][:16].replace("T", " ") + "Z", status]
    if kind == "monthly":
        return [row["date"][:7]]
    return [row["date"]]


def burn_rate_line(block: Dict[str, Any]) -> str:
    rate = block["burn_rate"]
    proj = block["projection"]
    return (f"active block: {_usd(block['cost_usd'])} so far, {_usd(rate['cost_per_hour'])}/h, "
            f"{rate['tokens_per_minute']:,.0f} tokens/min; projected {_usd(proj['cost_usd'])} "
            f"and {_n(proj['total_tokens'])} tokens by {block['end'][11:16]}Z ({proj['remaining_minutes']}m left)")
