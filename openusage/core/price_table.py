"""The offline price table and how a model name as a tool logs it finds its entry (pure; core/pricing.py
loads it once, caches the matches and prices requests).

The table is ``openusage/data/pricing.json`` (built by ``contrib/pricing/build_table.py`` from a
LiteLLM snapshot): USD per million tokens per model id, and aliases. A name is matched exactly, then
without provider routes and Bedrock/Vertex decorations, then in other spellings of the same model
(dots or dashes, version first or family first, mode suffixes dropped), each as an id, an alias, its
undated base or the newest dated id of that base.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

# Anthropic bills 5-minute cache writes at 1.25x and 1-hour writes at 2x the base input price.
_CACHE_WRITE_1H_FACTOR = 2.0

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TABLE_PATH = os.path.join(_PACKAGE_DIR, "data", "pricing.json")

_HOW_RANK = {"exact": 0, "prefix": 1, "normalized": 2, "dated": 3, "alias": 4}


@dataclass(frozen=True)
class Price:
    """Prices of one model in USD per million tokens; the *_above_200k fields are None without a tier."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    input_above_200k: Optional[float] = None
    output_above_200k: Optional[float] = None
    cache_write_5m_above_200k: Optional[float] = None
    cache_write_1h_above_200k: Optional[float] = None
    cache_read_above_200k: Optional[float] = None
    # Multiplier for Anthropic "fast mode" requests where the table knows one (informational).
    fast_multiplier: Optional[float] = None

    @property
    def tiered(self) -> bool:
        """True when the model has above-200k prices."""
        return self.input_above_200k is not None or self.output_above_200k is not None


@dataclass(frozen=True)
class Resolution:
    """How a requested model name was matched to a table entry."""

    requested: str
    model_id: str
    how: str  # "exact", "alias", "dated", "normalized" or "prefix"
    price: Price


class Table:
    """The loaded price table plus the lookup indexes built from it."""

    def __init__(self, date: str, source: str, prices: Dict[str, Price], aliases: Dict[str, str]):
        self.date = date
        self.source = source
        self.prices = prices
        self.aliases = aliases
        # base id -> dated ids, so "claude-opus-4-1" can find "claude-opus-4-1-20250805".
        self.dated: Dict[str, List[str]] = {}
        for mid in prices:
            base, date_part = _split_date(mid)
            if date_part:
                self.dated.setdefault(base, []).append(mid)
        for ids in self.dated.values():
            ids.sort(key=lambda m: _split_date(m)[1], reverse=True)


def _price_from_row(row: Dict[str, float]) -> Price:
    """Turn a compact table row into a Price; 1-hour cache writes derive from input when absent."""
    i = float(row["i"])
    ia = row.get("ia")
    cwa = row.get("cwa")
    cw1a = row.get("cw1a")
    if cw1a is None and ia is not None:
        cw1a = ia * _CACHE_WRITE_1H_FACTOR
    return Price(
        input=i,
        output=float(row["o"]),
        cache_write_5m=float(row.get("cw", i * 1.25)),
        cache_write_1h=float(row.get("cw1", i * _CACHE_WRITE_1H_FACTOR)),
        cache_read=float(row.get("cr", 0.0)),
        input_above_200k=None if ia is None else float(ia),
        output_above_200k=None if row.get("oa") is None else float(row["oa"]),
        cache_write_5m_above_200k=None if cwa is None else float(cwa),
        cache_write_1h_above_200k=None if cw1a is None else float(cw1a),
        cache_read_above_200k=None if row.get("cra") is None else float(row["cra"]),
        fast_multiplier=None if row.get("fast") is None else float(row["fast"]),
    )


def load(path: Optional[str] = None) -> Table:
    """The table at `path` (default: the one openusage ships)."""
    with open(path or _TABLE_PATH, encoding="utf-8") as fh:
        raw = json.load(fh)
    prices = {mid.lower(): _price_from_row(row) for mid, row in raw.get("models", {}).items()}
    aliases = {k.lower(): v.lower() for k, v in raw.get("aliases", {}).items()}
    date = str(raw.get("retrieved_at", ""))[:10]
    return Table(date, str(raw.get("source", "")), prices, aliases)


# --- matching a name -------------------------------------------------------------------------------

_DATE_RE = re.compile(r"^(.*?)-(\d{8}|\d{4}-\d{2}-\d{2})$")
# Leading provider routes: "anthropic/", "openrouter/anthropic/", "bedrock/us-east-1/", "models/" ...
_SLASH_PREFIX_RE = re.compile(r"^.*/")
# Bedrock ids: optional region group ("us.", "eu.", "apac.", "global.") then "anthropic." etc.
_BEDROCK_PREFIX_RE = re.compile(
    r"^(?:(?:us|eu|apac|ap|au|jp|ca|global|us-gov)\.)?(?:anthropic|openai|google)\."
)
_BEDROCK_VERSION_RE = re.compile(r"-v\d+(?::\d+)?$")
_BRACKET_SUFFIX_RE = re.compile(r"\[[^\]]*\]$")
# Mode/effort suffixes tools append to the model they report (Cursor "-thinking", "o3-mini-high" ...),
# and Gemini preview/experimental snapshots ("gemini-2.5-pro-preview-06-05").
_MODE_SUFFIX_RE = re.compile(
    r"-(?:thinking|reasoning|xhigh|high|medium|low|minimal|fast|max)$|-(?:preview|exp)(?:-\d{2}-\d{2,4})?$"
)
# Claude ids written with the version first ("claude-4.5-sonnet", Cursor) or with dots ("4.5").
_CLAUDE_VERSION_FIRST_RE = re.compile(r"^claude-(\d+(?:[.-]\d+)?)-(opus|sonnet|haiku)(.*)$")
_CLAUDE_FAMILY_FIRST_RE = re.compile(r"^claude-(opus|sonnet|haiku)-(\d+)\.(\d+)(.*)$")


def _split_date(model_id: str) -> Tuple[str, str]:
    """Split "x-20250929" or "x-2025-08-07" into (x, digits); ("x", "") when undated."""
    m = _DATE_RE.match(model_id)
    if not m:
        return model_id, ""
    return m.group(1), m.group(2).replace("-", "")


def _strip_prefixes(name: str) -> str:
    """Remove provider routes, Bedrock/Vertex decorations and bracket suffixes like "[1m]"."""
    name = _BRACKET_SUFFIX_RE.sub("", name).strip()
    name = _SLASH_PREFIX_RE.sub("", name)
    bedrock = _BEDROCK_PREFIX_RE.match(name)
    if bedrock:
        name = _BEDROCK_VERSION_RE.sub("", name[bedrock.end():])
    elif re.search(r"-v\d+:\d+$", name):
        name = _BEDROCK_VERSION_RE.sub("", name)
    if "@" in name:
        # Vertex: "claude-sonnet-4-5@20250929", "claude-3-5-sonnet-v2@20241022", "claude-x@default".
        base, _, tail = name.partition("@")
        base = re.sub(r"-v\d+$", "", base)
        name = f"{base}-{tail}" if tail and tail != "default" else base
    return name


def _normalized_forms(name: str) -> List[str]:
    """Spellings of the same model: dots to dashes, version order swapped, mode suffixes dropped."""
    forms: List[str] = []

    def add(form: str) -> None:
        if form and form not in forms:
            forms.append(form)

    current = name
    while True:
        add(current)
        m = _CLAUDE_VERSION_FIRST_RE.match(current)
        if m:
            version = m.group(1).replace(".", "-")
            add(f"claude-{m.group(2)}-{version}{m.group(3)}")
            add(f"claude-{version}-{m.group(2)}{m.group(3)}")
        m = _CLAUDE_FAMILY_FIRST_RE.match(current)
        if m:
            add(f"claude-{m.group(1)}-{m.group(2)}-{m.group(3)}{m.group(4)}")
        shorter = _MODE_SUFFIX_RE.sub("", current)
        if shorter == current:
            break
        current = shorter
    return forms


def _lookup(table: Table, candidate: str) -> Optional[Tuple[str, str]]:
    """Find candidate as an id, an alias, its undated base, or the newest dated id of that base."""
    if candidate in table.prices:
        return candidate, "exact"
    if candidate in table.aliases and table.aliases[candidate] in table.prices:
        return table.aliases[candidate], "alias"
    base, date_part = _split_date(candidate)
    if date_part:
        if base in table.prices:
            return base, "dated"
        if base in table.aliases and table.aliases[base] in table.prices:
            return table.aliases[base], "alias"
    else:
        plain = candidate[: -len("-latest")] if candidate.endswith("-latest") else candidate
        if plain in table.prices:
            return plain, "alias"
        dated = table.dated.get(plain)
        if dated:
            return dated[0], ("alias" if plain != candidate else "dated")
    # A dated id whose base is also only known dated, with another date ("claude-x-20250101").
    if date_part and table.dated.get(base):
        return table.dated[base][0], "dated"
    return None


def match(model: str, table: Table) -> Optional[Resolution]:
    """The table entry a model name as a tool logs it stands for, and how it was found; None when unknown."""
    lowered = model.strip().lower()
    if not lowered:
        return None
    stages = [(lowered, "exact")]
    bare = _strip_prefixes(lowered)
    if bare != lowered:
        stages.append((bare, "prefix"))
    for form in _normalized_forms(bare)[1:]:
        stages.append((form, "normalized"))
    for candidate, stage_how in stages:
        found = _lookup(table, candidate)
        if found is None:
            continue
        model_id, lookup_how = found
        how = max(stage_how, lookup_how, key=_HOW_RANK.__getitem__)
        return Resolution(requested=model, model_id=model_id, how=how, price=table.prices[model_id])
    return None
