"""The provider interface: what a built-in or plugin provider declares and how it is called.

A provider never draws and never touches the outside world except through the FetchContext it is
given, so built-ins and plugins are tested the same way (DESIGN section 9).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

from openusage.core import redact
from openusage.core.events import UsageEvent
from openusage.core.snapshot import UsageSnapshot

if TYPE_CHECKING:
    import subprocess

SOURCE_MODES = ("api", "oauth", "local", "cli", "web")


class ProviderError(Exception):
    """A fetch failed in a way that maps to a snapshot status (AUTH, LIMIT, ERR); its message is masked."""

    def __init__(self, status: str, message: str, resets_at: Optional[str] = None):
        message = redact.mask(message)
        super().__init__(message)
        self.status = status
        self.message = message
        self.resets_at = resets_at


def failure(exc: BaseException) -> Tuple[str, str]:
    """The status and the (masked, short) message a fetch that raised `exc` shows."""
    if isinstance(exc, ProviderError):
        return exc.status, exc.message
    return "ERR", redact.clip(f"{type(exc).__name__}: {exc}", 200)


@dataclass
class AccountConfig:
    """One configured (or detected) account of a provider."""

    id: str
    provider: str
    api_key_env: Optional[str] = None
    base_url: Optional[str] = None
    probe_model: Optional[str] = None
    enabled: bool = True
    display_name: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)  # provider-specific keys
    detected_by: Optional[str] = None  # where detection found it; None when configured

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> AccountConfig:
        known = {"id", "provider", "api_key_env", "base_url", "probe_model", "enabled", "display_name"}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(
            id=data["id"],
            provider=data["provider"],
            api_key_env=data.get("api_key_env"),
            base_url=data.get("base_url"),
            probe_model=data.get("probe_model"),
            enabled=data.get("enabled", True),
            display_name=data.get("display_name"),
            extra=extra,
        )

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"id": self.id, "provider": self.provider}
        for key in ("api_key_env", "base_url", "probe_model", "display_name"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if not self.enabled:
            out["enabled"] = False
        out.update(self.extra)
        return out


@dataclass
class FetchResult:
    """What a fetch returns: the snapshot and the events it read (a lazy stream for collectors)."""

    snapshot: UsageSnapshot
    events: List[UsageEvent] = field(default_factory=list)
    # Asked once the events are consumed: whether the fetch changed its state (None: unknown). A
    # caller saves an unchanged state without encoding it to find out.
    state_changed: Optional[Callable[[], bool]] = None


class HttpResponse:
    def __init__(self, status: int, headers: Dict[str, str], body: bytes):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    def json(self) -> Any:
        import json

        return json.loads(self.body.decode("utf-8"))


class FsAccess:
    """File-system access for a provider, rooted at the user's home."""

    def __init__(self, home: str):
        self.home = home

    def expand(self, path: str) -> str:
        if path.startswith("~"):
            return os.path.join(self.home, path[1:].lstrip("/"))
        return path

    def exists(self, path: str) -> bool:
        return os.path.exists(self.expand(path))

    def read_text(self, path: str, limit: int = 16 * 1024 * 1024) -> str:
        with open(self.expand(path), encoding="utf-8", errors="replace") as fh:
            return fh.read(limit)

    def list_dir(self, path: str) -> List[str]:
        return sorted(os.listdir(self.expand(path)))


class EnvAccess:
    """Environment access limited to the variables a provider declares; the values of those that hold
    credentials are registered for masking as they are read."""

    def __init__(self, allowed: Sequence[str], environ: Optional[Dict[str, str]] = None,
                 secret: Sequence[str] = ()):
        self._allowed = set(allowed)
        self._secret = set(secret)
        self._environ = environ if environ is not None else os.environ

    def get(self, name: str) -> Optional[str]:
        if name not in self._allowed:
            raise PermissionError(f"environment variable {name} is not declared by this provider")
        value = self._environ.get(name)
        if value and name in self._secret:
            redact.remember(value)
        return value or None


class HttpAccess:
    """HTTP for providers; requests is imported only when a provider really calls out."""

    def __init__(self, default_timeout: float = 20.0):
        self.default_timeout = default_timeout
        self._session = None

    def request(
        self,
        url: str,
        method: str = "GET",
        headers: Optional[Dict[str, str]] = None,
        body: Any = None,
        timeout: Optional[float] = None,
    ) -> HttpResponse:
        import requests

        if self._session is None:
            self._session = requests.Session()
        redact.remember_headers(headers or {})  # a server may echo the key it refused
        kwargs: Dict[str, Any] = {"headers": headers or {}, "timeout": timeout or self.default_timeout}
        if isinstance(body, (dict, list)):
            kwargs["json"] = body
        elif body is not None:
            kwargs["data"] = body
        try:
            resp = self._session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise ProviderError("ERR", "request timed out") from exc
        except requests.RequestException as exc:
            raise ProviderError("ERR", f"connection failed: {type(exc).__name__}") from exc
        return HttpResponse(resp.status_code, dict(resp.headers), resp.content)


class CommandAccess:
    """Runs only the programs a provider declares, with a timeout."""

    def __init__(self, allowed: Sequence[str]):
        self._allowed = set(allowed)

    def run(self, program: str, args: Sequence[str], timeout: float = 10.0) -> subprocess.CompletedProcess:
        if os.path.basename(program) not in self._allowed and program not in self._allowed:
            raise PermissionError(f"program {program} is not declared by this provider")
        import subprocess  # loaded by the few providers that run a program

        return subprocess.run(
            [program, *args], capture_output=True, timeout=timeout, text=True, stdin=subprocess.DEVNULL
        )


@dataclass
class FetchContext:
    """The only door to the outside a fetch gets."""

    now: float
    log: logging.Logger
    env: EnvAccess
    fs: FsAccess
    http: HttpAccess
    command: CommandAccess
    state: Dict[str, Any]  # per-account incremental state, persisted by the caller after the fetch
    cookies: Dict[str, str] = field(default_factory=dict)  # imported browser cookies (cookie_domains)
    # False when the caller stores no payload of what a local log holds (the reports cache, the daemon:
    # the line stays on disk): a log collector may then leave `raw` out of the events that have an id (an
    # id-less event's key is its payload's fingerprint).
    keep_raw: bool = True
    # False when the caller reads local logs only (the reports cache): no plan-quota request is made.
    live_quota: bool = True
    # True when the caller's store takes store.batch.CountedBatch items among the events (the reports
    # cache and the daemon): a collector may then hand back a worker's read of a file as one batch,
    # with its event rows when event_rows.
    batches: bool = False
    # True when the caller's store keeps event rows (the daemon's): batches carry each event's row.
    event_rows: bool = False


class Provider:
    """Base class of every provider. Subclasses set the class attributes and implement fetch."""

    id: str = ""
    name: str = ""
    source_modes: Sequence[str] = ()
    env_vars: Sequence[str] = ()  # variables the provider may read (besides an account's api_key_env)
    programs: Sequence[str] = ()  # programs the provider may run
    default_interval: float = 60.0  # seconds between polls
    # Seconds one fetch may run before the scheduler gives it up and shows a timeout status; None takes
    # the scheduler's default (30 s). A provider that makes several requests, or reads a whole history
    # on its first poll, sets more.
    fetch_timeout: Optional[float] = None
    emits_events: bool = False  # True for local-file collectors
    cookie_domains: Sequence[str] = ()  # web-session providers: domains whose imported cookies they read
    # What one default poll costs the user: every built-in polls free by default (DESIGN section 9);
    # a provider with an opt-in billed request says so in polling().
    poll_cost: str = "free"
    # Static widget spec: data, not drawing code. gauges: rate-limit names shown as gauges;
    # figures: snapshot fields shown as numbers; sections: detail tabs with data.
    widgets: Dict[str, Any] = {}

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        """Accounts this provider finds on the machine, without any network call."""
        return []

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        raise NotImplementedError

    def polling(self, account: Optional[AccountConfig] = None) -> str:
        """What a poll of this account (or of a default account) costs, in a few words."""
        return self.poll_cost

    def describe(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "source_modes": list(self.source_modes),
            "env_vars": list(self.env_vars),
            "polling": self.polling(),
            "widgets": self.widgets,
        }


def local_snapshot(provider: Provider, account: AccountConfig, extras: Dict[str, Any], dirs: Sequence[str],
                   nothing: str) -> UsageSnapshot:
    """The snapshot a local-log collector starts from: OK when one of `dirs` exists, else UNKNOWN,
    saying `nothing` and where it looked."""
    snapshot = UsageSnapshot(provider_id=provider.id, account_id=account.id,
                             display_name=account.display_name or provider.name, currency="USD", extras=extras)
    if any(os.path.isdir(d) for d in dirs):
        snapshot.status = "OK"
    else:
        snapshot.status = "UNKNOWN"
        snapshot.message = f"{nothing} (looked in {', '.join(dirs)})"
    return snapshot


def make_context(
    provider: Provider,
    account: AccountConfig,
    state: Dict[str, Any],
    log: Optional[logging.Logger] = None,
    home: Optional[str] = None,
    environ: Optional[Dict[str, str]] = None,
    now: Optional[float] = None,
    keep_raw: bool = True,
    live_quota: bool = True,
    batches: bool = False,
    event_rows: bool = False,
) -> FetchContext:
    # The account's keys: api_key_env, the others it names by variable (admin_key_env, ...), and the
    # provider's own key variables.
    secret = list(account_key_names(provider, account))
    allowed = list(dict.fromkeys([*provider.env_vars, *secret]))
    return FetchContext(
        now=now if now is not None else time.time(),
        log=log or logging.getLogger(f"openusage.provider.{provider.id}"),
        env=EnvAccess(allowed, environ, secret),
        fs=FsAccess(home or os.path.expanduser("~")),
        http=HttpAccess(),
        command=CommandAccess(provider.programs),
        state=state,
        cookies=_cookies(provider),
        keep_raw=keep_raw,
        live_quota=live_quota,
        batches=batches,
        event_rows=event_rows,
    )


def account_key_names(provider: Optional[Provider], account: AccountConfig) -> List[str]:
    """The environment variables holding an account's credentials."""
    declared = provider.env_vars if provider is not None else ()
    return list(redact.account_key_names(account.api_key_env, account.extra, declared))


def _cookies(provider: Provider) -> Dict[str, str]:
    if not provider.cookie_domains:
        return {}
    from openusage import cookies

    loaded = cookies.load(provider.id)
    redact.remember(*loaded.values())
    return loaded
