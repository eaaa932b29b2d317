"""Browser session cookies for providers whose usage is only reachable with a web session.

Imported by `openusage auth import-cookies` from a browser export (JSON or Netscape cookies.txt),
kept per provider in $STATE/cookies/<provider>.json with mode 0600, never in settings.json.
"""
from __future__ import annotations

import json
import os
import time
from typing import Dict, List, Optional

from openusage import paths


class CookieError(ValueError):
    pass


def cookie_dir() -> str:
    return os.path.join(paths.state_dir(), "cookies")


def cookie_path(provider_id: str) -> str:
    return os.path.join(cookie_dir(), f"{provider_id}.json")


def parse_json(text: str) -> List[Dict[str, object]]:
    """A browser-extension JSON export: a list of {name, value, domain, path, expirationDate|expires}."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CookieError(f"not valid JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("cookies"), list):
        data = data["cookies"]
    if not isinstance(data, list):
        raise CookieError("expected a JSON array of cookies")
    cookies = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or "value" not in item:
            raise CookieError(f"cookie {i}: needs at least \"name\" and \"value\"")
        expires = item.get("expirationDate", item.get("expires"))
        cookies.append({"name": item["name"], "value": str(item["value"]), "domain": str(item.get("domain", "")),
                        "path": str(item.get("path", "/")),
                        "expires": float(expires) if isinstance(expires, (int, float)) else None})
    return cookies


def parse_netscape(text: str) -> List[Dict[str, object]]:
    """A Netscape cookies.txt: domain, flag, path, secure, expiry, name, value (tab separated)."""
    cookies = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_"):]
        elif not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 7:
            raise CookieError(f"line {n}: expected 7 tab-separated fields, got {len(fields)}")
        domain, _flag, path, _secure, expiry, name, value = fields
        try:
            expires: Optional[float] = float(expiry) or None
        except ValueError as exc:
            raise CookieError(f"line {n}: expiry {expiry!r} is not a number") from exc
        cookies.append({"name": name, "value": value, "domain": domain, "path": path, "expires": expires})
    if not cookies:
        raise CookieError("no cookies found")
    return cookies


def for_domains(cookies: List[Dict[str, object]], domains: List[str]) -> List[Dict[str, object]]:
    """The cookies that belong to any of the domains (and their subdomains)."""
    def matches(domain: str) -> bool:
        domain = domain.lstrip(".").lower()
        return any(domain == d or domain.endswith("." + d) for d in domains)

    return [c for c in cookies if matches(str(c["domain"]))]


def save(provider_id: str, cookies: List[Dict[str, object]]) -> str:
    directory = cookie_dir()
    paths.ensure_private_dir(directory)
    path = cookie_path(provider_id)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"imported_at": time.time(), "cookies": cookies}, fh)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def load(provider_id: str, now: Optional[float] = None) -> Dict[str, str]:
    """name -> value of the provider's unexpired cookies (empty when none were imported)."""
    now = time.time() if now is None else now
    try:
        with open(cookie_path(provider_id), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return {c["name"]: c["value"] for c in data.get("cookies", [])
            if not c.get("expires") or c["expires"] > now}
