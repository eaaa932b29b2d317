"""settings.json: load, validate, merge with detection, rewrite keeping unknown keys (DESIGN section 4).

Loading, validation and the running state are kept apart: this module only turns a file into a
validated Settings value and back; what a valid file is lives in settings_check.py.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from openusage import agents, paths
from openusage.settings_check import validate, warnings  # noqa: F401 (part of this module's API)

# Telemetry provider names -> provider ids: the agents' rows, then the API providers'.
DEFAULT_LINKS = {**agents.default_links(), "google": "gemini_api", "github-copilot": "copilot"}

DEFAULTS: Dict[str, Any] = {
    "auto_detect": True,
    "ui": {"refresh_interval_seconds": 30, "warn_threshold": 0.20, "crit_threshold": 0.05},
    "theme": "dark",
    "data": {"time_window": "30d", "retention_days": 30},
    "accounts": [],
    "telemetry": {"provider_links": {}},
    "export": {"target": None, "interval_seconds": 60, "machine_name": None},
    "hub": {"listen": "127.0.0.1:9190", "stale_timeout_seconds": 300},
    "integrations": {},
    "dashboard": {"providers": []},
    # With no `alerts` key: one rule at 90 % of any plan window, a desktop notification where one exists.
    "alerts": {
        "rules": [{"id": "plan-90", "when": "rate_limit", "provider": "*", "limit": "*",
                   "used_percent_at_least": 90}],
        "notify": {"desktop": True, "command": None, "command_timeout_seconds": 10, "cooldown_seconds": 3600},
    },
}



class ConfigError(ValueError):
    """settings.json is unreadable or invalid; the message names the key path."""

    def __init__(self, errors: List[str], path: str = ""):
        self.errors = errors
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(where + errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))


@dataclass
class Settings:
    """settings.json as read: the raw document, where it lives and whether it exists."""

    raw: Dict[str, Any]  # the file as read, unknown keys included
    path: str
    exists: bool = True
    merged: Dict[str, Any] = field(default_factory=dict)  # defaults + raw

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.merged
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def accounts(self) -> List[Dict[str, Any]]:
        return list(self.merged.get("accounts") or [])

    @property
    def provider_links(self) -> Dict[str, str]:
        links = dict(DEFAULT_LINKS)
        links.update(self.get("telemetry.provider_links") or {})
        return links

    @property
    def retention_days(self) -> int:
        return int(self.get("data.retention_days", 30))


def _merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load(path: Optional[str] = None, create: bool = False) -> Settings:
    """Read and validate settings.json; a missing file gives the defaults, unless it was named (--config)
    by a command that only reads it (`create`: the command writes it, as integrations install does)."""
    resolved = paths.config_path(path)
    if path and not create and not os.path.exists(resolved):
        raise ConfigError(["no such file (a file named by --config must exist)"], resolved)
    if not os.path.exists(resolved):
        return Settings(raw={}, path=resolved, exists=False, merged=copy.deepcopy(DEFAULTS))
    try:
        with open(resolved, encoding="utf-8") as fh:
            raw = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"], resolved) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read: {exc}"], resolved) from None
    errors = validate(raw)
    if errors:
        raise ConfigError(errors, resolved)
    return Settings(raw=raw, path=resolved, exists=True, merged=_merge(DEFAULTS, raw))


def save(settings: Settings) -> None:
    """Rewrite settings.json atomically (0600), keeping every key the file had."""
    directory = os.path.dirname(settings.path)
    os.makedirs(directory, exist_ok=True)
    import tempfile  # here, not at import: every command loads settings, few save them

    fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(settings.raw, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, settings.path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    settings.exists = True
    settings.merged = _merge(DEFAULTS, settings.raw)
