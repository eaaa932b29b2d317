"""The daemon, polling a fake OpenRouter, never shows or exports a lifetime or month-to-date figure as the
window's: the read model, `export` CSV and `/metrics` each carry its period (issue 13, item 4)."""
import csv
import io
import os
import sys
import time

from prometheus_client.parser import text_string_to_metric_families
from support import wait_for

from openusage import config
from openusage.cli import dashboard_cmd
from openusage.daemon import client
from openusage.reports import export

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "providers"))
from fakeserver import FakeServer, fixture  # noqa: E402

KEY = "sk-or-v1-0123456789abcdef0123456789abcdef"


def test_openrouter_figures_carry_their_periods_through_the_daemon(inprocess_daemon, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    with FakeServer() as srv:
        srv.route("GET", "/api/v1/key", body=fixture("openrouter", "key"))
        srv.route("GET", "/api/v1/credits", body=fixture("openrouter", "credits"))
        srv.route("GET", "/api/v1/activity", body=fixture("openrouter", "activity"))
        raw = {"auto_detect": False, "accounts": [{"id": "or", "provider": "openrouter",
                                                   "api_key_env": "OPENROUTER_API_KEY",
                                                   "base_url": srv.url + "/api/v1", "timeout_seconds": 2}]}
        d = inprocess_daemon(config.Settings(raw=raw, path="x", merged=config._merge(config.DEFAULTS, raw)))

        def snap(window):
            return client.call_json(d.socket_path, "POST", "/v1/read-model", {"window": window})["snapshots"]["or"]

        assert wait_for(lambda: snap("7d").get("spend", {}).get("lifetime") is not None, 10)
        week, ever = snap("7d"), snap("all")
        # 7d: the first poll knows no week's spend; lifetime and month to date keep their labels.
        assert "total" not in week["spend"] and week["spend"]["lifetime"] == 25.75
        assert week["periods"]["spend.lifetime"] == {"kind": "lifetime"}
        assert week["periods"]["spend.cycle"]["kind"] == "month_to_date"
        assert "extras" not in week or "window_spend" not in week["extras"]
        # all: the account's lifetime usage is the whole window's.
        assert ever["spend"]["total"] == 25.75 and "spend.total" not in ever["periods"]

        status, body = client.request(d.socket_path, "GET", "/metrics")
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        assert "openusage_spend" not in families  # the window's spend (data.time_window 30d) is unknown
        period = {(s.labels["period"], s.labels.get("since")): s.value
                  for s in families["openusage_period_spend"].samples}
        month = time.strftime("%Y-%m-01", time.gmtime())
        assert period == {("month_to_date", month): 20.75, ("lifetime", None): 25.75}

        model = client.call_json(d.socket_path, "POST", "/v1/read-model", {"window": "7d"})
        rows = list(csv.DictReader(io.StringIO(export.to_csv(model, "snapshots"))))
        assert rows[0]["spend_total"] == "" and rows[0]["spend_lifetime"] == "25.75"
        assert rows[0]["spend_cycle"] == "20.75" and rows[0]["spend_cycle_period"] == "month to date"
        # the plain table (`openusage` off a terminal, `openusage usage`) labels the figure it can show
        assert "$20.75 (month to date)" in dashboard_cmd.format_table(model)

