"""settings.json checked: every problem named by its key path, and unknown keys worth a warning.

config.py loads and saves the file; this module only judges a settings object (DESIGN section 4).
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List

from openusage.core.windows import WINDOWS

THEME_NAMES = ("dark", "light", "high-contrast")  # the values `theme` takes; tui/themes.py defines each

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_LOOKING = re.compile(r"^(sk-|sk_|xai-|gsk_|AIza|ghp_|gho_|github_pat_)")
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]*$")


# --- validation -------------------------------------------------------------------------------


def validate(raw: Any) -> List[str]:
    """Every problem in a settings object, each naming its key path."""
    if not isinstance(raw, dict):
        return ["top level: expected a JSON object"]
    errors: List[str] = []
    _check_type(errors, raw, "auto_detect", bool)
    _check_section(errors, raw, "ui", _validate_ui)
    if _check_type(errors, raw, "theme", str):
        if raw["theme"] not in THEME_NAMES:
            errors.append(f"theme: must be one of {', '.join(THEME_NAMES)}, got {raw['theme']!r}")
    _check_section(errors, raw, "data", _validate_data)
    if "accounts" in raw:
        _validate_accounts(errors, raw["accounts"])
    _check_section(errors, raw, "telemetry", _validate_telemetry)
    _check_section(errors, raw, "export", _validate_export)
    _check_section(errors, raw, "hub", _validate_hub)
    _check_type(errors, raw, "integrations", dict)
    _check_section(errors, raw, "dashboard", _validate_dashboard)
    _check_section(errors, raw, "alerts", _validate_alerts)
    return errors


# --- unknown keys: kept, but worth a warning (a typo is a setting silently not applied) ----------

KNOWN_KEYS: Dict[str, Any] = {
    "": ("auto_detect", "ui", "theme", "data", "accounts", "telemetry", "export", "hub", "integrations",
         "dashboard", "alerts"),
    "ui": ("refresh_interval_seconds", "warn_threshold", "crit_threshold"),
    "data": ("time_window", "retention_days"),
    "telemetry": ("provider_links",),
    "export": ("target", "interval_seconds", "machine_name"),
    "hub": ("listen", "stale_timeout_seconds"),
    "dashboard": ("providers",),
    "alerts": ("rules", "notify"),
}
ACCOUNT_KEYS = ("id", "provider", "api_key_env", "base_url", "probe_model", "enabled", "display_name")
# Provider-specific account keys the built-in providers read (openusage-settings(5)); plugins may
# read others, so an account key is only questioned when it looks like a misspelt known one.
PROVIDER_ACCOUNT_KEYS = ("admin_key_env", "management_key_env", "command", "timeout_seconds", "interval_seconds",
                         "host", "state_db", "team_id", "probe", "deployment", "api_version", "region", "currency",
                         "low_balance", "activity", "management_base_url", "usage_api_base", "web_base_url", "paths")
DASHBOARD_PROVIDER_KEYS = ("id", "enabled", "hide_costs")
NOTIFY_KEYS = ("desktop", "command", "command_timeout_seconds", "cooldown_seconds")
# Names people reach for that are spelt differently here (some from other tools' settings).
ALIASES = {"name": "display_name", "title": "display_name", "label": "display_name", "key_env": "api_key_env",
           "api_key_var": "api_key_env", "env": "api_key_env", "url": "base_url", "endpoint": "base_url",
           "type": "provider", "disabled": "enabled", "refresh_interval": "refresh_interval_seconds",
           "window": "time_window", "retention": "retention_days"}


def warnings(raw: Any) -> List[str]:
    """Keys openusage does not know, each with a did-you-mean when one is close; they are kept, not errors."""
    if not isinstance(raw, dict):
        return []
    out: List[str] = []
    for section, known in KNOWN_KEYS.items():
        obj = raw if not section else raw.get(section)
        if isinstance(obj, dict):
            out += _unknown(obj, known, section + "." if section else "", strict=True)
    for i, acct in enumerate(raw.get("accounts") or [] if isinstance(raw.get("accounts"), list) else []):
        if isinstance(acct, dict):
            out += _unknown(acct, ACCOUNT_KEYS + PROVIDER_ACCOUNT_KEYS, f"accounts[{i}].", strict=False)
    dash = raw.get("dashboard")
    for i, entry in enumerate(dash.get("providers") or [] if isinstance(dash, dict) and
                              isinstance(dash.get("providers"), list) else []):
        if isinstance(entry, dict):
            out += _unknown(entry, DASHBOARD_PROVIDER_KEYS, f"dashboard.providers[{i}].", strict=True)
    return out + _alert_warnings(raw.get("alerts"))


def _alert_warnings(alerts: Any) -> List[str]:
    """Unknown keys of alerts.notify and of each rule (a key of another kind of rule included)."""
    if not isinstance(alerts, dict):
        return []
    out: List[str] = []
    if isinstance(alerts.get("notify"), dict):
        out += _unknown(alerts["notify"], NOTIFY_KEYS, "alerts.notify.", strict=True)
    for i, rule in enumerate(alerts["rules"] if isinstance(alerts.get("rules"), list) else []):
        if isinstance(rule, dict) and rule.get("when") in ALERT_KINDS:
            required, optional = ALERT_KINDS[rule["when"]]
            out += _unknown(rule, _RULE_COMMON + required + optional, f"alerts.rules[{i}].", strict=True)
    return out


def _unknown(obj: Dict[str, Any], known: tuple, prefix: str, strict: bool) -> List[str]:
    """Warnings for obj's keys outside `known`; not strict: only those with a close known name."""
    import difflib

    out = []
    for key in obj:
        if key in known or not isinstance(key, str) or key.endswith("_key_env"):
            continue
        guess = ALIASES.get(key) if ALIASES.get(key) in known else None
        if guess is None:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
            guess = close[0] if close else None
        if guess is not None:
            out.append(f"{prefix}{key}: unknown key; did you mean {guess}?")
        elif strict:
            out.append(f"{prefix}{key}: unknown key (kept, not used)")
    return out


def _check_type(errors: List[str], obj: Dict[str, Any], key: str, kind: type, prefix: str = "") -> bool:
    if key not in obj or obj[key] is None:
        return False
    value = obj[key]
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        errors.append(f"{prefix}{key}: expected {_kind_name(kind)}, got {_json_type(value)}")
    return ok


def _kind_name(kind: type) -> str:
    return {bool: "true or false", str: "a string", int: "an integer", float: "a number",
            dict: "an object", list: "an array"}[kind]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", int: "a number", float: "a number", dict: "an object",
            list: "an array"}.get(type(value), type(value).__name__)


def _check_section(errors: List[str], raw: Dict[str, Any], key: str, check) -> None:
    if key in raw and raw[key] is not None:
        if _check_type(errors, raw, key, dict):
            check(errors, raw[key], key + ".")


def _check_range(errors, obj, key, prefix, low=None, high=None, integer=False) -> None:
    if not _check_type(errors, obj, key, int if integer else float, prefix):
        return
    value = obj[key]
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        errors.append(f"{prefix}{key}: must be {bounds}, got {value}")


def _check_url(errors, obj, key, prefix) -> None:
    if _check_type(errors, obj, key, str, prefix):
        from urllib.parse import urlparse

        parsed = urlparse(obj[key])
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            errors.append(f"{prefix}{key}: not a URL")


def _validate_ui(errors, ui, prefix) -> None:
    _check_range(errors, ui, "refresh_interval_seconds", prefix, low=1)
    _check_range(errors, ui, "warn_threshold", prefix, low=0, high=1)
    _check_range(errors, ui, "crit_threshold", prefix, low=0, high=1)


def _validate_data(errors, data, prefix) -> None:
    if _check_type(errors, data, "time_window", str, prefix) and data["time_window"] not in WINDOWS:
        errors.append(f"{prefix}time_window: must be one of {', '.join(WINDOWS)}")
    _check_range(errors, data, "retention_days", prefix, low=1, integer=True)


def _validate_accounts(errors: List[str], accounts: Any) -> None:
    if not isinstance(accounts, list):
        errors.append(f"accounts: expected an array, got {_json_type(accounts)}")
        return
    seen: Dict[str, int] = {}
    for i, acct in enumerate(accounts):
        prefix = f"accounts[{i}]."
        if not isinstance(acct, dict):
            errors.append(f"accounts[{i}]: expected an object, got {_json_type(acct)}")
            continue
        for key in ("id", "provider"):
            if not isinstance(acct.get(key), str) or not acct[key].strip():
                errors.append(f"{prefix}{key}: required, a non-empty string")
        acct_id = acct.get("id")
        if isinstance(acct_id, str) and acct_id:
            if not _ACCOUNT_ID.match(acct_id):
                errors.append(f"{prefix}id: use letters, digits and _ . @ : - only")
            if acct_id in seen:
                errors.append(f"{prefix}id: duplicate of accounts[{seen[acct_id]}].id")
            seen.setdefault(acct_id, i)
        if _check_type(errors, acct, "api_key_env", str, prefix):
            name = acct["api_key_env"]
            if _SECRET_LOOKING.match(name):
                errors.append(f"{prefix}api_key_env: looks like a key itself; name the environment "
                              "variable that holds it")
            elif not _ENV_NAME.match(name):
                errors.append(f"{prefix}api_key_env: not an environment variable name")
        if "api_key" in acct:
            errors.append(f"{prefix}api_key: keys are never stored in settings.json; use api_key_env")
        for url_key in ("base_url", "usage_api_base", "oauth_api_base"):
            if url_key in acct and acct[url_key] is not None:
                _check_url(errors, acct, url_key, prefix)
        _check_type(errors, acct, "probe_model", str, prefix)
        paths = acct.get("paths")
        if paths is not None and (not isinstance(paths, list) or not paths
                                  or not all(isinstance(p, str) and p.strip() for p in paths)):
            errors.append(f"{prefix}paths: expected a non-empty array of directory paths")
        _check_type(errors, acct, "enabled", bool, prefix)
        _check_type(errors, acct, "display_name", str, prefix)


def _validate_telemetry(errors, tele, prefix) -> None:
    if _check_type(errors, tele, "provider_links", dict, prefix):
        for source, target in tele["provider_links"].items():
            if not isinstance(target, str) or not target:
                errors.append(f"{prefix}provider_links.{source}: expected a provider id string")


def _validate_export(errors, export, prefix) -> None:
    if export.get("target") is not None:
        _check_url(errors, export, "target", prefix)
    _check_range(errors, export, "interval_seconds", prefix, low=5)
    _check_type(errors, export, "machine_name", str, prefix)


def _validate_hub(errors, hub, prefix) -> None:
    if _check_type(errors, hub, "listen", str, prefix):
        host, sep, port = hub["listen"].rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            errors.append(f"{prefix}listen: expected HOST:PORT, got {hub['listen']!r}")
    _check_range(errors, hub, "stale_timeout_seconds", prefix, low=1)


def _validate_dashboard(errors, dash, prefix) -> None:
    if not _check_type(errors, dash, "providers", list, prefix):
        return
    for i, entry in enumerate(dash["providers"]):
        where = f"{prefix}providers[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            errors.append(f"{where}: expected an object with an \"id\" string")
            continue
        _check_type(errors, entry, "enabled", bool, where + ".")
        _check_type(errors, entry, "hide_costs", bool, where + ".")


# when kind -> (required keys, optional keys) besides id, when, provider, account, enabled
ALERT_KINDS = {
    "rate_limit": (("used_percent_at_least",), ("limit", "rearm_margin")),
    "projected_exhaustion": ((), ("limit", "before_reset")),
    "spend": (("window", "at_least_usd"), ("rearm_margin",)),
    "balance": (("at_most",), ("rearm_margin",)),
    "status": (("status",), ("for_seconds",)),
}
_RULE_COMMON = ("id", "when", "provider", "account", "enabled")


def _validate_alerts(errors, alerts, prefix) -> None:
    if _check_type(errors, alerts, "rules", list, prefix):
        seen: Dict[str, int] = {}
        for i, rule in enumerate(alerts["rules"]):
            _validate_rule(errors, rule, f"{prefix}rules[{i}]", seen, i)
    _check_section(errors, alerts, "notify", lambda e, n, p: _validate_notify(e, n, prefix + p))


def _validate_rule(errors, rule, where, seen, index) -> None:
    if not isinstance(rule, dict):
        errors.append(f"{where}: expected an object, got {_json_type(rule)}")
        return
    prefix = where + "."
    rule_id = rule.get("id")
    if not isinstance(rule_id, str) or not _ACCOUNT_ID.match(rule_id):
        errors.append(f"{prefix}id: required, letters, digits and _ . @ : - only")
    elif rule_id in seen:
        errors.append(f"{prefix}id: duplicate of {where.rsplit('[', 1)[0]}[{seen[rule_id]}].id")
    else:
        seen[rule_id] = index
    kind = rule.get("when")
    if kind not in ALERT_KINDS:
        errors.append(f"{prefix}when: must be one of {', '.join(ALERT_KINDS)}")
        return
    required, optional = ALERT_KINDS[kind]
    for key in required:
        if rule.get(key) is None:
            errors.append(f"{prefix}{key}: required for a {kind} rule")
    for key in ("provider", "account", "limit"):
        if _check_type(errors, rule, key, str, prefix) and not rule[key]:
            errors.append(f"{prefix}{key}: a provider, account or limit name, or \"*\"")
    _check_type(errors, rule, "enabled", bool, prefix)
    _check_type(errors, rule, "before_reset", bool, prefix)
    _check_range(errors, rule, "used_percent_at_least", prefix, low=0)
    _check_range(errors, rule, "at_least_usd", prefix, low=0)
    _check_type(errors, rule, "at_most", float, prefix)
    _check_range(errors, rule, "rearm_margin", prefix, low=0)
    _check_range(errors, rule, "for_seconds", prefix, low=0)
    if _check_type(errors, rule, "window", str, prefix) and rule["window"] not in WINDOWS:
        errors.append(f"{prefix}window: must be one of {', '.join(WINDOWS)}")
    if "status" in rule and rule["status"] is not None:
        from openusage.core.snapshot import STATUSES

        states = rule["status"]
        if not isinstance(states, list) or not states or any(s not in STATUSES for s in states):
            errors.append(f"{prefix}status: a non-empty array of {', '.join(STATUSES)}")


def _validate_notify(errors, notify, prefix) -> None:
    _check_type(errors, notify, "desktop", bool, prefix)
    _check_range(errors, notify, "cooldown_seconds", prefix, low=0)
    _check_range(errors, notify, "command_timeout_seconds", prefix, low=0.1, high=300)
    if not _check_type(errors, notify, "command", list, prefix):
        return
    argv = notify["command"]
    if not argv or not all(isinstance(a, str) and a for a in argv):
        errors.append(f"{prefix}command: an array of non-empty strings, the program first")
    elif not os.path.isabs(os.path.expanduser(argv[0])):
        errors.append(f"{prefix}command[0]: must be an absolute path (no shell, no PATH search)")
