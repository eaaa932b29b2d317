import dataclasses
import typing

import pytest

from openusage.core.schema import SchemaError, check_snapshot
from openusage.core.snapshot import UsageSnapshot

FULL = {
    "provider_id": "openai", "account_id": "work", "display_name": "Work", "timestamp": "2026-11-22T12:00:00.000Z",
    "status": "WARN", "message": "low", "currency": "USD",
    "spend": {"total": 1.5, "cycle": 2, "limits": {"hard": 100}, "balance": {"cash": 3.25}},
    "tokens": {"input": 10, "output": 5.0, "total": 15}, "tool_calls": 3,
    "rate_limits": {"5h": {"used_percent": 40, "resets_at": "2026-11-22T17:00:00Z", "source": "oauth",
                           "observed_at": "2026-11-22T12:00:00Z", "window_seconds": 18000,
                           "pace": {"rate_percent_per_hour": 25.0, "before_reset": True}}},
    "models": [{"model": "m", "input": 1, "cost": 0.5}], "daily": [{"date": "2026-11-22", "cost": 1}],
    "tools": [{"name": "Edit", "calls": 2}], "sessions": [{"name": "s", "project": "p", "first_at": "x"}],
    "extras": {"plan": "pro", "n": [1, 2, {"k": None}], "ok": True},
    "future_field": {"anything": 1},
}


def test_a_whole_snapshot_checks_to_its_json_form():
    want = UsageSnapshot.from_dict(FULL).to_dict()
    assert check_snapshot(FULL) == want and "future_field" not in want


@pytest.mark.parametrize("change, message", [
    ({"tokens": {"output": 5.5}}, "snapshot.tokens.output: expected a whole number"),
    ({"spend": {"limits": {"hard": [1]}}}, "snapshot.spend.limits.hard: expected a finite number, got array"),
    ({"status": "FINE"}, "snapshot.status: one of OK"),
    ({"account_id": "a\x1b[2J"}, "snapshot.account_id: 1-128 printable"),
    ({"rate_limits": {"\x07": {}}}, "snapshot.rate_limits: key"),
    ({"daily": [{"date": 20261122}]}, "snapshot.daily[0].date: expected a string, got number"),
    ({"tools": [None]}, "snapshot.tools[0]: expected an object, got null"),
    ({"periods": {"spend.total": {"kind": "forever"}}}, "snapshot: periods.spend.total.kind: unknown period"),
    ({"rate_limits": {"5h": {"pace": {"rate_percent_per_hour": float("nan")}}}},
     "snapshot.rate_limits.5h.pace.rate_percent_per_hour: expected a finite number"),
    ({"rate_limits": {"5h": {"pace": [1]}}}, "snapshot.rate_limits.5h.pace: expected an object, got array"),
])
def test_a_field_off_the_schema_is_named(change, message):
    with pytest.raises(SchemaError) as info:
        check_snapshot(dict(FULL, **change))
    assert str(info.value).startswith(message)


def _example(cls):
    """A record with every field filled with a value of its declared type (nested records too)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        nested = cls._nested.get(f.name)
        if isinstance(nested, list):
            out[f.name] = [_example(nested[0])]
        elif isinstance(nested, set):
            out[f.name] = {"k": _example(next(iter(nested)))}
        elif nested is not None:
            out[f.name] = _example(nested)
        else:
            kind = ([a for a in typing.get_args(hints[f.name]) if a is not type(None)] or [hints[f.name]])[0]
            out[f.name] = {str: "x", bool: True, int: 3, float: 1.5}.get(kind, {"free": [1, "a"]})
    return out


def test_every_field_a_snapshot_can_carry_is_accepted():
    # A field of a type the checker does not know would make the hub refuse every push that carries it.
    snap = dict(_example(UsageSnapshot), status="OK")
    snap["periods"]["k"]["kind"] = "cycle"
    assert check_snapshot(snap) == UsageSnapshot.from_dict(snap).to_dict()
