"""Four of the new agents at once, as a user meets them: pi (JSONL), Amp (whole JSON threads), Goose (SQLite)
and Cline (a VS Code extension's task files) under one home, the real daemon, its read model, the dashboard
and `daily --json` from the daemon's store and from a direct scan, which all agree."""
import json
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "agents"))

from agentcase import install  # noqa: E402
from support import wait_for  # noqa: E402
from test_agents_e2e import Screen, cli, read_model, report  # noqa: E402

from openusage.providers import REGISTRY  # noqa: E402
from openusage.providers.base import make_context  # noqa: E402
from openusage.tui import widgets  # noqa: E402
from openusage.tui.source import DaemonSource  # noqa: E402

AGENTS = {"pi": "pi", "amp": "Amp", "goose": "Goose", "cline": "Cline"}


def direct(home):
    """provider id -> (tokens, cost, tool calls) of each collector's own fetch, without store or daemon."""
    out = {}
    for pid in AGENTS:
        provider = REGISTRY[pid]
        (account,) = provider.detect(dict(os.environ), str(home), shutil.which)
        events = list(provider.fetch(account, make_context(provider, account, {}, home=str(home))).events)
        usage = [e for e in events if e.event_type == "message_usage"]
        out[pid] = (sum(e.total_tokens() for e in usage), sum(e.cost_usd or 0.0 for e in usage),
                    sum(1 for e in events if e.event_type == "tool_usage"))
    return out


def polled(d):
    health = client_health(d)
    return set(AGENTS) <= {p["provider"] for p in health["providers"].values() if p.get("status")}


def client_health(d):
    from openusage.daemon import client

    return client.call_json(d.socket_path, "GET", "/healthz")


def test_four_new_agents_in_one_daemon_agree_everywhere(isolated_home, daemon_factory, capsys, zone):
    zone("UTC")
    for pid in AGENTS:
        install(pid, isolated_home)
    expected = direct(isolated_home)
    d = daemon_factory().start()
    assert wait_for(lambda: polled(d), 20)

    # The read model: one OK snapshot per agent, the fixture's totals, DESIGN section 5 token sums.
    snaps = {s["provider_id"]: s for s in read_model(d)["snapshots"].values() if s["provider_id"] in AGENTS}
    assert sorted(snaps) == sorted(AGENTS)
    for pid, s in snaps.items():
        t = s["tokens"]
        assert s["status"] == "OK" and s["display_name"] == AGENTS[pid], s
        assert t["total"] == t["input"] + t["cache_read"] + t["cache_write"] + t["output"] == expected[pid][0]
        assert s["spend"]["total"] == pytest.approx(expected[pid][1], abs=1e-6)
        assert s["models"] and s["sessions"], pid
        assert s.get("tool_calls", 0) == expected[pid][2]
    assert {m["model"] for m in snaps["amp"]["models"]} == {"claude-sonnet-4-5-20250929", "acme-small"}
    assert snaps["amp"]["mcp_servers"] == [{"name": "linear", "calls": 1}]

    # daily --json: the daemon's store and a direct scan give the same days, summing to the read model.
    for pid in AGENTS:
        daemon = report(capsys, "daily", "--source", "daemon", "--provider", pid, "--socket-path", d.socket_path)
        scan = report(capsys, "daily", "--source", "direct", "--provider", pid)
        assert daemon["daily"] == scan["daily"] and daemon["daily"], pid
        assert sum(day["total_tokens"] for day in daemon["daily"]) == snaps[pid]["tokens"]["total"]
        assert sum(day["cost_usd"] for day in daemon["daily"]) == pytest.approx(snaps[pid]["spend"]["total"], abs=1e-6)
    days = [day["date"] for day in report(capsys, "daily", "--source", "daemon", "--provider", "goose",
                                          "--socket-path", d.socket_path)["daily"]]
    assert days == ["2026-11-30", "2026-12-01"]

    # `openusage list` names them with the account detection found.
    listed = cli(d, "list", "--json")
    accounts = {p["id"]: p["accounts"] for p in json.loads(listed.stdout)["providers"]}
    assert all(accounts[pid] == [pid] for pid in AGENTS)

    # The dashboard: a tile per agent with the read model's figures.
    source = DaemonSource(d.socket_path, autostart=False)
    ui = Screen(source, 140, 60)
    try:
        ui.app.start()
        assert ui.app.poll_results(wait=10)
        text = ui.draw()
        for pid, name in AGENTS.items():
            s = read_model(d)["snapshots"][pid]
            assert f"─ {name} " in text or f"▶ {name} " in text, name
            assert f"{widgets.money(s['spend']['total'])} · {widgets.compact(s['tokens']['total'])} tok" in text, pid
    finally:
        ui.app.stop()
        ui.app.fetcher.join(5)
        source.close()
