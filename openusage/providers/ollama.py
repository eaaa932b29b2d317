"""Ollama (local server): loaded models with their memory, installed models, the server version. No key.

{"id": "ollama", "provider": "ollama", "base_url": "http://127.0.0.1:11434", "timeout_seconds": 5}

The base is the account's `base_url`, else `OLLAMA_HOST` (which may lack a scheme or port, as Ollama itself
accepts), else http://127.0.0.1:11434.
- `GET /api/ps`: `models[]` {`name`, `model`, `size`, `size_vram`, `expires_at`, `context_length`,
  `details`} -> `extras.loaded_models`;
- `GET /api/tags`: `models[]` {`name`, `modified_at`, `size`, `digest`, `details` {`family`,
  `parameter_size`, `quantization_level`}, `remote_model`/`remote_host` for cloud models}
  -> `extras.installed_models`;
- `GET /api/version`: `version`.
Token counts exist only in generation responses and server logs, so this provider has no usage numbers.
Docs: github.com/ollama/ollama/blob/main/docs/api.md (List Running Models, List Local Models, Version).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from openusage.core.snapshot import UsageSnapshot
from openusage.providers import api_support as api
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, ProviderError

PROVIDER_ID = "ollama"
DEFAULT_BASE = "http://127.0.0.1:11434"
HOST_ENV = "OLLAMA_HOST"
DEFAULT_PORT = "11434"
DEFAULT_TIMEOUT = 5.0  # a local server answers at once or is not running


class OllamaProvider(Provider):
    id = PROVIDER_ID
    name = "Ollama (local)"
    source_modes = ("api",)  # a local HTTP API
    env_vars = (HOST_ENV,)
    default_interval = 30.0  # free and local
    widgets = {
        "figures": ["extras.loaded_count", "extras.vram_bytes", "extras.installed_count"],
        "sections": ["loaded_models", "installed_models"],
    }

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        if env.get(HOST_ENV):
            return [AccountConfig(id=PROVIDER_ID, provider=PROVIDER_ID, detected_by=f"env:{HOST_ENV}")]
        path = which("ollama")
        if path:
            return [AccountConfig(id=PROVIDER_ID, provider=PROVIDER_ID, detected_by=f"path:{path}")]
        return []

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        base = account.base_url.rstrip("/") if account.base_url else normalize_host(ctx.env.get(HOST_ENV))

        def get(path: str, what: str) -> Dict[str, Any]:
            return api.get_object(ctx, account, f"{base}{path}", {"Accept": "application/json"}, what,
                                  default_timeout=DEFAULT_TIMEOUT)

        try:
            running = get("/api/ps", "running models")
        except ProviderError as exc:
            if exc.status == "ERR" and exc.message.startswith(("connection failed", "request timed out")):
                raise ProviderError("ERR", f"Ollama is not answering at {base} ({exc.message})") from exc
            raise
        installed = get("/api/tags", "installed models")
        try:
            version = get("/api/version", "version").get("version")
        except ProviderError:
            version = None  # older servers: the rest is what matters
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "Ollama")
        apply_models(snap, running.get("models") or [], installed.get("models") or [], version)
        snap.extras["base_url"] = base
        return FetchResult(snapshot=snap)


# --- parsing (pure) -------------------------------------------------------------------------


def normalize_host(value: Optional[str]) -> str:
    """An OLLAMA_HOST value as a URL: `0.0.0.0`, `host:port`, `http://host` and `[::1]:8080` all work."""
    text = (value or "").strip()
    if not text:
        return DEFAULT_BASE
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest, port = "http", text, DEFAULT_PORT
    else:
        port = {"http": "80", "https": "443"}.get(scheme, DEFAULT_PORT)
    hostport, _, path = rest.partition("/")
    host = hostport
    if hostport.startswith("["):  # [v6]:port
        end = hostport.find("]")
        host, tail = hostport[:end + 1], hostport[end + 1:]
        if tail.startswith(":") and tail[1:]:
            port = tail[1:]
    elif hostport.count(":") == 1:
        host, _, maybe_port = hostport.partition(":")
        port = maybe_port or port
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"  # a listen-everywhere address is reached through loopback
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}" + (f"/{path}".rstrip("/") if path else "")


def _details(model: Dict[str, Any]) -> Dict[str, Any]:
    details = model.get("details") if isinstance(model.get("details"), dict) else {}
    return {k: details[k] for k in ("family", "parameter_size", "quantization_level") if details.get(k)}


def loaded_model(model: Dict[str, Any]) -> Dict[str, Any]:
    out = {"name": model.get("name") or model.get("model"), "size": api.as_int(model.get("size")),
           "size_vram": api.as_int(model.get("size_vram")), "expires_at": model.get("expires_at"),
           "context_length": api.as_int(model.get("context_length"))}
    out.update(_details(model))
    return {k: v for k, v in out.items() if v is not None}


def installed_model(model: Dict[str, Any]) -> Dict[str, Any]:
    out = {"name": model.get("name") or model.get("model"), "size": api.as_int(model.get("size")),
           "modified_at": model.get("modified_at"), "remote_host": model.get("remote_host")}
    out.update(_details(model))
    return {k: v for k, v in out.items() if v is not None}


def apply_models(snap: UsageSnapshot, running: List[Any], installed: List[Any], version: Optional[str]) -> None:
    loaded = [loaded_model(m) for m in running if isinstance(m, dict)]
    local = [installed_model(m) for m in installed if isinstance(m, dict)]
    extras: Dict[str, Any] = {
        "loaded_models": loaded,
        "loaded_count": len(loaded),
        "vram_bytes": sum(m.get("size_vram") or 0 for m in loaded),
        "installed_models": local,
        "installed_count": len(local),
    }
    if version:
        extras["version"] = version
    snap.extras = extras
    snap.message = f"{len(loaded)} loaded, {len(local)} installed"
