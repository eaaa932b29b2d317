"""The daemon's HTTP routes: each handler validates, calls one service function, returns JSON."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, Tuple

from openusage.core.windows import WINDOWS, WindowError, validate_window
from openusage.daemon import pipeline
from openusage.daemon.client import RECEIVED_AT_HEADER
from openusage.httpserver import ApiError, Request, Routes
from openusage.providers import REGISTRY

if TYPE_CHECKING:
    from openusage.daemon.app import Daemon

def build_routes(daemon: Daemon) -> Routes:
    routes = Routes()
    routes.add("GET", "/healthz", lambda r: health(daemon, r))
    routes.add("GET", "/health", lambda r: health(daemon, r))
    routes.add("POST", "/v1/hook/{}", lambda r: hook(daemon, r))
    routes.add("POST", "/v1/read-model", lambda r: read_model(daemon, r))
    routes.add("POST", "/v1/refresh", lambda r: refresh(daemon, r))
    routes.add("GET", "/v1/providers", lambda r: providers(daemon, r))
    routes.add("GET", "/v1/usage", lambda r: usage(daemon, r))
    routes.add("GET", "/v1/usage/{}", lambda r: usage(daemon, r))
    routes.add("POST", "/v1/cache/clear", lambda r: cache_clear(daemon, r))
    routes.add("GET", "/metrics", lambda r: prometheus(daemon, r))
    routes.add("GET", "/v1/alerts", lambda r: alerts(daemon, r))
    routes.add("POST", "/v1/alerts/seen", lambda r: alerts_seen(daemon, r))
    routes.add("POST", "/v1/alerts/test", lambda r: alerts_test(daemon, r))
    return routes


def prometheus(daemon: Daemon, req: Request) -> Tuple[int, str]:
    from openusage.hub import metrics

    window = _window(req.query.get("window"), daemon.default_window())
    snaps = daemon.read_model(window)["snapshots"].values()
    return 200, metrics.render(((None, s) for s in snaps), alerts=[(None, a) for a in daemon.alerts.firing()])


def health(daemon: Daemon, req: Request) -> Tuple[int, Dict[str, Any]]:
    body = daemon.health()
    return (200 if body["status"] == "ok" else 503), body


def _received_at(req: Request) -> float:
    value = req.headers.get(RECEIVED_AT_HEADER)
    if value:
        try:
            stamp = float(value)
        except ValueError as exc:
            raise ApiError(400, f"bad {RECEIVED_AT_HEADER} header") from exc
        if not 0 < stamp < pipeline.LATEST_EPOCH:  # also NaN and inf: a time the store cannot bucket
            raise ApiError(400, f"{RECEIVED_AT_HEADER} header out of range")
        return stamp
    return time.time()


def hook(daemon: Daemon, req: Request) -> Tuple[int, Dict[str, Any]]:
    source = req.param or ""
    try:
        result = daemon.ingest_delivery(source, req.body, req.query.get("account_id") or None, _received_at(req))
    except pipeline.HookError as exc:
        raise ApiError(400, str(exc)) from exc
    except TimeoutError as exc:
        raise ApiError(503, "store busy; event not committed, retry or spool") from exc
    return 200, result


def _window(value: Any, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ApiError(400, "window must be a string")
    try:
        return validate_window(value)
    except WindowError as exc:
        raise ApiError(400, str(exc)) from exc


def read_model(daemon: Daemon, req: Request) -> Tuple[int, Dict[str, Any]]:
    body = req.json()
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object like {\"window\": \"7d\"}")
    window = _window(body.get("window"), daemon.default_window())
    return 200, daemon.read_model(window)


def usage(daemon: Daemon, req: Request) -> Tuple[int, Dict[str, Any]]:
    window = _window(req.query.get("window"), daemon.default_window())
    model = daemon.read_model(window)
    if req.param:
        picked = {k: s for k, s in model["snapshots"].items() if s["provider_id"] == req.param}
        if not picked:
            raise ApiError(404, f"no account of provider {req.param!r}")
        model["snapshots"] = picked
    return 200, model


def providers(daemon: Daemon, req: Request) -> Tuple[int, Dict[str, Any]]:
    accounts = daemon.scheduler.accounts()
    status = daemon.scheduler.status()
    out = []
    for provider in REGISTRY.values():
        entry = provider.describe()
        entry["accounts"] = [
            {"id": a.id, "detected_by": a.detected_by, **status.get(f"{a.provider}:{a.id}", {})}
            for a in accounts if a.provider == provider.id
        ]
        out.append(entry)
    return 200, {"providers": out, "windows": list(WINDOWS)}


def refresh(daemon: Daemon, req: Request) -> Tuple[int, Dict[str, Any]]:
    body = req.json()
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    target = body.get("provider")
    if target is not None and not isinstance(target, str):
        raise ApiError(400, "provider must be a string")
    matched = daemon.scheduler.request_refresh(target)
    if target and not matched:
        raise ApiError(404, f"no account of provider {target!r}")
    return 202, {"scheduled": matched}


def cache_clear(daemon: Daemon, req: Request) -> Tuple[int, Dict[str, Any]]:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("history", False), bool):
        raise ApiError(400, "body must be {\"history\": true|false}")
    return 200, daemon.clear_cache(history=body.get("history", False))


def alerts(daemon: Daemon, req: Request) -> Tuple[int, Dict[str, Any]]:
    return 200, daemon.alerts.view()


def alerts_seen(daemon: Daemon, req: Request) -> Tuple[int, Dict[str, Any]]:
    body = req.json()
    if not isinstance(body, dict) or any(not isinstance(body.get(k, ""), str)
                                         for k in ("provider_id", "account_id")):
        raise ApiError(400, "body must be {} or {\"provider_id\": ID, \"account_id\": ID}")
    return 200, {"seen": daemon.alerts.mark_seen(body.get("provider_id"), body.get("account_id"))}


def alerts_test(daemon: Daemon, req: Request) -> Tuple[int, Dict[str, Any]]:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("rule", ""), str):
        raise ApiError(400, "body must be {} or {\"rule\": RULE_ID}")
    try:
        return 200, daemon.alerts.test(body.get("rule") or None)
    except KeyError as exc:
        raise ApiError(404, f"no alert rule {body.get('rule')!r}") from exc
