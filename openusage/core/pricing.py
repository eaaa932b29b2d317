"""Offline model prices and per-request cost (DESIGN sections 5 and 10).

The price table is ``openusage/data/pricing.json`` (built by ``contrib/pricing/build_table.py`` from a
LiteLLM snapshot); it is read lazily, once, on first use. Prices are USD per million tokens. How the
table is read and a model name finds its entry is ``core/price_table.py``; the matches are cached here.

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

import threading
from typing import Any, Dict, List, Optional, Set

from openusage.core.price_table import Price, Resolution, Table, load, match

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

# Model names some tools log for locally generated messages that never reach an API (Claude Code
# writes "<synthetic>" for them); they cost nothing and are not "unknown".
_FREE_MODELS = frozenset({"<synthetic>"})

_lock = threading.Lock()
_table: Optional[Table] = None
_cache: Dict[str, Optional[Resolution]] = {}
_unknown: Set[str] = set()
_prices: Dict[str, Any] = {}  # compute_cost's: model name -> Price, _FREE or None (unknown)


def _get_table() -> Table:
    global _table
    table = _table
    if table is None:
        with _lock:
            if _table is None:
                _table = load()
            table = _table
    return table


def _reset(path: Optional[str] = None) -> None:
    """Drop the loaded table and caches (tests); with a path, load that table instead."""
    global _table
    with _lock:
        _table = None if path is None else load(path)
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


def resolve(model: str) -> Optional[Resolution]:
    """Match a model name as tools log it to a table entry (case-insensitive); None when unknown."""
    if not isinstance(model, str):
        return None
    with _lock:
        if model in _cache:
            return _cache[model]
    result = match(model, _get_table())
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
    # needs no lock).
    price = _prices.get(model, _UNSEEN) if isinstance(model, str) else _UNSEEN
    if price is _UNSEEN:
        price = _price_of(model)
    if price is None:
        return None
    if price is _FREE:
        return 0.0
    return _cost(
        price,
        _count(input_tokens),
        _count(output_tokens),
        _count(cache_read_tokens),
        _count(cache_write_tokens),
        _count(cache_write_1h_tokens),
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
    if type(value) is int:  # the common case, without the exception machinery
        return value if value > 0 else 0
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
