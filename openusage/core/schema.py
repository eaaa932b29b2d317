"""The snapshot schema, checked field by field: for data from outside (a hub push, a hub's answer).

The shape is read from the dataclasses of core/snapshot.py (their type hints and `_nested`), so it
cannot drift from them. Numbers must be finite and within MAX_NUMBER, strings and lists are bounded,
records are objects; free-form objects (`extras`, a rate limit's `pace`) are bounded in size and
depth. A violation names its field path (`snapshots[2].spend.total: expected a finite number, got
string`). Unknown keys are dropped, as UsageSnapshot.from_dict drops them (a newer sender may know
more fields).
"""
from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any, Dict, List

from openusage.core.snapshot import STATUSES, UsageSnapshot

MAX_NUMBER = 1e18
MAX_STRING = 2000
MAX_ID = 128
MAX_ITEMS = 2000  # items of one list or named map (models, sessions, rate limits ...)
MAX_EXTRAS_DEPTH = 4
MAX_EXTRAS_ITEMS = 500


class SchemaError(ValueError):
    """A value that is not a UsageSnapshot; the message starts with its field path."""


def check_snapshot(data: Any, path: str = "snapshot") -> Dict[str, Any]:
    """`data` checked against the UsageSnapshot schema; its cleaned JSON form (unknown keys dropped)."""
    cleaned = _record(UsageSnapshot, data, path)
    for key in ("provider_id", "account_id"):
        value = cleaned.get(key)
        if not value:
            raise SchemaError(f"{path}.{key}: required string")
        if len(value) > MAX_ID or not value.isprintable():
            raise SchemaError(f"{path}.{key}: 1-{MAX_ID} printable characters")
    status = cleaned.get("status")
    if status is not None and status not in STATUSES:
        raise SchemaError(f"{path}.status: one of {', '.join(STATUSES)}")
    try:  # and whatever the records check themselves (a period's kind ...)
        UsageSnapshot.from_dict(cleaned)
    except (ValueError, TypeError) as exc:
        raise SchemaError(f"{path}: {str(exc).replace('snapshot.', '', 1)}") from exc
    return cleaned


_HINTS: Dict[type, Dict[str, Any]] = {}


def _hints(cls: type) -> Dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _record(cls: type, data: Any, path: str) -> Dict[str, Any]:
    if not isinstance(data, dict):
        raise SchemaError(f"{path}: expected an object, got {_kind(data)}")
    hints = _hints(cls)
    out: Dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        value = data.get(f.name)
        if value is None:
            continue
        where = f"{path}.{f.name}"
        nested = cls._nested.get(f.name)
        if nested is None:
            out[f.name] = _scalar(hints[f.name], value, where)
        elif isinstance(nested, list):
            out[f.name] = [_record(nested[0], v, f"{where}[{i}]") for i, v in enumerate(_items(list, value, where))]
        elif isinstance(nested, set):
            inner = next(iter(nested))
            out[f.name] = {_name(k, where): _record(inner, v, f"{where}.{k}")
                           for k, v in _items(dict, value, where).items()}
        else:
            out[f.name] = _record(nested, value, where)
    return out


def _scalar(hint: Any, value: Any, path: str) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    kind = args[0]
    if kind is str:
        return _string(value, path)
    if kind is bool:
        if not isinstance(value, bool):
            raise SchemaError(f"{path}: expected true or false, got {_kind(value)}")
        return value
    if kind in (int, float):
        return _number(value, path, integral=kind is int)
    if typing.get_origin(kind) is dict:  # free-form JSON objects: extras, a plan window's pace
        return _free(_items(dict, value, path), path, 0, [0])
    raise SchemaError(f"{path}: unsupported field")  # a field type this checker does not know yet


def _string(value: Any, path: str, limit: int = MAX_STRING) -> str:
    if not isinstance(value, str):
        raise SchemaError(f"{path}: expected a string, got {_kind(value)}")
    if len(value) > limit:
        raise SchemaError(f"{path}: longer than {limit} characters")
    return value


def _number(value: Any, path: str, integral: bool = False) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"{path}: expected a finite number, got {_kind(value)}")
    if (isinstance(value, float) and not math.isfinite(value)) or abs(value) > MAX_NUMBER:
        raise SchemaError(f"{path}: expected a finite number within ±{MAX_NUMBER:g}")
    if integral:
        if isinstance(value, float) and not value.is_integer():
            raise SchemaError(f"{path}: expected a whole number")
        return int(value)
    return value


def _items(kind: type, value: Any, path: str) -> Any:
    if not isinstance(value, kind):
        raise SchemaError(f"{path}: expected {'an array' if kind is list else 'an object'}, got {_kind(value)}")
    if len(value) > MAX_ITEMS:
        raise SchemaError(f"{path}: more than {MAX_ITEMS} items")
    return value


def _name(key: str, path: str) -> str:
    if len(key) > MAX_ID or not key.isprintable():
        raise SchemaError(f"{path}: key {key[:40]!r}: 1-{MAX_ID} printable characters")
    return key


def _free(value: Any, path: str, depth: int, count: List[int]) -> Any:
    """Free-form JSON (extras): bounded depth, items and strings, finite numbers."""
    count[0] += 1
    if count[0] > MAX_EXTRAS_ITEMS:
        raise SchemaError(f"{path}: extras hold more than {MAX_EXTRAS_ITEMS} values")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return _number(value, path)
    if isinstance(value, str):
        return _string(value, path)
    if depth >= MAX_EXTRAS_DEPTH:
        raise SchemaError(f"{path}: nested deeper than {MAX_EXTRAS_DEPTH}")
    if isinstance(value, list):
        return [_free(v, f"{path}[{i}]", depth + 1, count) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {_name(k, path): _free(v, f"{path}.{k}", depth + 1, count) for k, v in value.items()}
    raise SchemaError(f"{path}: expected JSON, got {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", str: "string", int: "number", float: "number", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)

