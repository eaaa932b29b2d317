import json
import os
import subprocess
import sys

import pytest
from fakeserver import FakeServer, fixture, run_fetch

from openusage.providers.base import AccountConfig, ProviderError, make_context
from openusage.providers.copilot import (
    CopilotProvider,
    find_token,
    gh_hosts_token,
    quota_window,
    reset_time,
    simple_yaml,
)

TOKEN = "gho_0123456789abcdefABCDEF0123456789abcd"
GH_TOKEN = "gho_fromghprogram00000000000000000000ab"
FILE_TOKEN = "ghu_fromcopilotappsjson0000000000000000"
YAML_TOKEN = "gho_fromghhostsyml000000000000000000000"
PATH = "/copilot_internal/user"

HOSTS_YML = f"""\
github.com:
    users:
        octo-dev:
            oauth_token: {YAML_TOKEN}
    git_protocol: https
    user: octo-dev
ghe.example.com:
    oauth_token: "gho_enterprise00000000000000000000000000" # quoted, with a comment
"""


@pytest.fixture(autouse=True)
def no_gh_no_env(tmp_path, monkeypatch):
    """No real gh and no real GitHub token reach these tests: PATH holds only what a test puts there."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return bin_dir


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


def fake_gh(bin_dir, token=GH_TOKEN, code=0):
    """A `gh` on PATH that prints a token for `gh auth token` (and records its arguments)."""
    script = bin_dir / "gh"
    script.write_text(f"#!{sys.executable}\n"
                      "import sys\n"
                      f"open({str(bin_dir / 'gh.args')!r}, 'w').write(' '.join(sys.argv[1:]))\n"
                      f"print({token!r})\n"
                      f"sys.exit({code})\n")
    script.chmod(0o755)
    return script


def write(home, rel, text):
    path = home / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def account(srv=None, api_key_env="GITHUB_TOKEN", **extra):
    extra.setdefault("timeout_seconds", 2)
    return AccountConfig(id="copilot", provider="copilot", api_key_env=api_key_env,
                         base_url=srv.url if srv else None, extra=extra)


def fetch(srv, environ=None, **kwargs):
    return run_fetch(CopilotProvider(), account(srv, **kwargs),
                     {"GITHUB_TOKEN": TOKEN} if environ is None else environ)


def test_pro_plan_premium_quota_and_unlimited_chat(server):
    server.route("GET", PATH, body=fixture("copilot", "user_pro"))
    snap = fetch(server)
    assert (snap.status, snap.currency, snap.message) == ("OK", "USD", None)
    assert list(snap.rate_limits) == ["premium_interactions"]
    premium = snap.rate_limits["premium_interactions"]
    assert (premium.limit, premium.remaining, premium.used, premium.used_percent) == (1500, 963, 537, 35.8)
    assert premium.resets_at == "2026-12-01T00:00:00.000Z"
    assert snap.extras == {"plan": "individual_pro", "login": "octo-dev", "sku": "plus_monthly_subscriber_quota",
                           "chat_enabled": True, "unlimited": ["chat", "completions"],
                           "quota_resets_at": "2026-12-01T00:00:00.000Z", "token_source": "env:GITHUB_TOKEN"}
    req = server.requests[0]
    assert req.headers["editor-version"] == "vscode/1.96.2"
    assert req.headers["editor-plugin-version"] == "copilot-chat/0.26.7"
    assert req.headers["user-agent"] == "GitHubCopilotChat/0.26.7"
    assert req.headers["x-github-api-version"] == "2025-04-01"
    assert req.headers["accept"] == "application/json"
    server.assert_secret_only_in(TOKEN, "Authorization", f"token {TOKEN}")
    assert TOKEN not in json.dumps(snap.to_dict())


def test_business_plan_with_string_numbers_placeholders_and_billed_overage(server):
    server.route("GET", PATH, body=fixture("copilot", "user_business"))
    snap = fetch(server)
    premium = snap.rate_limits["premium_interactions"]
    assert (premium.limit, premium.remaining, premium.used, premium.used_percent) == (300, 0, 300, 100)
    assert premium.resets_at == "2026-12-01T00:00:00.000Z"  # the bare date is UTC midnight
    assert list(snap.rate_limits) == ["premium_interactions"]  # the all-zero chat quota is no 0 % gauge
    assert snap.extras["unlimited"] == ["chat", "completions"]
    assert snap.extras["premium_interactions_overage"] == 12.5
    assert snap.extras["premium_credits_used"] == 312.5
    month = {"kind": "cycle", "end": "2026-12-01T00:00:00.000Z"}  # the quota month, to its reset
    assert {f: p.to_dict() for f, p in snap.periods.items()} == {
        "extras.premium_interactions_overage": month, "extras.premium_credits_used": month}
    assert snap.period_of("extras.premium_credits_used").label() == "cycle to 2026-12-01"
    assert snap.extras["organizations"] == ["octo-corp"] and snap.extras["token_based_billing"] is False
    assert (snap.status, snap.message) == ("WARN", "premium_interactions used up; overage is billed")


def test_free_plan_quotas(server):
    server.route("GET", PATH, body=fixture("copilot", "user_free"))
    snap = fetch(server)
    chat, completions = snap.rate_limits["chat"], snap.rate_limits["completions"]
    assert (chat.limit, chat.remaining, chat.used, chat.used_percent) == (50, 41, 9, 18)
    assert (completions.limit, completions.remaining, completions.used_percent) == (2000, 1730, 13.5)
    assert chat.resets_at == completions.resets_at == "2026-12-02T00:00:00.000Z"
    assert snap.extras["plan"] == "free" and "unlimited" not in snap.extras
    assert snap.status == "OK"


def test_exhausted_quotas_are_limit_and_low_ones_warn(server):
    free = fixture("copilot", "user_free")
    free["limited_user_quotas"] = {"chat": 0, "completions": 150}
    server.route("GET", PATH, body=free)
    snap = fetch(server)
    assert snap.status == "LIMIT"
    assert snap.message == "chat exhausted until 2026-12-02T00:00:00.000Z"
    pro = fixture("copilot", "user_pro")
    pro["quota_snapshots"]["premium_interactions"].update(percent_remaining=10.0, remaining=150)
    server.route("GET", PATH, body=pro)
    assert (fetch(server).status, fetch(server).message) == ("WARN", "premium_interactions 10% left")


def test_missing_token(server):
    server.route("GET", PATH, body=fixture("copilot", "user_pro"))
    with pytest.raises(ProviderError) as info:
        fetch(server, environ={})
    assert info.value.status == "AUTH"
    assert info.value.message == "no GitHub token: set GITHUB_TOKEN or run `gh auth login`"
    assert server.requests == []


@pytest.mark.parametrize("status, name, expected, words", [
    (401, "error_401", "AUTH", "GitHub refused the token (401): run `gh auth login` or set GITHUB_TOKEN"),
    (403, "error_403", "AUTH", "GitHub refused the token (403): the token has no Copilot access"),
])
def test_refusals(server, status, name, expected, words):
    server.route("GET", PATH, status=status, body=fixture("copilot", name))
    with pytest.raises(ProviderError) as info:
        fetch(server)
    assert info.value.status == expected and info.value.message.startswith(words)
    assert TOKEN not in info.value.message


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limited_with_reset(server, status):
    server.route("GET", PATH, status=status, body=fixture("copilot", "error_rate_limit"),
                 headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1795348860"})
    with pytest.raises(ProviderError) as info:
        fetch(server)
    assert info.value.status == "LIMIT" and info.value.resets_at == "2026-11-22T12:01:00.000Z"
    assert "2026-11-22T12:01:00.000Z" in info.value.message


def test_server_error_timeout_and_malformed_json(server):
    server.route("GET", PATH, status=500, body={"message": "Server Error"})
    with pytest.raises(ProviderError) as info:
        fetch(server)
    assert (info.value.status, info.value.message) == ("ERR", "Copilot usage failed: server error 500")
    server.route("GET", PATH, delay=3)
    with pytest.raises(ProviderError, match="request timed out") as info:
        fetch(server, timeout_seconds=0.3)
    assert info.value.status == "ERR"
    server.route("GET", PATH, raw=b'{"login": "octo-dev", ')
    with pytest.raises(ProviderError, match="Copilot usage is not valid JSON"):
        fetch(server)
    server.route("GET", PATH, body=["not", "an", "object"])
    with pytest.raises(ProviderError, match="not a JSON object"):
        fetch(server)


# --- token lookup ---------------------------------------------------------------------------


def lookup(acct, environ, host="github.com"):
    ctx = make_context(CopilotProvider(), acct, {}, environ=environ)
    token, source = find_token(ctx, acct, host)
    return token, source


def test_token_lookup_order(isolated_home, no_gh_no_env):
    acct = account(api_key_env=None)
    assert lookup(acct, {}) == (None, "")
    write(isolated_home, ".config/gh/hosts.yml", HOSTS_YML)
    assert lookup(acct, {}) == (YAML_TOKEN, "~/.config/gh/hosts.yml")
    write(isolated_home, ".config/github-copilot/hosts.json",
          json.dumps({"github.com": {"user": "octo-dev", "oauth_token": "gho_hostsjson"}}))
    assert lookup(acct, {}) == ("gho_hostsjson", "~/.config/github-copilot/hosts.json")
    write(isolated_home, ".config/github-copilot/apps.json",
          json.dumps({"github.com:Iv1.b507a08c87ecfe98": {"user": "octo-dev", "oauth_token": FILE_TOKEN,
                                                         "githubAppId": "Iv1.b507a08c87ecfe98"}}))
    assert lookup(acct, {}) == (FILE_TOKEN, "~/.config/github-copilot/apps.json")
    fake_gh(no_gh_no_env)
    assert lookup(acct, {}) == (GH_TOKEN, "gh auth token")
    assert (no_gh_no_env / "gh.args").read_text() == "auth token"
    assert lookup(acct, {"GITHUB_TOKEN": TOKEN}) == (TOKEN, "env:GITHUB_TOKEN")
    assert lookup(acct, {"GITHUB_TOKEN": TOKEN, "GH_TOKEN": "gho_gh"}) == ("gho_gh", "env:GH_TOKEN")
    named = account(api_key_env="MY_COPILOT_TOKEN")
    assert lookup(named, {"MY_COPILOT_TOKEN": "gho_mine", "GH_TOKEN": "gho_gh"}) == ("gho_mine",
                                                                                    "env:MY_COPILOT_TOKEN")
    assert lookup(named, {"GH_TOKEN": "gho_gh"}) == (GH_TOKEN, "gh auth token")  # an unset name falls through


def test_signed_out_gh_is_skipped_and_enterprise_host_is_asked_for(isolated_home, no_gh_no_env):
    fake_gh(no_gh_no_env, token="no oauth token found for github.com", code=1)
    write(isolated_home, ".config/gh/hosts.yml", HOSTS_YML)
    acct = account(api_key_env=None)
    assert lookup(acct, {}) == (YAML_TOKEN, "~/.config/gh/hosts.yml")
    assert lookup(acct, {}, host="ghe.example.com") == ("gho_enterprise00000000000000000000000000",
                                                        "~/.config/gh/hosts.yml")
    assert (no_gh_no_env / "gh.args").read_text() == "auth token --hostname ghe.example.com"


def test_fetch_with_the_gh_program_token(server, no_gh_no_env):
    fake_gh(no_gh_no_env)
    server.route("GET", PATH, body=fixture("copilot", "user_pro"))
    snap = fetch(server, environ={})
    assert snap.extras["token_source"] == "gh auth token"
    server.assert_secret_only_in(GH_TOKEN, "Authorization", f"token {GH_TOKEN}")
    assert GH_TOKEN not in json.dumps(snap.to_dict())


def test_hosts_yml_parsing():
    assert simple_yaml(HOSTS_YML)["github.com"]["users"]["octo-dev"]["oauth_token"] == YAML_TOKEN
    assert gh_hosts_token(HOSTS_YML) == YAML_TOKEN
    assert gh_hosts_token("github.com:\n    user: a\n    git_protocol: ssh\n") is None  # token in the keyring
    assert gh_hosts_token("github.com:\n  oauth_token: gho_direct\n  user: a\n") == "gho_direct"
    assert gh_hosts_token("") is None and gh_hosts_token("- a\n- b\n") is None


def test_reset_times_and_windows():
    assert reset_time("2026-10-01") == "2026-10-01T00:00:00.000Z"
    assert reset_time("2026-10-01T00:00:00.000Z") == "2026-10-01T00:00:00.000Z"
    assert reset_time(1796083200) == reset_time("1796083200") == "2026-12-01T00:00:00.000Z"
    assert reset_time("soon") is None and reset_time(None) is None
    assert quota_window({"entitlement": 0, "remaining": 0, "percent_remaining": 0}, None) is None
    assert quota_window({"entitlement": 50, "unlimited": True}, None) is None
    assert quota_window({"entitlement": "100.0", "remaining": "25"}, None).used_percent == 75.0


def test_detection(isolated_home, no_gh_no_env):
    provider = CopilotProvider()

    def which(name):
        path = no_gh_no_env / name
        return str(path) if path.exists() else None

    home = str(isolated_home)
    assert provider.detect({}, home, which) == []
    found = provider.detect({"GITHUB_TOKEN": TOKEN}, home, which)
    assert [(a.id, a.api_key_env, a.detected_by) for a in found] == [("copilot", "GITHUB_TOKEN", "env:GITHUB_TOKEN")]
    assert provider.detect({"GH_TOKEN": TOKEN}, home, which)[0].api_key_env == "GH_TOKEN"
    hosts = write(isolated_home, ".config/gh/hosts.yml", HOSTS_YML)
    assert provider.detect({}, home, which) == []  # hosts.yml without gh is not enough
    fake_gh(no_gh_no_env)
    assert provider.detect({}, home, which)[0].detected_by == f"path:{hosts}"
    os.remove(hosts)
    apps = write(isolated_home, ".config/github-copilot/apps.json", "{}")
    assert provider.detect({}, home, which)[0].detected_by == f"path:{apps}"


def test_usage_command_end_to_end(server, isolated_home, no_gh_no_env):
    server.route("GET", PATH, body=fixture("copilot", "user_pro"))
    write(isolated_home, ".config/openusage/settings.json", json.dumps({"auto_detect": False, "accounts": [
        {"id": "copilot", "provider": "copilot", "base_url": server.url, "api_key_env": "GITHUB_TOKEN"}]}))
    env = dict(os.environ, GITHUB_TOKEN=TOKEN, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-m", "openusage", "usage", "--provider", "copilot", "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    snap = json.loads(done.stdout)["snapshots"]["copilot"]
    assert snap["status"] == "OK" and snap["provider_id"] == "copilot"
    assert snap["rate_limits"]["premium_interactions"]["used_percent"] == 35.8
    assert snap["extras"]["plan"] == "individual_pro"
    assert TOKEN not in done.stdout + done.stderr
    server.assert_secret_only_in(TOKEN, "Authorization", f"token {TOKEN}")
