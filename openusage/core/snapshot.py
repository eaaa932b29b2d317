"""UsageSnapshot and its parts: the one thing every client renders (DESIGN section 5).

Every field but identity is optional; a field that is None is absent from the JSON, never zero.
`to_dict` and `from_dict` round-trip exactly.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional

STATUSES = ("OK", "WARN", "LIMIT", "AUTH", "ERR", "UNKNOWN")
# What a figure that is not the window's covers (UsageSnapshot.periods): whole days of the provider's
# series, the current UTC day / week / month so far, a billing cycle, or the account's whole life.
PERIOD_KINDS = ("days", "day_to_date", "week_to_date", "month_to_date", "cycle", "lifetime")
STATUS_RANK = {"OK": 0, "UNKNOWN": 1, "WARN": 2, "LIMIT": 3, "AUTH": 4, "ERR": 5}


def figure_period(snapshot: Dict[str, Any], figure: str) -> Optional[Dict[str, Any]]:
    """The period (a dict) a figure of a snapshot dict covers; None when it is the window's."""
    periods = snapshot.get("periods")
    period = periods.get(figure) if isinstance(periods, dict) else None
    return period if isinstance(period, dict) else None


def window_spend(snapshot: Dict[str, Any]) -> Optional[float]:
    """`spend.total` of a snapshot dict when it is the window's own, else None."""
    if figure_period(snapshot, "spend.total") is not None:
        return None
    return (snapshot.get("spend") or {}).get("total")


def period_label(period: Optional[Dict[str, Any]]) -> str:
    """A period dict as words ('month to date'); 'window' for None."""
    return Period.from_dict(period).label() if period else "window"


class _Record:
    """Mixin: JSON conversion for dataclasses whose nested fields are listed in `_nested`."""

    # field name -> record class, [record class] for a list, {record class} (a 1-set) for a dict
    _nested: ClassVar[Dict[str, Any]] = {}

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if value is None:
                continue
            out[name] = value if type(value) in _PLAIN else _dump(value)
        return out

    @classmethod
    def from_dict(cls, data: Dict[str, Any]):
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in data.items():
            if key not in names or value is None:
                continue
            kind = cls._nested.get(key)
            if kind is None:
                kwargs[key] = value
            elif isinstance(kind, list):
                kwargs[key] = [kind[0].from_dict(v) for v in _as(list, value, key)]
            elif isinstance(kind, set):
                inner = next(iter(kind))
                kwargs[key] = {k: inner.from_dict(v) for k, v in _as(dict, value, key).items()}
            else:
                kwargs[key] = kind.from_dict(value)
        return cls(**kwargs)


_FIELD_NAMES: Dict[type, List[str]] = {}
_PLAIN = frozenset((str, int, float, bool))  # values _dump returns as they are


def _field_names(cls: type) -> List[str]:
    """A record class's field names in order (dataclasses.fields builds them anew at every call)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = [f.name for f in dataclasses.fields(cls)]
    return names


def _as(kind: type, value: Any, key: str) -> Any:
    if not isinstance(value, kind):
        raise ValueError(f"{key}: expected {'an array' if kind is list else 'an object'}")
    return value


def _dump(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


@dataclass
class SpendLimits(_Record):
    """Spend caps of an account: hard and soft limits, and what the plan includes."""

    hard: Optional[float] = None
    soft: Optional[float] = None
    plan_included: Optional[float] = None
    plan_bonus: Optional[float] = None


@dataclass
class Balance(_Record):
    """Money left on a prepaid account: cash, vouchers and granted credit."""

    cash: Optional[float] = None
    voucher: Optional[float] = None
    granted: Optional[float] = None


@dataclass
class Spend(_Record):
    """What an account spent in the window, in its billing cycle and in its life, with its limits and
    balance. `incomplete` is True when a cost leaves out usage the price table has no price for."""

    total: Optional[float] = None
    cycle: Optional[float] = None
    lifetime: Optional[float] = None
    limits: Optional[SpendLimits] = None
    balance: Optional[Balance] = None
    incomplete: Optional[bool] = None
    _nested: ClassVar[Dict[str, Any]] = {"limits": SpendLimits, "balance": Balance}


@dataclass
class Tokens(_Record):
    """Token counts of the window by kind, and their total."""

    input: Optional[int] = None
    output: Optional[int] = None
    cache_read: Optional[int] = None
    cache_write: Optional[int] = None
    reasoning: Optional[int] = None
    total: Optional[int] = None

    def with_total(self) -> Tokens:
        """Fill `total` as input + cache_read + cache_write + output (reasoning is inside output)."""
        parts = [self.input, self.cache_read, self.cache_write, self.output]
        if self.total is None and any(p is not None for p in parts):
            self.total = sum(p or 0 for p in parts)
        return self


@dataclass
class RateLimit(_Record):
    """One rate limit or quota: its size, what is used and left, its window and reset.

    A plan window also says where its reading came from (`source`: oauth, statusline or rollout), when
    it was taken (`observed_at`), the window's length when known, and the pace projection
    (openusage.core.pace: rate_percent_per_hour, exhausts_at, before_reset).
    """

    limit: Optional[float] = None
    remaining: Optional[float] = None
    used: Optional[float] = None
    used_percent: Optional[float] = None
    resets_at: Optional[str] = None
    source: Optional[str] = None
    observed_at: Optional[str] = None
    window_seconds: Optional[int] = None
    pace: Optional[Dict[str, Any]] = None

    def fraction_used(self) -> Optional[float]:
        """Used share 0..1 from whichever fields are present."""
        if self.used_percent is not None:
            return self.used_percent / 100.0
        if self.limit:
            if self.used is not None:
                return self.used / self.limit
            if self.remaining is not None:
                return (self.limit - self.remaining) / self.limit
        return None


@dataclass
class ModelUsage(_Record):
    """Tokens, requests and cost of one model in the window."""

    model: str = ""
    input: Optional[int] = None
    output: Optional[int] = None
    cache_read: Optional[int] = None
    cache_write: Optional[int] = None
    reasoning: Optional[int] = None
    requests: Optional[int] = None
    cost: Optional[float] = None

    def total_tokens(self) -> int:
        return (self.input or 0) + (self.output or 0) + (self.cache_read or 0) + (self.cache_write or 0)


@dataclass
class DailyPoint(_Record):
    """One day of a window's series: cost, tokens and requests."""

    date: str = ""
    cost: Optional[float] = None
    tokens: Optional[int] = None
    requests: Optional[int] = None
    unpriced_tokens: Optional[int] = None  # tokens of the day the cost leaves out (no price known)


@dataclass
class Breakdown(_Record):
    """One row of a tools / projects / sessions / mcp_servers breakdown."""

    name: str = ""
    calls: Optional[int] = None
    requests: Optional[int] = None
    tokens: Optional[int] = None
    cost: Optional[float] = None
    project: Optional[str] = None
    first_at: Optional[str] = None
    last_at: Optional[str] = None


@dataclass
class Period(_Record):
    """The span a figure covers when it is not the window's: a kind of PERIOD_KINDS and, where known,
    its bounds (RFC 3339; a cycle's `end` is when it closes, which may be ahead)."""

    kind: str = ""
    start: Optional[str] = None
    end: Optional[str] = None

    def label(self) -> str:
        """'month to date', 'cycle 2026-11-15 to 2026-12-15', 'lifetime', 'since 2026-11-27 (UTC days)'."""
        start, end = (self.start or "")[:10], (self.end or "")[:10]
        if self.kind == "cycle":
            if start and end:
                return f"cycle {start} to {end}"
            return f"cycle from {start}" if start else (f"cycle to {end}" if end else "cycle")
        if self.kind == "days":
            return f"since {start} (UTC days)" if start else "days"
        return {"day_to_date": "UTC day to date", "week_to_date": "week to date",
                "month_to_date": "month to date", "lifetime": "lifetime"}.get(self.kind, self.kind or "period")


@dataclass
class Unpriced(_Record):
    """A model the price table has no price for, and its tokens the costs leave out."""

    model: str = ""
    tokens: Optional[int] = None


@dataclass
class UsageSnapshot(_Record):
    """One provider account's usage for a time window (DESIGN section 5): the read model's unit."""

    provider_id: str
    account_id: str
    display_name: Optional[str] = None
    timestamp: Optional[str] = None
    status: Optional[str] = None
    message: Optional[str] = None
    currency: Optional[str] = None
    spend: Optional[Spend] = None
    tokens: Optional[Tokens] = None
    tool_calls: Optional[int] = None
    rate_limits: Optional[Dict[str, RateLimit]] = None
    models: Optional[List[ModelUsage]] = None
    daily: Optional[List[DailyPoint]] = None
    tools: Optional[List[Breakdown]] = None
    projects: Optional[List[Breakdown]] = None
    sessions: Optional[List[Breakdown]] = None
    mcp_servers: Optional[List[Breakdown]] = None
    extras: Optional[Dict[str, Any]] = field(default=None)
    # figure ("spend.total", "spend.cycle", "spend.lifetime", "tokens", "models", "daily", "extras.<key>") -> the period
    # it covers; a figure without an entry is the window's (or, for balances and limits, live).
    periods: Optional[Dict[str, Period]] = None
    unpriced: Optional[List[Unpriced]] = None
    _nested: ClassVar[Dict[str, Any]] = {
        "spend": Spend,
        "tokens": Tokens,
        "rate_limits": {RateLimit},
        "models": [ModelUsage],
        "daily": [DailyPoint],
        "tools": [Breakdown],
        "projects": [Breakdown],
        "sessions": [Breakdown],
        "mcp_servers": [Breakdown],
        "periods": {Period},
        "unpriced": [Unpriced],
    }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> UsageSnapshot:
        if not isinstance(data, dict):
            raise ValueError("snapshot: expected an object")
        for key in ("provider_id", "account_id"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ValueError(f"snapshot.{key}: required string")
        status = data.get("status")
        if status is not None and status not in STATUSES:
            raise ValueError(f"snapshot.status: unknown status {status!r}")
        periods = data.get("periods")
        for figure, period in (periods.items() if isinstance(periods, dict) else ()):
            kind = period.get("kind") if isinstance(period, dict) else None
            if kind not in PERIOD_KINDS:
                raise ValueError(f"snapshot.periods.{figure}.kind: unknown period {kind!r}")
        return super().from_dict(data)

    def window_spend(self) -> Optional[float]:
        """`spend.total` when it is the window's own (not whole provider days), else None."""
        if self.spend is None or self.period_of("spend.total") is not None:
            return None
        return self.spend.total

    def period_of(self, figure: str) -> Optional[Period]:
        """The period a figure covers; None when it is the window's."""
        return (self.periods or {}).get(figure)

    def set_period(self, figure: str, period: Optional[Period]) -> None:
        """Say what a figure covers (None: the window)."""
        periods = dict(self.periods or {})
        if period is None:
            periods.pop(figure, None)
        else:
            periods[figure] = period
        self.periods = periods or None

    def worst_rate_limit(self) -> Optional[float]:
        """The highest used fraction across rate limits, or None."""
        values = [r.fraction_used() for r in (self.rate_limits or {}).values()]
        values = [v for v in values if v is not None]
        return max(values) if values else None
