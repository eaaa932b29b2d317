"""A template of an openusage provider plugin.

Copy this file into a plugin directory (~/.config/openusage/plugins, $OPENUSAGE_PLUGIN_DIR or
--plugin-dir; never the current directory; the directory and the file yours and writable only by
you), rename the class and the id, and fill in fetch. Check it with
`openusage plugin validate PATH`, then add an account: {"id": "team", "provider": "example_team_quota"}.

Rules a plugin keeps, like the built-ins:
- It reaches the outside only through `ctx`: ctx.env.get(name) for the variables listed in env_vars
  (and the account's api_key_env), ctx.http.request(...), ctx.command.run(...) for the programs listed
  in programs, ctx.fs for files under the home directory, ctx.now, ctx.log, and ctx.state (a dict
  kept between polls, for incremental reading). ctx.keep_raw is False when the caller stores no
  payloads (the reports cache): an event with an id may then leave raw out.
- FetchResult.state_changed (optional): a function the caller asks once the events are consumed,
  whether the fetch changed ctx.state; an unchanged state is then not encoded to find out.
- It never logs, stores or returns a key.
- It raises ProviderError(status, message) for what the user should see: "AUTH" (no or bad key),
  "LIMIT" (rate limited; pass resets_at), "ERR" (anything else). Other exceptions become ERR too.
- It returns a FetchResult with a UsageSnapshot (missing data stays None: absent, not zero) and,
  optionally, usage events.
"""
from openusage.core.snapshot import RateLimit, Spend, UsageSnapshot
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, ProviderError
from openusage.providers.http_common import api_key, base_url, check, json_body


class ExampleTeamQuota(Provider):
    id = "example_team_quota"  # a-z, 0-9 and _, unique
    name = "Example team quota"
    source_modes = ("api",)  # api, oauth, local, cli, web
    env_vars = ("EXAMPLE_TEAM_KEY",)
    default_interval = 300.0  # seconds between polls
    widgets = {"gauges": ["monthly"], "figures": ["spend.total"], "sections": ["limits"]}

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        key = api_key(ctx, account, "EXAMPLE_TEAM_KEY")  # AUTH naming the variable when unset
        url = base_url(account, "https://quota.example.invalid") + "/v1/quota"
        resp = check(ctx.http.request(url, headers={"Authorization": f"Bearer {key}"}, timeout=15))
        data = json_body(resp)
        if not isinstance(data, dict) or "limit" not in data:
            raise ProviderError("ERR", "unexpected answer from the quota endpoint")
        snapshot = UsageSnapshot(
            provider_id=self.id,
            account_id=account.id,
            status="OK",
            currency=data.get("currency", "USD"),
            spend=Spend(total=data.get("spent")),
            rate_limits={"monthly": RateLimit(limit=data["limit"], used=data.get("used"),
                                              resets_at=data.get("resets_at"))},
        )
        return FetchResult(snapshot=snapshot)
