"""What the HTTP API providers share beyond http_common: timeouts, JSON calls, paged reports, keys,
detection, rate-limit probes, statuses.

Account keys every API provider understands (besides id, provider, api_key_env, base_url, probe_model):
`timeout_seconds` (per request, default 20).
"""
from __future__ import annotations

import calendar
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlencode

from openusage.core.snapshot import STATUS_RANK, ModelUsage, Period, RateLimit, Tokens, UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.providers import http_common
from openusage.providers.base import AccountConfig, FetchContext, HttpResponse, ProviderError
from openusage.providers.ratelimit_headers import LOW_FRACTION, limits_status

DEFAULT_TIMEOUT = 20.0


def timeout(account: AccountConfig, default: float = DEFAULT_TIMEOUT) -> float:
    """Seconds one request may take: the account's `timeout_seconds`, else the provider's default."""
    value = http_common.number(account.extra.get("timeout_seconds"))
    return value if value and value > 0 else default


def with_query(url: str, params: Optional[Mapping[str, Any]] = None) -> str:
    """The URL with query parameters; a list value repeats its key."""
    if not params:
        return url
    pairs = []
    for key, value in params.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is not None:
                pairs.append((key, item))
    return url + ("&" if "?" in url else "?") + urlencode(pairs)


def call(ctx: FetchContext, account: AccountConfig, url: str, headers: Dict[str, str], method: str = "GET",
         body: Any = None, what: str = "request", default_timeout: float = DEFAULT_TIMEOUT) -> HttpResponse:
    """One request mapped through http_common.check (AUTH, LIMIT, ERR raised)."""
    resp = ctx.http.request(url, method=method, headers=headers, body=body,
                            timeout=timeout(account, default_timeout))
    return http_common.check(resp, what)  # a key the server echoes is masked: ctx.http registered it


def get_json(ctx: FetchContext, account: AccountConfig, url: str, headers: Dict[str, str], what: str,
             method: str = "GET", body: Any = None, default_timeout: float = DEFAULT_TIMEOUT) -> Any:
    """A checked request's JSON body; ERR when it is not JSON."""
    resp = call(ctx, account, url, headers, method, body, what, default_timeout)
    return http_common.json_body(resp, what)


def get_object(ctx: FetchContext, account: AccountConfig, url: str, headers: Dict[str, str], what: str,
               method: str = "GET", body: Any = None, default_timeout: float = DEFAULT_TIMEOUT) -> Dict[str, Any]:
    """Like get_json, but the body must be a JSON object."""
    data = get_json(ctx, account, url, headers, what, method, body, default_timeout)
    if not isinstance(data, dict):
        raise ProviderError("ERR", f"{what} is not a JSON object")
    return data


def pages(fetch_page: Callable[[Optional[str]], Dict[str, Any]], max_pages: int = 10) -> List[Dict[str, Any]]:
    """Follow `has_more`/`next_page` cursors (OpenAI and Anthropic admin APIs), at most max_pages."""
    out: List[Dict[str, Any]] = []
    cursor: Optional[str] = None
    for _ in range(max_pages):
        page = fetch_page(cursor)
        out.append(page)
        cursor = page.get("next_page")
        if not page.get("has_more") or not isinstance(cursor, str) or not cursor:
            break
    return out


def paged_objects(ctx: FetchContext, account: AccountConfig, url: str, params: Mapping[str, Any],
                  headers: Dict[str, str], what: str) -> List[Dict[str, Any]]:
    """Every page of a report endpoint whose cursor goes back as the `page` parameter."""
    return pages(lambda cursor: get_object(ctx, account, with_query(url, dict(params, page=cursor)), headers, what))


def bucket_results(report_pages: Iterable[Dict[str, Any]],
                   date_of: Callable[[Dict[str, Any]], str]) -> Iterable[Tuple[str, Dict[str, Any]]]:
    """(UTC date, result) for every result of every bucket of report pages (`data[].results[]`); `date_of`
    reads a bucket's date, '' when it has none."""
    for page in report_pages:
        for bucket in page.get("data") or []:
            if not isinstance(bucket, dict):
                continue
            date = date_of(bucket)
            for result in bucket.get("results") or []:
                if isinstance(result, dict):
                    yield date, result


def sum_tokens(models: Sequence[ModelUsage]) -> Tokens:
    """Input, output and cache tokens summed over the models, with their total."""
    return Tokens(input=sum(m.input or 0 for m in models), output=sum(m.output or 0 for m in models),
                  cache_read=sum(m.cache_read or 0 for m in models),
                  cache_write=sum(m.cache_write or 0 for m in models)).with_total()


def env_key(ctx: FetchContext, name: str) -> Optional[str]:
    """A variable's value, or None when unset; AUTH (not a crash) when the variable is not readable."""
    try:
        return ctx.env.get(name)
    except PermissionError as exc:
        raise ProviderError("AUTH", f"{name} is not a variable this provider may read") from exc


def main_key(ctx: FetchContext, account: AccountConfig, default_env: str) -> Optional[str]:
    """The account's API key from api_key_env (or the default variable); None when unset."""
    return env_key(ctx, account.api_key_env or default_env)


def extra_key(ctx: FetchContext, account: AccountConfig, option: str, *default_envs: str) -> Optional[str]:
    """A second key (admin, management) named by an account option such as `admin_key_env`, else the first
    set one of the default variables."""
    if account.extra.get(option):
        return env_key(ctx, str(account.extra[option]))
    for name in default_envs:
        value = env_key(ctx, name)
        if value:
            return value
    return None


def first_key(ctx: FetchContext, account: AccountConfig, default_envs: Sequence[str]) -> str:
    """The key from the account's api_key_env, else from the first set default variable; AUTH when unset."""
    names = [account.api_key_env] if account.api_key_env else list(default_envs)
    key = next((v for v in (env_key(ctx, n) for n in names) if v), None)
    if not key:
        raise ProviderError("AUTH", f"no API key: set {names[0]}")
    return key


def key_and_admin(ctx: FetchContext, account: AccountConfig, key_env: str, admin_envs: Sequence[str],
                  admin_prefix: str) -> Tuple[Optional[str], Optional[str]]:
    """(API key, Admin key) of an account that may have either or both; AUTH naming both variables when
    neither is set. An Admin key found in the API key's variable cannot call models: it serves the
    organization reports only."""
    key = main_key(ctx, account, key_env)
    admin = extra_key(ctx, account, "admin_key_env", *admin_envs)
    if key and key.startswith(admin_prefix) and not admin:
        key, admin = None, key
    if not key and not admin:
        admin_env = account.extra.get("admin_key_env") or admin_envs[0]
        raise ProviderError("AUTH", f"no API key: set {account.api_key_env or key_env} "
                                    f"(or {admin_env} for organization usage)")
    return key, admin


def probe_and_reports(snap: UsageSnapshot, key: Optional[str], admin: Optional[str],
                      probe: Callable[[str], None], reports: Callable[[str], None]) -> None:
    """The rate-limit probe with the API key, then the organization reports with the Admin key, then the
    status of the windows. A report failure only degrades the snapshot when the probe ran; alone it raises."""
    if key:
        probe(key)
    if admin:
        try:
            reports(admin)
        except ProviderError as exc:
            if not key:
                raise
            partial_failure(snap, exc, "organization usage")
    apply_limits_status(snap)


# The rate-limit probe an account asks for (its "probe" key). Every default is free: a request that is
# neither billed nor counted as usage. "chat" (a one-token completion) is billed and only ever opt-in.
BILLED_PROBES = ("chat", "messages")


def _asked_probe(account: Optional[AccountConfig], free: Sequence[str]) -> str:
    """The probe the account names, else the default (the first free one)."""
    return str((account.extra.get("probe") if account is not None else None) or free[0])


def probe_kind(account: AccountConfig, free: Sequence[str]) -> str:
    """The account's probe: one of `free` (the first is the default), "chat" or "none"; ERR otherwise."""
    kind = _asked_probe(account, free)
    if kind in free or kind in BILLED_PROBES or kind == "none":
        return kind
    choices = ", ".join(repr(k) for k in (*free, "chat", "none"))
    raise ProviderError("ERR", f"probe {kind!r} is not one of {choices}")


def probe_polling(account: Optional[AccountConfig], free: Sequence[str], free_text: str) -> str:
    """What a probe provider's poll costs for this account (the default when None)."""
    kind = _asked_probe(account, free)
    if kind in BILLED_PROBES:
        return 'BILLED: a one-token completion each poll ("probe": "chat")'
    if kind == "none":
        return "free: no probe"
    return f"free: {free_text}"


def chat_probe(ctx: FetchContext, account: AccountConfig, base: str, key: str, model: str,
               token_field: str = "max_tokens") -> HttpResponse:
    """A one-token chat completion on an OpenAI-compatible API, for the rate-limit headers of its answer.
    Billed: only when the account asks for it ("probe": "chat")."""
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], token_field: 1}
    return call(ctx, account, f"{base}/chat/completions", bearer(key), "POST", body, "chat probe")


def compatible_probe(ctx: FetchContext, account: AccountConfig, key_env: str, default_base: str,
                     default_model: str) -> Tuple[Optional[HttpResponse], Any, str]:
    """(answer, its JSON body, probe model) of an OpenAI-compatible API's probe: the free `GET /models` by
    default, a one-token chat completion with `"probe": "chat"`, nothing with "none" (answer None).
    AUTH without a key."""
    key = http_common.api_key(ctx, account, key_env)
    base = http_common.base_url(account, default_base)
    model = account.probe_model or default_model
    kind = probe_kind(account, ("models",))
    if kind == "none":
        return None, None, model
    if kind in BILLED_PROBES:
        resp = chat_probe(ctx, account, base, key, model)
    else:
        resp = call(ctx, account, f"{base}/models", bearer(key), what="models probe")
    # A 200 that is not JSON is a broken proxy, not a success.
    return resp, http_common.json_body(resp, "probe answer"), model


def header_probe(ctx: FetchContext, account: AccountConfig, url: str, headers: Dict[str, str],
                 what: str) -> HttpResponse:
    """A free request made for the rate-limit headers of its answer alone: an answer refusing the
    method or the missing body (400, 404, 405) still carries them; AUTH, LIMIT and server errors stand."""
    resp = ctx.http.request(url, method="GET", headers=headers, timeout=timeout(account))
    if resp.status in (400, 404, 405):
        return resp
    return http_common.check(resp, what)


def detect_env(provider_id: str, env: Mapping[str, str], names: Sequence[str]) -> List[AccountConfig]:
    """One account when one of the variables is set (the first set one is used)."""
    for name in names:
        if env.get(name):
            return [AccountConfig(id=provider_id, provider=provider_id, api_key_env=name, detected_by=f"env:{name}")]
    return []


def bearer(key: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Accept": "application/json"}


def new_snapshot(provider_id: str, account: AccountConfig, ctx: FetchContext, default_name: str,
                 polling: Optional[str] = None) -> UsageSnapshot:
    """An OK snapshot; `polling` (what the poll cost, for providers that probe) goes into extras."""
    return UsageSnapshot(provider_id=provider_id, account_id=account.id,
                         display_name=account.display_name or default_name,
                         timestamp=format_rfc3339(ctx.now), status="OK",
                         extras={"polling": polling} if polling else None)


def worse(a: str, b: str) -> str:
    return a if STATUS_RANK.get(a, 0) >= STATUS_RANK.get(b, 0) else b


def raise_status(snapshot: UsageSnapshot, status: str, message: Optional[str]) -> None:
    """Make the snapshot's status at least `status`, joining messages."""
    if STATUS_RANK.get(status, 0) > STATUS_RANK.get(snapshot.status or "OK", 0):
        snapshot.status = status
    if message:
        snapshot.message = f"{snapshot.message}; {message}" if snapshot.message else message


def apply_probe_limits(snap: UsageSnapshot, limits: Mapping[str, RateLimit], **facts: Any) -> None:
    """A probe's windows into the snapshot and its facts (probe model, organization, ...) into extras;
    extras say so when the probe's answer carried no rate-limit headers."""
    if limits:
        snap.rate_limits = dict(snap.rate_limits or {}, **limits)
    extras = dict(snap.extras or {}, **facts)
    if not limits:
        extras["rate_limits"] = "not sent on this probe"
    snap.extras = extras


def apply_limits_status(snapshot: UsageSnapshot) -> None:
    status, message = limits_status(snapshot.rate_limits)
    raise_status(snapshot, status, message)


def partial_failure(snapshot: UsageSnapshot, exc: ProviderError, what: str) -> None:
    """A secondary source failed: keep what was fetched, carry its status and a short message."""
    raise_status(snapshot, exc.status, exc.message if exc.message.startswith(what) else f"{what}: {exc.message}")
    if exc.resets_at:
        snapshot.extras = dict(snapshot.extras or {}, resets_at=exc.resets_at)


def balance_status(amount: Optional[float], state: Dict[str, Any], key: str = "peak_balance",
                   low: Optional[float] = None) -> str:
    """LIMIT at or below zero; WARN at or below `low`, or at most 20 % of the highest balance seen since
    the last top-up (kept in the account's state); else OK."""
    if amount is None:
        return "OK"
    peak = http_common.number(state.get(key))
    if peak is None or amount > peak:
        peak = amount  # first poll, or a top-up
    state[key] = peak
    if amount <= 0:
        return "LIMIT"
    if low is not None and amount <= low:
        return "WARN"
    if peak > 0 and amount <= LOW_FRACTION * peak:
        return "WARN"
    return "OK"


def month_start(now: float) -> int:
    """Epoch seconds of the first instant of the current UTC month (the billing cycle of the APIs)."""
    t = time.gmtime(now)
    return calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0))


def report_start(now: float, days: int = 30) -> int:
    """Where organization reports start: the current UTC month, and at least `days` whole UTC days back,
    so the daily series covers every window up to 30d as well as the month to date."""
    t = time.gmtime(now)
    midnight = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0))
    return min(month_start(now), midnight - days * 86400)


def month_to_date(now: float) -> Period:
    """The current UTC month so far: the period of the APIs' cycle figures."""
    return Period(kind="month_to_date", start=format_rfc3339(month_start(now)))


def daily_coverage(start: float) -> Period:
    """The whole UTC days a provider's daily series covers, from `start` on (the read model derives a
    window's spend from them)."""
    return Period(kind="days", start=format_rfc3339(start))


def utc_date(epoch: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def as_int(value: Any) -> Optional[int]:
    n = http_common.number(value)
    return int(n) if n is not None else None
