"""Offline model prices and per-request cost (DESIGN sections 5 and 10).

The price table is ``openusage/data/pricing.json`` (built by ``contrib/pricing/build_table.py`` from a
LiteLLM snapshot); it is read lazily, once, on first use. Prices are USD per million tokens.

Table identity: ``table_date()`` (``YYYY-MM-DD``) and ``table_source()`` are the functions to call;
``TABLE_DATE`` and ``TABLE_SOURCE`` are also readable as module attributes, computed lazily on first
access (PEP 562), so importing this module never reads the file.

Public API: ``Price``, ``Resolution``, ``resolve()``, ``compute_cost()``, ``leaves_out()``, ``unknown_models()``,
``apply_cost_mode()``, ``COST_MODES``, ``TIER_THRESHOLD``, ``TIER_RULE``, ``table_date()``,
``table_source()``, ``table_models()``.

Cache writes: ``cache_write_tokens`` are 5-minute (or unspecified) writes at the table's cache-write
rate (1.25x input for Anthropic); ``cache_write_1h_tokens`` are 1-hour writes at 2x input, derived from
the input rate because the table carries no own 1-hour price.

Long context: Anthropic's and Google's pricing pages bill a whole request at the long-context rates
once its prompt exceeds 200k tokens. ccusage instead splits each token kind at 200k on its own and
bills only the excess at the higher rate, which under-counts long sessions. ``TIER_RULE`` selects the
rule; it defaults to the providers' documented one ("request"); "bucket" reproduces ccusage.

Model names that Claude Code logs for locally generated messages ("<synthetic>") cost 0.0 and are
not reported as unknown.
"""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set, Tuple

COST_MODES = ("auto", "calculate", "display")

# Long-context tier boundary in tokens; exactly 200,000 is still the base tier.
TIER_THRESHOLD = 200_000

# How above-200k rates apply (read at call time; tests and the lead may switch it):
#   "bucket"  - ccusage's rule: input, output, cache read and cache write are each split on their own,
#               the first 200k tokens of a kind at base rates and only the rest at tiered rates.
#   "request" - the providers' documented rule (Anthropic, Google): once a request's prompt (input +
#               cache read + cache writes) exceeds 200k, every token of that request is billed tiered.
# The default matches ccusage so reports agree with it; see the module docstring.
TIER_RULE = "request"
TIER_RULES = ("bucket", "request")

# Anthropic bills 5-minute cache writes at 1.25x and 1-hour writes at 2x the base input price.
_CACHE_WRITE_1H_FACTOR = 2.0

# Model names some tools log for locally generated messages that never reach an API (Claude Code
# writes "<synthetic>" for them); they cost nothing and are not "unknown".
_FREE_MODELS = frozenset({"<synthetic>"})

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


class _Table:
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


_lock = threading.Lock()
_table: Optional[_Table] = None
_cache: Dict[str, Optional[Resolution]] = {}
_unknown: Set[str] = set()
_prices: Dict[str, Any] = {}  # compute_cost's: model name -> Price, _FREE or None (unknown)


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


def _load(path: Optional[str] = None) -> _Table:
    with open(path or _TABLE_PATH, encoding="utf-8") as fh:
        raw = json.load(fh)
    prices = {mid.lower(): _price_from_row(row) for mid, row in raw.get("models", {}).items()}
    aliases = {k.lower(): v.lower() for k, v in raw.get("aliases", {}).items()}
    date = str(raw.get("retrieved_at", ""))[:10]
    return _Table(date, str(raw.get("source", "")), prices, aliases)


def _get_table() -> _Table:
    global _table
    table = _table
    if table is None:
        with _lock:
            if _table is None:
                _table = _load()
            table = _table
    return table


def _reset(path: Optional[str] = None) -> None:
    """Drop the loaded table and caches (tests); with a path, load that table instead."""
    global _table
    with _lock:
        _table = None if path is None else _load(path)
        _cache.clear()
        _unknown.clear()
        _prices.clear()


def table_date() -> str:
    """Date (YYYY-MM-DD) the price table was retrieved."""
    return _get_table().date


def table_source() -> str:
    """Where the price table's numbers come from."""
    return _get_table().source


def table_models() -> List[str]:
    """All model ids in the table, sorted."""
    return sorted(_get_table().prices)


def __getattr__(name: str) -> str:
    # Lazy module constants, so importing the module does not read the table.
    if name == "TABLE_DATE":
        return table_date()
    if name == "TABLE_SOURCE":
        return table_source()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- name resolution -------------------------------------------------------------------------------

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


def _lookup(table: _Table, candidate: str) -> Optional[Tuple[str, str]]:
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


def _resolve_uncached(model: str, table: _Table) -> Optional[Resolution]:
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


def resolve(model: str) -> Optional[Resolution]:
    """Match a model name as tools log it to a table entry (case-insensitive); None when unknown."""
    if not isinstance(model, str):
        return None
    with _lock:
        if model in _cache:
            return _cache[model]
    result = _resolve_uncached(model, _get_table())
    with _lock:
        _cache[model] = result
    return result


# --- cost ------------------------------------------------------------------------------------------


def compute_cost(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
) -> Optional[float]:
    """USD cost of one request, or None (and the model recorded as unknown) without a price."""
    # Runs for every request a cold scan reads: the model's price is remembered (a read of a dict
    # needs no lock), and token counts that are ints >= 0 are taken as they are.
    price = _prices.get(model, _UNSEEN) if isinstance(model, str) else _UNSEEN
    if price is _UNSEEN:
        price = _price_of(model)
    if price is None:
        return None
    if price is _FREE:
        return 0.0
    return _cost(
        price,
        input_tokens if type(input_tokens) is int and input_tokens >= 0 else _count(input_tokens),
        output_tokens if type(output_tokens) is int and output_tokens >= 0 else _count(output_tokens),
        cache_read_tokens if type(cache_read_tokens) is int and cache_read_tokens >= 0 else _count(cache_read_tokens),
        cache_write_tokens if type(cache_write_tokens) is int and cache_write_tokens >= 0
        else _count(cache_write_tokens),
        cache_write_1h_tokens if type(cache_write_1h_tokens) is int and cache_write_1h_tokens >= 0
        else _count(cache_write_1h_tokens),
    )


_UNSEEN: Any = object()
_FREE: Any = object()


def _price_of(model: object) -> Any:
    """The Price of a model (_FREE for free ones, None when unknown: then recorded as unknown)."""
    if isinstance(model, str) and model.strip().lower() in _FREE_MODELS:
        found: Any = _FREE
    else:
        res = resolve(model)  # type: ignore[arg-type]
        found = None if res is None else res.price
    with _lock:
        if found is None:
            _unknown.add(str(model))
        if isinstance(model, str):
            _prices[model] = found
    return found


def _count(value: object) -> int:
    try:
        return max(int(value or 0), 0)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


def _cost(p: Price, inp: int, out: int, cr: int, cw5: int, cw1: int) -> float:
    if not p.tiered:
        total = inp * p.input + out * p.output + cr * p.cache_read + cw5 * p.cache_write_5m
        return (total + cw1 * p.cache_write_1h) / 1_000_000
    if TIER_RULE == "request":
        tier = inp + cr + cw5 + cw1 > TIER_THRESHOLD
        total = (
            inp * _rate(p.input, p.input_above_200k, tier)
            + out * _rate(p.output, p.output_above_200k, tier)
            + cr * _rate(p.cache_read, p.cache_read_above_200k, tier)
            + cw5 * _rate(p.cache_write_5m, p.cache_write_5m_above_200k, tier)
            + cw1 * _rate(p.cache_write_1h, p.cache_write_1h_above_200k, tier)
        )
        return total / 1_000_000
    # "bucket" (ccusage): each token kind on its own, its first 200k at base rates, the rest tiered.
    # Cache writes are one bucket as in ccusage; the 5m/1h parts share its split in proportion.
    total = (
        _marginal(inp, p.input, p.input_above_200k)
        + _marginal(out, p.output, p.output_above_200k)
        + _marginal(cr, p.cache_read, p.cache_read_above_200k)
    )
    writes = cw5 + cw1
    if writes:
        total += (cw5 / writes) * _marginal(writes, p.cache_write_5m, p.cache_write_5m_above_200k)
        total += (cw1 / writes) * _marginal(writes, p.cache_write_1h, p.cache_write_1h_above_200k)
    return total / 1_000_000


def _rate(base: float, above: Optional[float], tier: bool) -> float:
    # A tier rate the table lacks keeps the base rate, as ccusage and LiteLLM do.
    return above if tier and above is not None else base


def _marginal(tokens: int, base: float, above: Optional[float]) -> float:
    if above is None or tokens <= TIER_THRESHOLD:
        return tokens * base
    return TIER_THRESHOLD * base + (tokens - TIER_THRESHOLD) * above


def leaves_out(model: str, cost: float, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0,
               cache_write_tokens: int = 0) -> bool:
    """Whether a cost of 0 for these tokens is a missing price (a model the table did not know when the
    usage was counted), not a free model: never silently $0."""
    if cost or not (input_tokens or output_tokens or cache_read_tokens or cache_write_tokens):
        return False
    if isinstance(model, str) and model.strip().lower() in _FREE_MODELS:
        return False
    res = resolve(model)
    return res is None or _cost(res.price, _count(input_tokens), _count(output_tokens), _count(cache_read_tokens),
                                _count(cache_write_tokens), 0) > 0


def unknown_models() -> List[str]:
    """Model names compute_cost() found no price for, sorted."""
    with _lock:
        return sorted(_unknown)


def apply_cost_mode(mode: str, logged_cost: Optional[float], computed: Optional[float]) -> Optional[float]:
    """Pick the cost to show: auto = logged else computed, calculate = computed, display = logged or 0."""
    if mode == "auto":
        return logged_cost if logged_cost is not None else computed
    if mode == "calculate":
        return computed
    if mode == "display":
        return logged_cost if logged_cost is not None else 0.0
    raise ValueError(f"unknown cost mode {mode!r} (expected one of {', '.join(COST_MODES)})")
