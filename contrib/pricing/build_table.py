#!/usr/bin/env python3
"""Build openusage/data/pricing.json from the LiteLLM price snapshot (stdlib only).

Usage: python3 contrib/pricing/build_table.py [SNAPSHOT] [-o OUTPUT]

SNAPSHOT defaults to ../shared/data/pricing/litellm_snapshot.json relative to the repository root,
OUTPUT to openusage/data/pricing.json. Prices are USD per million tokens; the row keys are the
snapshot's: i, o, cw (cache write, 5 minutes), cr (cache read), ia/oa/cwa/cra (the same above 200k
tokens of prompt), fast (fast-mode multiplier).

Only Anthropic, OpenAI and Google models are kept, under their bare, canonical ids. Provider-routed
entries (bedrock, vertex_ai, azure, openrouter, region prefixes ...) never contribute prices: they are
reseller or regional prices and some are plainly wrong for the first-party API (for example the
eu.anthropic Claude 3.5 Haiku row). Older models the snapshot only has in routed form are added from
SUPPLEMENT below, with the providers' published list prices.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Dict, List, Tuple

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_SNAPSHOT = os.path.join(REPO_ROOT, "..", "shared", "data", "pricing", "litellm_snapshot.json")
DEFAULT_OUTPUT = os.path.join(REPO_ROOT, "openusage", "data", "pricing.json")
SOURCE = "LiteLLM public model prices via litellm_snapshot.json"

FAMILY_RE = re.compile(r"^(?:claude-|gpt-|o1|o3|o4|codex|chatgpt-|gemini-)")
# Open-weight models that only third parties host and price; there is no first-party price.
EXCLUDE_RE = re.compile(r"^gpt-oss")
VERSION_FIRST_RE = re.compile(r"^claude-(\d+(?:-\d)?)-(opus|sonnet|haiku)(-.*)?$")
ROW_KEYS = ("i", "o", "cw", "cr", "ia", "oa", "cwa", "cra", "fast")

# Models real logs still contain that the snapshot has only in routed form (or not at all).
# Published list prices, USD per million tokens; cw = 5-minute cache write (1.25x input for Anthropic),
# cr = cache read. OpenAI has no cache-write charge: cw = input, cr = cached input.
SUPPLEMENT: Dict[str, Dict[str, float]] = {
    "claude-3-5-haiku-20241022": {"i": 0.80, "o": 4.00, "cw": 1.00, "cr": 0.08},
    "claude-3-5-sonnet-20240620": {"i": 3.00, "o": 15.00, "cw": 3.75, "cr": 0.30},
    "claude-3-5-sonnet-20241022": {"i": 3.00, "o": 15.00, "cw": 3.75, "cr": 0.30},
    "claude-3-sonnet-20240229": {"i": 3.00, "o": 15.00, "cw": 3.75, "cr": 0.30},
    "claude-3-opus-20240229": {"i": 15.00, "o": 75.00, "cw": 18.75, "cr": 1.50},
    "claude-3-haiku-20240307": {"i": 0.25, "o": 1.25, "cw": 0.30, "cr": 0.03},
    "o1-mini": {"i": 1.10, "o": 4.40, "cw": 1.10, "cr": 0.55},
    "o1-mini-2024-09-12": {"i": 1.10, "o": 4.40, "cw": 1.10, "cr": 0.55},
    "o1-preview": {"i": 15.00, "o": 60.00, "cw": 15.00, "cr": 7.50},
    "o1-preview-2024-09-12": {"i": 15.00, "o": 60.00, "cw": 15.00, "cr": 7.50},
    "gpt-4.5-preview": {"i": 75.00, "o": 150.00, "cw": 75.00, "cr": 37.50},
    "gpt-4.5-preview-2025-02-27": {"i": 75.00, "o": 150.00, "cw": 75.00, "cr": 37.50},
}

# Names the providers document as pointers to a dated model; the resolver also finds these by rule,
# the table states them so `openusage pricing` can say "alias".
ALIASES: Dict[str, str] = {
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
    "claude-3-5-sonnet-latest": "claude-3-5-sonnet-20241022",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-3-opus-latest": "claude-3-opus-20240229",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
}


def _clean_number(value: float) -> float:
    # The snapshot stores per-token prices scaled up, so 0.7999999999999999 stands for 0.8.
    return float(f"{float(value):.10g}")


def _clean_row(row: Dict[str, float]) -> Dict[str, float]:
    return {k: _clean_number(row[k]) for k in ROW_KEYS if k in row and row[k] is not None}


def build(snapshot: Dict[str, object]) -> Tuple[Dict[str, object], List[str]]:
    """Return the table and the routed-only ids that were left out (for the maintainer's eye)."""
    models_in = snapshot.get("models", {})
    if not isinstance(models_in, dict):
        raise ValueError("snapshot has no 'models' object")
    out: Dict[str, Dict[str, float]] = {}
    routed_only: List[str] = []
    for model_id, row in models_in.items():
        mid = model_id.lower()
        routed = "/" in mid or ":" in mid or "@" in mid or "." in mid.split("-", 1)[0]
        if routed:
            routed_only.append(mid)
            continue
        if FAMILY_RE.match(mid) and not EXCLUDE_RE.match(mid):
            out[mid] = _clean_row(row)
            if not mid.startswith("claude-") and "cwa" in out[mid] and "ia" in out[mid]:
                # Google and OpenAI bill a cache write as plain input; LiteLLM's Gemini "cwa" (0.25,
                # below the base write rate) is not a per-token write price, so it follows "ia".
                out[mid]["cwa"] = out[mid]["ia"]
    for mid, row in SUPPLEMENT.items():
        # The supplement fills gaps; a row the snapshot has wins, it is the dated source.
        out.setdefault(mid, _clean_row(row))
    # LiteLLM also lists version-first names ("claude-4-opus-20250514"); where the canonical
    # family-first id has the same prices, the version-first one becomes an alias of it.
    aliases = {a: t for a, t in ALIASES.items() if t in out and a not in out}
    for mid in list(out):
        m = VERSION_FIRST_RE.match(mid)
        if m:
            canonical = f"claude-{m.group(2)}-{m.group(1)}{m.group(3) or ''}"
            if out.get(canonical) == out[mid]:
                aliases[mid] = canonical
                del out[mid]
    skipped = sorted(
        m for m in routed_only
        if FAMILY_RE.match(_bare(m)) and not EXCLUDE_RE.match(_bare(m)) and _bare(m) not in out
    )
    table = {
        "retrieved_at": snapshot.get("retrieved_at", ""),
        "source": SOURCE,
        "models": {k: out[k] for k in sorted(out)},
        "aliases": {k: aliases[k] for k in sorted(aliases)},
    }
    return table, skipped


def _bare(model_id: str) -> str:
    """The bare id a routed entry names, roughly; only used to report what was left out."""
    name = model_id.rsplit("/", 1)[-1]
    name = re.sub(r"^(?:[a-z-]+\.)?(?:anthropic|openai|google)\.", "", name)
    name = re.sub(r"-v\d+(?::\d+)?$", "", name)
    name = name.replace("@", "-")
    return re.sub(r"(\d)\.(\d)", r"\1-\2", name) if name.startswith("claude-") else name


def dumps(table: Dict[str, object]) -> str:
    """Compact JSON with sorted keys and one model per line, so diffs stay readable."""
    lines = ["{"]
    lines.append(f'"retrieved_at": {json.dumps(table["retrieved_at"])},')
    lines.append(f'"source": {json.dumps(table["source"])},')
    for section in ("aliases", "models"):
        entries = table[section]
        assert isinstance(entries, dict)
        lines.append(f'"{section}": {{')
        items = list(entries.items())
        for n, (key, value) in enumerate(items):
            comma = "," if n < len(items) - 1 else ""
            body = json.dumps(value, sort_keys=True, separators=(",", ":"))
            lines.append(f"{json.dumps(key)}: {body}{comma}")
        lines.append("}," if section == "aliases" else "}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description="Build openusage/data/pricing.json from a LiteLLM snapshot.")
    parser.add_argument("snapshot", nargs="?", default=DEFAULT_SNAPSHOT, help="litellm_snapshot.json")
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help="where to write pricing.json")
    parser.add_argument("-v", "--verbose", action="store_true", help="list routed-only ids left out")
    args = parser.parse_args(argv)
    with open(args.snapshot, encoding="utf-8") as fh:
        snapshot = json.load(fh)
    table, skipped = build(snapshot)
    text = dumps(table)
    json.loads(text)  # the hand-rolled layout must still be valid JSON
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, args.output)
    models = table["models"]
    assert isinstance(models, dict)
    print(f"wrote {args.output}: {len(models)} models, retrieved_at {table['retrieved_at']}", file=sys.stderr)
    if args.verbose and skipped:
        print("routed-only ids left out (add to SUPPLEMENT if real logs use them):", file=sys.stderr)
        for mid in skipped:
            print(f"  {mid}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
