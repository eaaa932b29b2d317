"""`openusage pricing MODEL...`: show the offline price table's entry for model names (DESIGN section 10)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional

from openusage.core import pricing

UNIT = "USD per million tokens"

# (JSON key, column heading, Price attribute at base rate, Price attribute above 200k)
_COLUMNS = (
    ("input", "input", "input", "input_above_200k"),
    ("output", "output", "output", "output_above_200k"),
    ("cache_write_5m", "cache write 5m", "cache_write_5m", "cache_write_5m_above_200k"),
    ("cache_write_1h", "cache write 1h", "cache_write_1h", "cache_write_1h_above_200k"),
    ("cache_read", "cache read", "cache_read", "cache_read_above_200k"),
)


def register(sub: Any, parents: List[argparse.ArgumentParser]) -> None:
    """Add the `pricing` command to the top-level subparsers."""
    p = sub.add_parser(
        "pricing",
        parents=parents,
        help="show model prices from the offline price table",
        description=(
            "Look model names up in the offline price table and print what they matched and their "
            f"prices ({UNIT}), including the above-200k tier where the model has one. Names are "
            "matched case-insensitively, with provider prefixes (anthropic/, bedrock and vertex forms), "
            "dates and known aliases resolved. Exits 1 if any model has no price."
        ),
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help="model name as a tool logs it")
    p.set_defaults(func=run, uses=("--json",))  # the embedded table: no settings, daemon or plugins


def run(args: argparse.Namespace) -> int:
    """Print the price entries for args.models; 1 if any is unknown or the table cannot be read."""
    try:
        date, source = pricing.table_date(), pricing.table_source()
        found: List[pricing.Resolution] = []
        unknown: List[str] = []
        for name in args.models:
            res = pricing.resolve(name)
            if res is None:
                unknown.append(name)
            else:
                found.append(res)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # A missing or damaged package data file; say so instead of a traceback.
        print(f"openusage: cannot read the price table: {exc}", file=sys.stderr)
        return 1

    if getattr(args, "json", False):
        doc = {
            "table": {"date": date, "source": source, "unit": UNIT},
            "models": [_as_dict(res) for res in found],
            "unknown": unknown,
        }
        json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        blocks = [_as_text(res) for res in found]
        if blocks:
            sys.stdout.write("\n\n".join(blocks) + "\n\n")
            sys.stdout.write(f"Prices in {UNIT}; price table of {date}, {source}.\n")
    for name in unknown:
        print(f"openusage: no price for model {name!r} (price table of {date})", file=sys.stderr)
    return 1 if unknown else 0


def charged_kinds(res: pricing.Resolution) -> List[str]:
    """The token kinds the model's provider bills (keys of _COLUMNS).

    Only Anthropic bills cache writes (Claude, also through Bedrock or Vertex); OpenAI, Google,
    xAI, DeepSeek and the rest bill cached input as a cheaper read and report no writes, so the
    table's write prices for their models would never be charged. A read is billed where the
    table has a price for it.
    """
    kinds = ["input", "output"]
    if "claude" in res.model_id.lower():
        kinds += ["cache_write_5m", "cache_write_1h"]
    if res.price.cache_read:
        kinds.append("cache_read")
    return kinds


def _tier_values(res: pricing.Resolution, above: bool) -> Dict[str, Optional[float]]:
    price = res.price
    charged = charged_kinds(res)
    values: Dict[str, Optional[float]] = {}
    for key, _heading, base_attr, above_attr in _COLUMNS:
        if key not in charged:
            continue
        value = getattr(price, above_attr if above else base_attr)
        if above and value is None:
            # A tier rate the table lacks is billed at the base rate; show what will be charged.
            value = getattr(price, base_attr)
        values[key] = value
    return values


def _as_dict(res: pricing.Resolution) -> Dict[str, Any]:
    price = res.price
    doc: Dict[str, Any] = {
        "requested": res.requested,
        "model_id": res.model_id,
        "how": res.how,
        "prices": _tier_values(res, above=False),
        "prices_above_200k": _tier_values(res, above=True) if price.tiered else None,
    }
    if price.fast_multiplier is not None:
        doc["fast_multiplier"] = price.fast_multiplier
    return doc


def _fmt(value: Optional[float]) -> str:
    """At least two decimals, more only where the price has them (0.08, 0.0035, 22.50)."""
    if value is None:
        return "-"
    text = f"{value:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _as_text(res: pricing.Resolution) -> str:
    price = res.price
    charged = charged_kinds(res)
    rows = [["tier"] + [heading for key, heading, _b, _a in _COLUMNS if key in charged]]
    rows.append(["base"] + [_fmt(v) for v in _tier_values(res, above=False).values()])
    if price.tiered:
        rows.append(["above 200k"] + [_fmt(v) for v in _tier_values(res, above=True).values()])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"{res.requested} -> {res.model_id} ({res.how})"]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(widths[i]) for i, cell in enumerate(row) if i]
        lines.append("  " + "  ".join(cells).rstrip())
    if price.fast_multiplier is not None:
        lines.append(f"  fast mode: {price.fast_multiplier:g}x these prices")
    return "\n".join(lines)
