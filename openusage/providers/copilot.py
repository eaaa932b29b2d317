"""GitHub Copilot: the account's premium-request, chat and completions quotas and when they reset.

{"id": "copilot", "provider": "copilot", "api_key_env": "GITHUB_TOKEN", "host": "github.com",
 "timeout_seconds": 20}

The token is the user's GitHub OAuth token, looked up in this order: the variable the account names
(`api_key_env`, else `GH_TOKEN`, then `GITHUB_TOKEN`), `gh auth token`, the Copilot editor plugins'
`~/.config/github-copilot/apps.json` / `hosts.json` (`oauth_token`), and gh's `~/.config/gh/hosts.yml`.
`GET {base}/copilot_internal/user` (the endpoint Copilot Chat itself reads; undocumented) answers
`login`, `copilot_plan`, `quota_reset_date` (a bare date: UTC midnight), `quota_reset_date_utc` and
`quota_snapshots` {`premium_interactions`, `chat`, `completions`: {`entitlement`, `remaining`,
`percent_remaining`, `unlimited`, `overage_count`, `overage_permitted`, ...}}; the free plan answers
`limited_user_quotas` (remaining) + `monthly_quotas` (entitlement) + `limited_user_reset_date` instead.
Numbers may be floats or strings. `host` picks a GitHub Enterprise host (API at `https://api.<host>`).
Overage counts and premium credits used are the quota month's (`periods`: a `cycle` to the reset).
"""
from __future__ import annotations

import calendar
import json
import os
import subprocess
from typing import Any, Callable, Dict, List, Optional, Tuple

from openusage.core.snapshot import Period, RateLimit, UsageSnapshot
from openusage.core.timeutil import format_rfc3339, to_epoch
from openusage.providers import api_support as api
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, HttpResponse, Provider, ProviderError
from openusage.providers.http_common import base_url, check, json_body, number, reset_from_headers
from openusage.providers.ratelimit_headers import limits_status, remaining_fraction

PROVIDER_ID = "copilot"
DEFAULT_HOST = "github.com"
TOKEN_ENVS = ("GH_TOKEN", "GITHUB_TOKEN")  # gh's own precedence
COPILOT_FILES = ("~/.config/github-copilot/apps.json", "~/.config/github-copilot/hosts.json")
GH_HOSTS = "~/.config/gh/hosts.yml"
QUOTAS = ("premium_interactions", "chat", "completions")
# What Copilot Chat sends; the endpoint answers editors, so it is asked like one.
HEADERS = {
    "Accept": "application/json",
    "Editor-Version": "vscode/1.96.2",
    "Editor-Plugin-Version": "copilot-chat/0.26.7",
    "User-Agent": "GitHubCopilotChat/0.26.7",
    "X-Github-Api-Version": "2025-04-01",
}
NO_TOKEN = "no GitHub token: set GITHUB_TOKEN or run `gh auth login`"


class CopilotProvider(Provider):
    id = PROVIDER_ID
    name = "GitHub Copilot"
    source_modes = ("oauth",)
    env_vars = TOKEN_ENVS
    programs = ("gh",)
    default_interval = 300.0  # monthly quotas move slowly
    widgets = {"gauges": list(QUOTAS), "sections": ["limits"]}

    # --- detection --------------------------------------------------------------------------

    def detect(self, env: Dict[str, str], home: str, which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        """An account when gh is signed in (hosts.yml), an editor plugin stored a token, or a token variable
        is set."""
        hosts = os.path.join(home, ".config", "gh", "hosts.yml")
        if which("gh") and os.path.isfile(hosts):
            return [AccountConfig(id=PROVIDER_ID, provider=PROVIDER_ID, detected_by=f"path:{hosts}")]
        for rel in COPILOT_FILES:
            path = os.path.join(home, rel[2:])
            if os.path.isfile(path):
                return [AccountConfig(id=PROVIDER_ID, provider=PROVIDER_ID, detected_by=f"path:{path}")]
        return api.detect_env(PROVIDER_ID, env, ("GITHUB_TOKEN", "GH_TOKEN"))

    # --- fetch ------------------------------------------------------------------------------

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        host = str(account.extra.get("host") or DEFAULT_HOST)
        token, source = find_token(ctx, account, host)
        if not token:
            raise ProviderError("AUTH", NO_TOKEN)
        default = "https://api.github.com" if host == DEFAULT_HOST else f"https://api.{host}"
        url = f"{base_url(account, default)}/copilot_internal/user"
        headers = dict(HEADERS, Authorization=f"token {token}")
        resp = ctx.http.request(url, headers=headers, timeout=api.timeout(account))
        data = json_body(checked(resp, headers), "Copilot usage")
        if not isinstance(data, dict):
            raise ProviderError("ERR", "Copilot usage is not a JSON object")
        snap = api.new_snapshot(PROVIDER_ID, account, ctx, "GitHub Copilot")
        snap.currency = "USD"
        apply_user(snap, data)
        snap.extras = dict(snap.extras or {}, token_source=source)
        status, message = quota_status(snap)
        api.raise_status(snap, status, message)
        return FetchResult(snapshot=snap)


def checked(resp: HttpResponse, headers: Dict[str, str]) -> HttpResponse:
    """The shared status mapping, with GitHub's own twists: a 403 with no requests left is the primary
    rate limit, not a refusal; refusals say what to do."""
    if resp.status == 403 and resp.headers.get("x-ratelimit-remaining") == "0":
        resets = reset_from_headers(resp)
        raise ProviderError("LIMIT", "GitHub rate limit reached" + (f" until {resets}" if resets else ""),
                            resets_at=resets)
    try:
        return check(resp, "Copilot usage")
    except ProviderError as exc:
        if exc.status != "AUTH":
            raise
        what = ("the token has no Copilot access (no Copilot seat, or a token without Copilot scope)"
                if resp.status == 403 else "run `gh auth login` or set GITHUB_TOKEN")
        raise ProviderError("AUTH", f"GitHub refused the token ({resp.status}): {what}") from exc


# --- token lookup ---------------------------------------------------------------------------


def find_token(ctx: FetchContext, account: AccountConfig, host: str = DEFAULT_HOST) -> Tuple[Optional[str], str]:
    """The token and where it came from (a variable name, `gh`, or a file), first found wins."""
    for name in (account.api_key_env,) if account.api_key_env else TOKEN_ENVS:
        value = api.env_key(ctx, name)
        if value:
            return value.strip(), f"env:{name}"
    token = gh_token(ctx, host)
    if token:
        return token, "gh auth token"
    for rel in COPILOT_FILES:
        token = _read_or_none(ctx, rel, lambda text: copilot_file_token(text, host))
        if token:
            return token, rel
    token = _read_or_none(ctx, GH_HOSTS, lambda text: gh_hosts_token(text, host))
    if token:
        return token, GH_HOSTS
    return None, ""


def gh_token(ctx: FetchContext, host: str) -> Optional[str]:
    """`gh auth token` (which also reads gh's keyring); None when gh is missing, signed out or slow."""
    args = ["auth", "token"] + ([] if host == DEFAULT_HOST else ["--hostname", host])
    try:
        done = ctx.command.run("gh", args, timeout=10.0)
    except (OSError, subprocess.SubprocessError):
        return None
    token = (done.stdout or "").strip()
    return token if done.returncode == 0 and token and " " not in token else None


def _read_or_none(ctx: FetchContext, path: str, parse: Callable[[str], Optional[str]]) -> Optional[str]:
    if not ctx.fs.exists(path):
        return None
    try:
        return parse(ctx.fs.read_text(path, limit=1024 * 1024))
    except OSError:
        return None


def copilot_file_token(text: str, host: str = DEFAULT_HOST) -> Optional[str]:
    """`oauth_token` of the host's entry in apps.json (keys `github.com:<app id>`) or hosts.json."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key, entry in data.items():
        if str(key).split(":", 1)[0] == host and isinstance(entry, dict):
            token = entry.get("oauth_token")
            if isinstance(token, str) and token.strip():
                return token.strip()
    return None


def gh_hosts_token(text: str, host: str = DEFAULT_HOST) -> Optional[str]:
    """`oauth_token` of the host in gh's hosts.yml: the host's own, else its active user's, else any
    user's (newer gh keeps the token in the keyring and writes none here)."""
    entry = simple_yaml(text).get(host)
    if not isinstance(entry, dict):
        return None
    token = entry.get("oauth_token")
    if isinstance(token, str) and token:
        return token
    users = entry.get("users") if isinstance(entry.get("users"), dict) else {}
    ordered = [users.get(entry.get("user"))] + list(users.values())
    for user in ordered:
        if isinstance(user, dict) and isinstance(user.get("oauth_token"), str) and user["oauth_token"]:
            return user["oauth_token"]
    return None


def simple_yaml(text: str) -> Dict[str, Any]:
    """Nested `key: value` mappings by indentation: the subset gh writes to hosts.yml (no lists, no flow
    style, no multi-line scalars)."""
    root: Dict[str, Any] = {}
    stack: List[Tuple[int, Dict[str, Any]]] = [(-1, root)]
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith(("#", "-")):
            continue
        indent = len(raw) - len(raw.lstrip())
        if stripped.endswith(":"):
            key, value = stripped[:-1], ""
        elif ": " in stripped:
            key, value = stripped.split(": ", 1)
        else:
            continue
        while stack[-1][0] >= indent:
            stack.pop()
        key = _unquote(key.strip())
        value = _scalar(value)
        if value == "":
            child: Dict[str, Any] = {}
            stack[-1][1][key] = child
            stack.append((indent, child))
        else:
            stack[-1][1][key] = value
    return root


def _scalar(value: str) -> str:
    value = value.strip()
    if value[:1] in ("'", '"'):
        end = value.find(value[0], 1)
        return value[1:end] if end > 0 else value[1:]
    return value.split(" #", 1)[0].strip() if not value.startswith("#") else ""


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" else text


# --- parsing (pure) -------------------------------------------------------------------------


def reset_time(value: Any) -> Optional[str]:
    """RFC 3339 from an RFC 3339 time, a bare date (UTC midnight) or epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value.strip()) == 10 and value.strip()[4] == "-":
        try:
            year, month, day = (int(p) for p in value.strip().split("-"))
            return format_rfc3339(calendar.timegm((year, month, day, 0, 0, 0)))
        except ValueError:
            return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    epoch = to_epoch(value) if isinstance(value, (str, int, float)) else None
    return format_rfc3339(epoch) if epoch is not None else None


def quota_window(entry: Dict[str, Any], resets_at: Optional[str]) -> Optional[RateLimit]:
    """A metered quota as a window; None for unlimited and placeholder (zero-entitlement) quotas."""
    if entry.get("unlimited") is True:
        return None
    limit = number(entry.get("entitlement"))
    if not limit or limit <= 0:
        return None
    remaining = number(entry.get("remaining"))
    if remaining is None:
        remaining = number(entry.get("quota_remaining"))
    left_pct = number(entry.get("percent_remaining"))
    if left_pct is not None:
        used_pct = min(100.0, max(0.0, 100.0 - left_pct))
    elif remaining is not None:
        used_pct = min(100.0, max(0.0, 100.0 * (limit - remaining) / limit))
    else:
        return None
    used = max(0.0, limit - remaining) if remaining is not None else round(limit * used_pct / 100.0, 2)
    return RateLimit(limit=limit, remaining=max(0.0, remaining) if remaining is not None else None,
                     used=used, used_percent=round(used_pct, 2), resets_at=resets_at)


def apply_user(snap: UsageSnapshot, data: Dict[str, Any]) -> None:
    """Quotas as rate-limit windows (unlimited ones listed in extras), plan and login in extras."""
    resets = reset_time(data.get("quota_reset_date_utc")) or reset_time(data.get("quota_reset_date"))
    windows: Dict[str, RateLimit] = {}
    unlimited: List[str] = []
    extras: Dict[str, Any] = {}
    snapshots = data.get("quota_snapshots") if isinstance(data.get("quota_snapshots"), dict) else {}
    for name in QUOTAS:
        entry = snapshots.get(name)
        if not isinstance(entry, dict):
            continue
        window = quota_window(entry, resets)
        if window is None:
            unlimited.append(name)
            continue
        windows[name] = window
        overage = number(entry.get("overage_count"))
        if overage:
            extras[f"{name}_overage"] = overage
        if entry.get("overage_permitted") is True:
            extras[f"{name}_overage_permitted"] = True
    premium = snapshots.get("premium_interactions")
    if isinstance(premium, dict) and number(premium.get("credits_used")):
        extras["premium_credits_used"] = number(premium.get("credits_used"))
    free_resets = reset_time(data.get("limited_user_reset_date"))
    left = data.get("limited_user_quotas") if isinstance(data.get("limited_user_quotas"), dict) else {}
    monthly = data.get("monthly_quotas") if isinstance(data.get("monthly_quotas"), dict) else {}
    for name in ("chat", "completions"):
        if name in windows or name not in monthly:
            continue
        window = quota_window({"entitlement": monthly.get(name), "remaining": left.get(name)}, free_resets)
        if window is not None:
            windows[name] = window
            if name in unlimited:
                unlimited.remove(name)
    if windows:
        snap.rate_limits = windows
    if unlimited:
        extras["unlimited"] = unlimited
    plan = data.get("copilot_plan") or data.get("access_type_sku")
    for key, value in (("plan", plan), ("login", data.get("login")), ("sku", data.get("access_type_sku")),
                       ("chat_enabled", data.get("chat_enabled")),
                       ("organizations", data.get("organization_login_list") or None),
                       ("quota_resets_at", resets or free_resets),
                       ("token_based_billing", data.get("token_based_billing"))):
        if value is not None:
            extras[key] = value
    snap.extras = dict(snap.extras or {}, **extras) or None
    for key in extras:
        if key.endswith("_overage") or key == "premium_credits_used":  # counted over the quota's month
            snap.set_period(f"extras.{key}", Period(kind="cycle", end=resets or free_resets))


def quota_status(snap: UsageSnapshot) -> Tuple[str, Optional[str]]:
    """LIMIT/WARN from the windows; a quota that may run into paid overage only warns when used up."""
    extras = snap.extras or {}
    hard = {n: w for n, w in (snap.rate_limits or {}).items() if not extras.get(f"{n}_overage_permitted")}
    status, message = limits_status(hard)
    spent = [n for n, w in (snap.rate_limits or {}).items()
             if n not in hard and remaining_fraction(w) == 0.0]
    if spent:
        note = f"{', '.join(spent)} used up; overage is billed"
        if status == "OK":
            return "WARN", note
        message = f"{message}; {note}"
    return status, message
