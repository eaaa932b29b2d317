"""What the live plan-quota readers (quota_claude, quota_codex, quota_gemini) share.

A local agent's collector calls `apply` at the end of its fetch. The reader is asked at most once per
account `interval_seconds` (60 by default), later after a failure (doubling, at most MAX_BACKOFF) and
never before a 429's Retry-After has passed; between polls and after a failed one the last reading
stays on the snapshot with its `observed_at`, so every value shows its age. The last reading lives in
the collector's state under "quota" (percentages, times and the plan name: never a token).

Credentials files are only ever read; a token is sent to its own endpoint and nowhere else.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Callable, Dict, Iterable, Iterator, Optional

from openusage.core.snapshot import RateLimit, UsageSnapshot
from openusage.core.timeutil import format_rfc3339, to_epoch
from openusage.providers.base import AccountConfig, FetchContext, HttpResponse, ProviderError

DEFAULT_INTERVAL = 60.0
DEFAULT_TIMEOUT = 8.0  # per request; a fetch (Gemini: up to three) stays inside the scheduler's 30 s
MAX_BACKOFF = 1800.0
STATE_KEY = "quota"

# A reader returns {"windows": {name: {used_percent, resets_at (epoch), window_seconds, limit, used}},
# "plan": str or None} or None when the tool has no sign-in to read; it raises QuotaError.
Reader = Callable[[AccountConfig, FetchContext], Optional[Dict[str, Any]]]


class QuotaError(Exception):
    """A failed quota read: status AUTH or ERR (a 429 is ERR with retry_after), and whether a request went out."""

    def __init__(self, status: str, message: str, retry_after: Optional[float] = None, polled: bool = True):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.polled = polled


# --- requests -----------------------------------------------------------------------------------


def origin(account: AccountConfig, default: str, key: str = "usage_api_base") -> str:
    """The endpoint origin: the account's `usage_api_base` (tests, proxies) or the tool's own."""
    value = account.extra.get(key)
    return (value if isinstance(value, str) and value else default).rstrip("/")


def request_json(ctx: FetchContext, account: AccountConfig, url: str, headers: Dict[str, str], what: str,
                 sign_in: str, method: str = "GET", body: Any = None) -> Dict[str, Any]:
    """One request's JSON object; QuotaError for every answer that is not one (401/403 are AUTH)."""
    timeout = number(account.extra.get("timeout_seconds")) or DEFAULT_TIMEOUT
    try:
        resp = ctx.http.request(url, method=method, headers=headers, body=body, timeout=timeout)
    except ProviderError as exc:
        raise QuotaError("ERR", f"{what}: {exc.message}") from exc
    if resp.status in (401, 403):
        raise QuotaError("AUTH", f"{what} refused ({resp.status}): {sign_in}")
    if resp.status == 429:
        wait = retry_after(resp, ctx.now)
        raise QuotaError("ERR", f"{what}: rate limited" + (f", retrying after {wait:.0f}s" if wait else ""),
                         retry_after=wait)
    if resp.status >= 400:
        kind = "server error" if resp.status >= 500 else "HTTP"
        raise QuotaError("ERR", f"{what} failed: {kind} {resp.status}")
    try:
        data = json.loads(resp.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise QuotaError("ERR", f"{what} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise QuotaError("ERR", f"{what} is not a JSON object")
    return data


def retry_after(resp: HttpResponse, now: float) -> Optional[float]:
    """Seconds a Retry-After header asks for (delta seconds or an HTTP date); None without one."""
    value = (resp.headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime  # here: a warm report imports this module, never parses a date

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def read_json_file(ctx: FetchContext, path: str, what: str, sign_in: str) -> Optional[Dict[str, Any]]:
    """A credentials file's JSON object (read, never written); None when it does not exist."""
    if not os.path.isfile(path):
        return None
    try:
        data = json.loads(ctx.fs.read_text(path, limit=1024 * 1024))
    except (OSError, ValueError) as exc:
        raise QuotaError("AUTH", f"{what} unreadable: {sign_in}", polled=False) from exc
    if not isinstance(data, dict):
        raise QuotaError("AUTH", f"{what} unreadable: {sign_in}", polled=False)
    return data


def number(value: Any) -> Optional[float]:
    """A finite float from a JSON number or numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


# --- polling and merging -----------------------------------------------------------------------


def apply(snapshot: UsageSnapshot, account: AccountConfig, ctx: FetchContext, reader: Reader,
          credentials: Optional[str]) -> None:
    """Poll the reader when due, then put its last reading on the snapshot (the newest reading of each
    window wins over the collector's own). `credentials`: the file whose change makes a poll due."""
    if not ctx.live_quota:
        return
    state = ctx.state.setdefault(STATE_KEY, {})
    stamp = _stamp(credentials)
    due = max(state.get("polled_at", 0) + _interval(account), state.get("not_before", 0))
    if ctx.now >= due or stamp != state.get("credentials_stamp"):
        state["credentials_stamp"] = stamp
        _poll(state, account, ctx, reader)
    merge(snapshot, state, ctx.now)


def _interval(account: AccountConfig) -> float:
    value = number(account.extra.get("interval_seconds"))
    return max(1.0, value) if value else DEFAULT_INTERVAL


def _stamp(path: Optional[str]) -> Optional[float]:
    try:
        return os.stat(path).st_mtime if path else None
    except OSError:
        return None


def _poll(state: Dict[str, Any], account: AccountConfig, ctx: FetchContext, reader: Reader) -> None:
    interval = _interval(account)
    try:
        try:
            reading = reader(account, ctx)
        except QuotaError:
            raise
        except Exception as exc:  # a reader's own defect must never cost the collector its poll
            ctx.log.warning("plan quota read failed: %s", type(exc).__name__)
            raise QuotaError("ERR", f"plan quota read failed: {type(exc).__name__}") from exc
    except QuotaError as exc:
        state.update(error=exc.message, error_status=exc.status, error_at=ctx.now)
        if not exc.polled:  # found without a request (an expired token): look again at the next fetch
            state["polled_at"], state["not_before"] = ctx.now - interval, ctx.now
            return
        failures = state["failures"] = int(state.get("failures", 0)) + 1
        state["polled_at"] = ctx.now
        if exc.retry_after is not None:
            state["not_before"] = ctx.now + max(interval, exc.retry_after)
        else:
            state["not_before"] = ctx.now + max(interval, min(interval * 2 ** min(failures, 10), MAX_BACKOFF))
        return
    state.update(polled_at=ctx.now, not_before=0, failures=0)
    for key in ("error", "error_status", "error_at"):
        state.pop(key, None)
    if reading is None:
        state.pop("last", None)
        return
    state["last"] = dict(reading, observed_at=ctx.now)


def merge(snapshot: UsageSnapshot, state: Dict[str, Any], now: float) -> None:
    """Put the state's last reading and any error on the snapshot."""
    last = state.get("last")
    extras = snapshot.extras if snapshot.extras is not None else {}
    if last:
        observed = format_rfc3339(last["observed_at"])
        limits = dict(snapshot.rate_limits or {})
        for name, win in last.get("windows", {}).items():
            live = window_limit(win, "oauth", observed, now)
            other = limits.get(name)
            if other is None or not _newer(other, last["observed_at"]):
                limits[name] = live
        snapshot.rate_limits = limits
        extras["quota_observed_at"] = observed
        if last.get("plan"):
            extras["plan"] = last["plan"]
    if state.get("error"):
        extras["quota_error"] = state["error"]
        extras["quota_error_at"] = format_rfc3339(state["error_at"])
        if state.get("error_status") == "AUTH":
            snapshot.status = "AUTH"
            snapshot.message = state["error"]
    snapshot.extras = extras


def _newer(limit: RateLimit, observed: float) -> bool:
    theirs = to_epoch(limit.observed_at) if limit.observed_at else None
    return theirs is not None and theirs > observed


def window_limit(win: Dict[str, Any], source: str, observed_at: Optional[str], now: float) -> RateLimit:
    """A reading's window as a RateLimit; one whose reset has passed has started again at 0 %."""
    resets = win.get("resets_at")
    limit = RateLimit(used_percent=float(win["used_percent"]), source=source, observed_at=observed_at,
                      window_seconds=win.get("window_seconds"), limit=win.get("limit"), used=win.get("used"))
    if resets is not None and resets <= now:
        limit.used_percent, limit.used = 0.0, None
    elif resets is not None:
        limit.resets_at = format_rfc3339(resets)
    return limit


def stamp_source(snapshot: UsageSnapshot, source: str, observed_at: Optional[str],
                 window_seconds: Dict[str, int]) -> None:
    """Mark a collector's own plan windows (statusline, rollout) with their source and reading time."""
    for name, limit in (snapshot.rate_limits or {}).items():
        if limit.source is None and observed_at:
            limit.source, limit.observed_at = source, observed_at
        if limit.window_seconds is None:
            limit.window_seconds = window_seconds.get(name.split(":")[-1])


def finish_with(events: Iterable[Any], finish: Callable[[], None]) -> Iterator[Any]:
    """The events, then `finish()` once they are consumed (the collector fills the snapshot at the end)."""
    yield from events
    finish()
