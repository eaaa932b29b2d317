"""Cursor: the billing cycle's plan usage, on-demand budget and per-model tokens, with the app's sign-in.

{"id": "cursor", "provider": "cursor", "state_db": "~/.config/Cursor/User/globalStorage/state.vscdb",
 "team_id": 1234, "timeout_seconds": 20}

The desktop app keeps its sign-in in the SQLite `state.vscdb` (table `ItemTable`: `cursorAuth/accessToken`,
`cursorAuth/cachedEmail`, `cursorAuth/stripeMembershipType`), opened read-only — with `immutable=1` when
no `-wal` sidecar exists, so nothing is created in Cursor's directory; a copy when the app holds a lock.
Connect-JSON calls (`POST {base}/aiserver.v1.DashboardService/<Method>`, Bearer = the access token):
- `GetCurrentPeriodUsage` (required): `billingCycleStart/End` (epoch ms, as strings), `planUsage`
  {`totalSpend`, `includedSpend`, `bonusSpend`, `limit` (cents), `autoPercentUsed`, `apiPercentUsed`,
  `totalPercentUsed`}, `spendLimitUsage` {`individualLimit/Used/Remaining`, `pooledLimit/Used/Remaining`,
  `limitType`} (cents), `displayMessage`;
- `GetPlanInfo`: `planInfo` {`planName`, `includedAmountCents`, `price`, `billingCycleEnd`};
- `GetAggregatedUsageEvents` for the cycle: `aggregations[]` {`modelIntent`, `inputTokens`,
  `outputTokens`, `cacheReadTokens`, `cacheWriteTokens` (int64 strings; input excludes the cache),
  `totalCents`}.
The last two are optional: when one fails, what the others gave is kept and the failure is noted.
`team_id` sends the team's id with the usage-events query (team members).
`spend.cycle`, `tokens` and `models` cover the billing cycle (`periods`: `cycle` from ... to ...).
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

from openusage.core.snapshot import ModelUsage, Period, RateLimit, Spend, SpendLimits, Tokens, UsageSnapshot
from openusage.core.timeutil import format_rfc3339, to_epoch
from openusage.providers import api_support as api
from openusage.providers import cursor_web
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, FsAccess, Provider, ProviderError
from openusage.providers.http_common import base_url, number
from openusage.providers.ratelimit_headers import limits_status, remaining_fraction

PROVIDER_ID = "cursor"
DEFAULT_BASE = "https://api2.cursor.sh"
SERVICE = "/aiserver.v1.DashboardService/"
STATE_DBS = (
    "~/.config/Cursor/User/globalStorage/state.vscdb",
    "~/Library/Application Support/Cursor/User/globalStorage/state.vscdb",
)
TOKEN_KEY = "cursorAuth/accessToken"
EMAIL_KEY = "cursorAuth/cachedEmail"
MEMBERSHIP_KEY = "cursorAuth/stripeMembershipType"
SIGN_IN = "sign in to Cursor"


class CursorProvider(Provider):
    id = PROVIDER_ID
    name = "Cursor"
    source_modes = ("oauth", "web")
    cookie_domains = cursor_web.COOKIE_DOMAINS  # a browser session, when the app's sign-in is not here
    default_interval = 300.0
    fetch_timeout = 60.0  # three requests of up to timeout_seconds each
    widgets = {
        "gauges": ["plan", "on_demand"],
        "figures": ["spend.cycle", "tokens.total"],
        "sections": ["models", "limits"],
    }

    # --- detection --------------------------------------------------------------------------

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        path = find_state_db(FsAccess(home))
        if path is None:
            from openusage import cookies

            imported = cookies.cookie_path(PROVIDER_ID)
            if not os.path.exists(imported):
                return []
            path = imported  # a browser session imported by `openusage auth import-cookies`
        return [AccountConfig(id=PROVIDER_ID, provider=PROVIDER_ID, detected_by=f"path:{path}")]

    # --- fetch ------------------------------------------------------------------------------

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        configured = account.extra.get("state_db")
        path = ctx.fs.expand(str(configured)) if configured else find_state_db(ctx.fs)
        if configured and not os.path.isfile(path):
            raise ProviderError("ERR", f"state_db {configured} is not a file")
        items = read_items(path, (TOKEN_KEY, EMAIL_KEY, MEMBERSHIP_KEY)) if path else {}
        token = items.get(TOKEN_KEY)
        if not token:
            session = cursor_web.session_cookie(ctx)
            if session:  # no app sign-in here, but a browser session was imported
                return FetchResult(snapshot=self._fetch_web(account, ctx, session))
            where = f"in {os.path.basename(path)}" if path else "(no state.vscdb found)"
            raise ProviderError("AUTH", f"no Cursor sign-in {where}: {SIGN_IN}, or import a cursor.com "
                                        f"browser session ({cursor_web.IMPORT_HINT})")
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "Cursor")
        snap.currency = "USD"
        snap.extras = {k: v for k, v in (("email", items.get(EMAIL_KEY)),
                                          ("membership", items.get(MEMBERSHIP_KEY))) if v}
        base = base_url(account, DEFAULT_BASE)
        usage = call(ctx, account, base, token, "GetCurrentPeriodUsage", {}, "current period usage")
        apply_period(snap, usage)
        missing: Dict[str, str] = {}
        try:
            apply_plan(snap, call(ctx, account, base, token, "GetPlanInfo", {}, "plan info"))
        except ProviderError as exc:
            missing["plan_info"] = exc.message
        start, end = cycle_range(usage, ctx.now)
        body: Dict[str, Any] = {"startDate": start, "endDate": end}
        if account.extra.get("team_id") is not None:
            body["teamId"] = account.extra["team_id"]
        try:
            apply_events(snap, call(ctx, account, base, token, "GetAggregatedUsageEvents", body, "usage events"))
        except ProviderError as exc:
            missing["usage_events"] = exc.message
        period = cycle_period(usage, ctx.now)
        for figure in ("spend.cycle", "tokens", "models"):
            snap.set_period(figure, period)
        if missing:
            snap.extras["unavailable"] = missing
            snap.message = "; ".join(missing.values())
        status, message = plan_status(snap)
        api.raise_status(snap, status, message)
        snap.extras = snap.extras or None
        return FetchResult(snapshot=snap)

    def _fetch_web(self, account: AccountConfig, ctx: FetchContext, session: str) -> UsageSnapshot:
        """The cycle's plan and on-demand usage from cursor.com with the imported session (no models)."""
        summary = cursor_web.fetch_summary(ctx, account, session)
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "Cursor")
        snap.currency = "USD"
        snap.extras = {"source": "browser session"}
        if isinstance(summary.get("membershipType"), str) and summary["membershipType"]:
            snap.extras["membership"] = summary["membershipType"]
        apply_period(snap, cursor_web.as_period(summary))
        status, message = plan_status(snap)
        api.raise_status(snap, status, message)
        return snap


def call(ctx: FetchContext, account: AccountConfig, base: str, token: str, method: str, body: Dict[str, Any],
         what: str) -> Dict[str, Any]:
    """One Connect-JSON call; a refusal says to sign in again, not to check a key."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Accept": "application/json", "Connect-Protocol-Version": "1"}
    try:
        return api.get_object(ctx, account, base + SERVICE + method, headers, what, method="POST", body=body)
    except ProviderError as exc:
        if exc.status != "AUTH":
            raise
        raise ProviderError("AUTH", f"{what} refused: {SIGN_IN} again (the saved sign-in expired or was "
                                    "revoked)") from exc


# --- the state DB ---------------------------------------------------------------------------


def find_state_db(fs: FsAccess) -> Optional[str]:
    for rel in STATE_DBS:
        path = fs.expand(rel)
        if os.path.isfile(path):
            return path
    return None


def read_items(path: str, keys: Tuple[str, ...]) -> Dict[str, str]:
    """The ItemTable values of `keys` as text, read without writing anything beside the DB; when the app
    holds a lock, from a private copy."""
    try:
        return _query_items(_uri(path, immutable=not os.path.exists(path + "-wal")), keys)
    except sqlite3.OperationalError:
        pass  # locked by the app, or its -shm cannot be opened read-only: read a copy
    except sqlite3.DatabaseError as exc:
        raise ProviderError("ERR", f"cannot read Cursor's state DB: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="openusage-cursor-") as tmp:
        copy = os.path.join(tmp, "state.vscdb")
        try:
            shutil.copyfile(path, copy)
            if os.path.exists(path + "-wal"):
                shutil.copyfile(path + "-wal", copy + "-wal")
            return _query_items(_uri(copy, immutable=False), keys)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise ProviderError("ERR", f"cannot read Cursor's state DB: {exc}") from exc


def _uri(path: str, immutable: bool) -> str:
    return f"file:{quote(os.path.abspath(path))}?mode=ro" + ("&immutable=1" if immutable else "")


def _query_items(uri: str, keys: Tuple[str, ...]) -> Dict[str, str]:
    conn = sqlite3.connect(uri, uri=True, timeout=1.0)
    try:
        marks = ",".join("?" * len(keys))
        rows = conn.execute(f"SELECT key, value FROM ItemTable WHERE key IN ({marks})", keys).fetchall()
    finally:
        conn.close()
    out = {}
    for key, value in rows:
        text = item_text(value)
        if text:
            out[key] = text
    return out


def item_text(value: Any) -> Optional[str]:
    """A stored value as text: plain, a JSON-quoted string, or a UTF-8/UTF-16 blob."""
    if value is None:
        return None
    if isinstance(value, bytes):
        codec = "utf-16" if b"\x00" in value else "utf-8"
        value = value.decode(codec, errors="replace")
    text = str(value).strip().strip("\x00")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            decoded = json.loads(text)
            text = decoded.strip() if isinstance(decoded, str) else text
        except ValueError:
            pass
    return text or None


# --- parsing (pure) -------------------------------------------------------------------------


def epoch_of(value: Any) -> Optional[float]:
    """Epoch seconds from epoch ms (number or int64 string), epoch seconds or RFC 3339."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
        return None
    return to_epoch(value) if isinstance(value, (str, int, float)) else None


def dollars(cents: Any) -> Optional[float]:
    value = number(cents)
    return round(value / 100.0, 4) if value is not None else None


def cycle_range(usage: Dict[str, Any], now: float) -> Tuple[int, int]:
    """The current billing cycle in epoch ms (the calendar month when Cursor does not say)."""
    start = epoch_of(usage.get("billingCycleStart")) or float(api.month_start(now))
    end = epoch_of(usage.get("billingCycleEnd")) or now
    return int(start * 1000), int(min(end, now) * 1000)


def cycle_period(usage: Dict[str, Any], now: float) -> Period:
    """What the cycle's figures cover: Cursor's billing cycle, else the UTC month to date."""
    start, end = epoch_of(usage.get("billingCycleStart")), epoch_of(usage.get("billingCycleEnd"))
    if start is None:
        return api.month_to_date(now)
    return Period(kind="cycle", start=format_rfc3339(start), end=format_rfc3339(end) if end else None)


def apply_period(snap: UsageSnapshot, usage: Dict[str, Any]) -> None:
    """Cycle spend, the included plan (and its Auto / API shares) and the on-demand budget as windows."""
    plan = usage.get("planUsage") if isinstance(usage.get("planUsage"), dict) else {}
    start, end = epoch_of(usage.get("billingCycleStart")), epoch_of(usage.get("billingCycleEnd"))
    resets = format_rfc3339(end) if end else None
    extras = snap.extras if snap.extras is not None else {}
    if start:
        extras["billing_cycle_start"] = format_rfc3339(start)
    if resets:
        extras["billing_cycle_end"] = resets
    for key, name in (("includedSpend", "included_spend"), ("bonusSpend", "bonus_spend")):
        if dollars(plan.get(key)) is not None:
            extras[name] = dollars(plan.get(key))
    if isinstance(usage.get("displayMessage"), str) and usage["displayMessage"]:
        extras["display_message"] = usage["displayMessage"]
    limit = dollars(plan.get("limit"))
    limit = limit if limit and limit > 0 else None
    spend = Spend(cycle=dollars(plan.get("totalSpend")))
    limits = SpendLimits(plan_included=limit, plan_bonus=dollars(plan.get("bonusSpend")) or None)
    windows: Dict[str, RateLimit] = {}
    included = dollars(plan.get("includedSpend"))
    used = included if included is not None else spend.cycle
    percent = number(plan.get("totalPercentUsed"))
    if percent is None and limit and used is not None:
        percent = 100.0 * used / limit
    if percent is not None or limit:
        windows["plan"] = RateLimit(limit=limit, used=used if limit else None,
                                    remaining=round(max(0.0, limit - used), 4) if limit and used is not None else None,
                                    used_percent=round(percent, 2) if percent is not None else None, resets_at=resets)
    for key, name in (("autoPercentUsed", "auto"), ("apiPercentUsed", "api")):
        share = number(plan.get(key))
        if share is not None:
            windows[name] = RateLimit(used_percent=round(share, 2), resets_at=resets)
    on_demand = on_demand_window(usage.get("spendLimitUsage"), resets, extras)
    if on_demand is not None:
        windows["on_demand"] = on_demand
        limits.hard = on_demand.limit
    if any(v is not None for v in (limits.plan_included, limits.plan_bonus, limits.hard)):
        spend.limits = limits
    snap.spend = spend
    snap.rate_limits = windows or None
    snap.extras = extras


def on_demand_window(data: Any, resets: Optional[str], extras: Dict[str, Any]) -> Optional[RateLimit]:
    """The usage-based budget beyond the plan: the user's own cap wins over the team's pooled one."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("limitType"), str) and data["limitType"]:
        extras["on_demand_limit_type"] = data["limitType"]
    for scope in ("individual", "pooled"):
        limit = dollars(data.get(f"{scope}Limit"))
        if not limit or limit <= 0:
            continue
        used, remaining = dollars(data.get(f"{scope}Used")), dollars(data.get(f"{scope}Remaining"))
        if used is None and remaining is not None:
            used = max(0.0, round(limit - remaining, 4))
        if remaining is None and used is not None:
            remaining = max(0.0, round(limit - used, 4))
        extras["on_demand_scope"] = "team" if scope == "pooled" else scope
        percent = round(min(100.0, 100.0 * used / limit), 2) if used is not None else None
        return RateLimit(limit=limit, used=used, remaining=remaining, used_percent=percent, resets_at=resets)
    return None


def apply_plan(snap: UsageSnapshot, data: Dict[str, Any]) -> None:
    info = data.get("planInfo") if isinstance(data.get("planInfo"), dict) else data
    extras = snap.extras if snap.extras is not None else {}
    if isinstance(info.get("planName"), str) and info["planName"]:
        extras["plan"] = info["planName"]
    if isinstance(info.get("price"), str) and info["price"]:
        extras["plan_price"] = info["price"]
    included = dollars(info.get("includedAmountCents"))
    if included:
        extras["plan_included_amount"] = included
        spend = snap.spend or Spend()
        spend.limits = spend.limits or SpendLimits()
        if spend.limits.plan_included is None:
            spend.limits.plan_included = included
        snap.spend = spend
    snap.extras = extras


def parse_events(data: Dict[str, Any]) -> Tuple[List[ModelUsage], Tokens]:
    """Per-model usage of the cycle (fresh input, cache read/write apart, cost from cents) and totals."""
    models: Dict[str, ModelUsage] = {}
    for row in data.get("aggregations") or []:
        if not isinstance(row, dict):
            continue
        counts = [api.as_int(row.get(k)) or 0
                  for k in ("inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens")]
        cost = dollars(row.get("totalCents")) or 0.0
        if not any(counts) and not cost:
            continue  # models the plan offers but that were not used this cycle
        name = str(row.get("modelIntent") or row.get("model") or "unknown")
        m = models.setdefault(name, ModelUsage(model=name, input=0, output=0, cache_read=0, cache_write=0,
                                               cost=0.0))
        m.input += counts[0]
        m.output += counts[1]
        m.cache_read += counts[2]
        m.cache_write += counts[3]
        m.cost = round(m.cost + cost, 4)
    ordered = sorted(models.values(), key=lambda m: (-(m.cost or 0), -m.total_tokens(), m.model))
    tokens = Tokens(input=sum(m.input for m in ordered), output=sum(m.output for m in ordered),
                    cache_read=sum(m.cache_read for m in ordered),
                    cache_write=sum(m.cache_write for m in ordered)).with_total()
    return ordered, tokens


def apply_events(snap: UsageSnapshot, data: Dict[str, Any]) -> None:
    models, tokens = parse_events(data)
    if models:
        snap.models = models
        snap.tokens = tokens
    cost = dollars(data.get("totalCostCents"))
    if cost is not None:
        snap.extras = dict(snap.extras or {}, usage_events_cost=cost)


def plan_status(snap: UsageSnapshot) -> Tuple[str, Optional[str]]:
    """LIMIT/WARN from the windows; a used-up plan with on-demand budget left only warns, since requests
    go on (billed)."""
    windows = dict(snap.rate_limits or {})
    on_demand = windows.get("on_demand")
    if on_demand is not None and (remaining_fraction(on_demand) or 0.0) > 0.0:
        spent = [n for n in ("plan", "auto", "api") if n in windows and remaining_fraction(windows[n]) == 0.0]
        if spent:
            for name in spent:
                del windows[name]
            status, message = limits_status(windows)
            note = f"{', '.join(spent)} used up; on-demand usage is billed"
            return ("WARN" if status == "OK" else status), (f"{message}; {note}" if message else note)
    return limits_status(windows)
