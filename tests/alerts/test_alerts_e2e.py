"""Alerts end to end: a daemon polls a fake Z.AI quota server whose numbers the test moves; a fake
notify-send on PATH and a command record what they were given."""
import json
import logging
import os
import stat
import sys
import time

import pytest
from providers.fakeserver import FakeServer
from support import wait_for

from openusage import config
from openusage.daemon import client
from openusage.providers.zai import PATH as QUOTA_PATH

RECORD_ARGV = """#!{python}
import json, sys
with open({out!r}, "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
"""
RECORD_STDIN = """#!{python}
import json, sys
alert = json.load(sys.stdin)
with open({out!r}, "a") as fh:
    fh.write(json.dumps(alert) + "\\n")
if alert["account_id"] in {fail!r}:
    sys.stderr.write("cannot page anyone\\n")
    sys.exit(3)
"""


def script(path, text):
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, stat.S_IRWXU)
    return str(path)


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return [json.loads(line) for line in fh]


class Quota:
    """The fake server's numbers: one 5h token window per account key."""

    def __init__(self):
        self.used = {}
        self.reset = {}

    def answer(self, request):
        key = request.headers.get("authorization", "").replace("Bearer ", "")
        limits = [{"type": "TOKENS_LIMIT", "unit": 3, "number": 5, "percentage": self.used[key],
                   "nextResetTime": int(self.reset[key] * 1000)}]
        return 200, {}, {"code": 200, "success": True, "data": {"limits": limits}}


@pytest.fixture
def rig(tmp_path, monkeypatch):
    quota = Quota()
    with FakeServer() as srv:
        srv.route("GET", QUOTA_PATH, handler=quota.answer)
        bindir = tmp_path / "bin"
        bindir.mkdir()
        script(bindir / "notify-send", RECORD_ARGV.format(python=sys.executable, out=str(tmp_path / "desktop")))
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
        yield srv, quota, tmp_path


def settings(srv, tmp_path, accounts=("z1",), rules=None, cooldown=0, fail=()):
    command = script(tmp_path / "page", RECORD_STDIN.format(python=sys.executable, out=str(tmp_path / "command"),
                                                            fail=list(fail)))
    raw = {"auto_detect": False,
           "accounts": [{"id": a, "provider": "zai", "api_key_env": f"KEY_{a.upper()}", "base_url": srv.url,
                         "interval_seconds": 3600} for a in accounts],
           "alerts": {"rules": rules or [{"id": "plan-80", "when": "rate_limit", "provider": "zai",
                                          "used_percent_at_least": 80}],
                      "notify": {"desktop": True, "command": [command], "cooldown_seconds": cooldown}}}
    assert config.validate(raw) == []
    return config.Settings(raw=raw, path="x", merged=config._merge(config.DEFAULTS, raw))


def start(inprocess_daemon, monkeypatch, quota, conf, used=50.0, reset_in=18000.0):
    for account in (a for a in conf.raw["accounts"] if a["provider"] == "zai"):
        monkeypatch.setenv(account["api_key_env"], account["id"])
        quota.used.setdefault(account["id"], used)
        quota.reset.setdefault(account["id"], time.time() + reset_in)
    d = inprocess_daemon(conf)
    assert wait_for(lambda: d.alerts.evaluations >= 1 and d.alerts.idle() and all(
        s.get("rate_limits") for s in usage(d).values()), 15)
    return d


def usage(d):
    return client.call_json(d.socket_path, "POST", "/v1/read-model", {"window": "1d"})["snapshots"]


def poll(d, srv):
    """One poll of every account, and the evaluation that follows it."""
    before, asked = d.alerts.evaluations, len(srv.requests)
    assert client.call_json(d.socket_path, "POST", "/v1/refresh", {})["scheduled"] >= 1
    assert wait_for(lambda: len(srv.requests) > asked and d.alerts.evaluations > before and d.alerts.idle(), 15)


def stop(d):
    d.stop_event.set()
    assert wait_for(lambda: not os.path.exists(d.socket_path), 15)


def test_crossing_fires_once_rearms_below_the_margin_and_fires_again(inprocess_daemon, rig, monkeypatch):
    srv, quota, tmp = rig
    d = start(inprocess_daemon, monkeypatch, quota, settings(srv, tmp))
    assert lines(tmp / "command") == [] and lines(tmp / "desktop") == []
    for used, expected in ((85, 1), (95, 1), (99, 1), (77, 1), (82, 1), (70, 1), (81, 2)):
        quota.used["z1"] = used
        poll(d, srv)
        assert len(lines(tmp / "command")) == expected, used
    first, second = lines(tmp / "command")
    assert {k: first[k] for k in ("rule", "provider_id", "account_id", "limit", "value", "threshold")} == {
        "rule": "plan-80", "provider_id": "zai", "account_id": "z1", "limit": "5h", "value": 85.0, "threshold": 80.0}
    assert first["resets_at"].endswith("Z") and first["fired_at"].endswith("Z") and second["value"] == 81.0
    desktop = lines(tmp / "desktop")
    assert len(desktop) == 2
    assert desktop[0][:2] == ["--app-name=openusage", "openusage: Z.AI (z1) 5h"]
    assert desktop[0][2].startswith("5h at 85 % used (alert at 80 %); resets ")
    assert desktop[0][2].endswith("(rule plan-80)")
    view = client.call_json(d.socket_path, "GET", "/v1/alerts")
    [row] = view["alerts"]
    assert row["firing"] and not row["seen"] and view["unseen"] == 1
    assert view["notify"]["desktop_program"] == str(tmp / "bin" / "notify-send")
    assert [a["value"] for a in view["recent"]] == [81.0, 85.0]
    metrics = client.request(d.socket_path, "GET", "/metrics")[1].decode()
    assert 'openusage_alert_firing{rule="plan-80",provider="zai",account="z1"} 1' in metrics
    quota.used["z1"] = 10
    poll(d, srv)
    metrics = client.request(d.socket_path, "GET", "/metrics")[1].decode()
    assert 'openusage_alert_firing{rule="plan-80",provider="zai",account="z1"} 0' in metrics


def test_a_window_reset_rearms(inprocess_daemon, rig, monkeypatch):
    srv, quota, tmp = rig
    d = start(inprocess_daemon, monkeypatch, quota, settings(srv, tmp), used=95, reset_in=1.0)
    assert len(lines(tmp / "command")) == 1  # the first poll crossed
    poll(d, srv)
    assert len(lines(tmp / "command")) == 1
    time.sleep(max(0.0, quota.reset["z1"] - time.time()) + 0.05)
    quota.used["z1"], quota.reset["z1"] = 92, time.time() + 18000  # a new window, above again
    poll(d, srv)
    assert [a["value"] for a in lines(tmp / "command")] == [95.0, 92.0]


def test_a_daemon_restart_does_not_repeat(inprocess_daemon, rig, monkeypatch):
    srv, quota, tmp = rig
    conf = settings(srv, tmp)
    d = start(inprocess_daemon, monkeypatch, quota, conf, used=90)
    assert len(lines(tmp / "command")) == 1
    fired_at = client.call_json(d.socket_path, "GET", "/v1/alerts")["alerts"][0]["fired_at"]
    stop(d)
    again = start(inprocess_daemon, monkeypatch, quota, conf)
    poll(again, srv)
    assert len(lines(tmp / "command")) == 1 and len(lines(tmp / "desktop")) == 1
    view = client.call_json(again.socket_path, "GET", "/v1/alerts")
    assert view["alerts"][0]["fired_at"] == fired_at and view["alerts"][0]["firing"]


def test_cooldown_holds(inprocess_daemon, rig, monkeypatch):
    srv, quota, tmp = rig
    d = start(inprocess_daemon, monkeypatch, quota, settings(srv, tmp, cooldown=3600), used=90)
    for used in (10, 90, 5, 95):  # re-armed and crossed twice more inside the hour
        quota.used["z1"] = used
        poll(d, srv)
    assert [a["value"] for a in lines(tmp / "command")] == [90.0]
    [row] = client.call_json(d.socket_path, "GET", "/v1/alerts")["alerts"]
    assert row["armed"] and row["firing"]  # above again, the notification held back by the cooldown


def test_a_failing_command_does_not_stop_the_others(inprocess_daemon, rig, monkeypatch, caplog):
    srv, quota, tmp = rig
    caplog.set_level(logging.INFO, logger="openusage.alerts")
    d = start(inprocess_daemon, monkeypatch, quota, settings(srv, tmp, accounts=("z1", "z2"), fail=("z1",)))
    quota.used.update(z1=90, z2=91)
    poll(d, srv)
    assert sorted(a["account_id"] for a in lines(tmp / "command")) == ["z1", "z2"]
    assert sorted(argv[1] for argv in lines(tmp / "desktop")) == ["openusage: Z.AI (z1) 5h", "openusage: Z.AI (z2) 5h"]
    assert "alert plan-80: command failed: page exited 3: cannot page anyone" in caplog.text
    assert "alert plan-80: command: page exited 0" in caplog.text
    recent = client.call_json(d.socket_path, "GET", "/v1/alerts")["recent"]
    outcomes = {a["account_id"]: {o["channel"]: o["ok"] for o in a["delivered"]} for a in recent}
    assert outcomes == {"z1": {"log": True, "desktop": True, "command": False},
                        "z2": {"log": True, "desktop": True, "command": True}}
    assert client.call_json(d.socket_path, "GET", "/healthz")["status"] == "ok"


def test_seen_clears_the_mark(inprocess_daemon, rig, monkeypatch):
    srv, quota, tmp = rig
    d = start(inprocess_daemon, monkeypatch, quota, settings(srv, tmp, accounts=("z1", "z2")), used=90)
    assert client.call_json(d.socket_path, "GET", "/v1/alerts")["unseen"] == 2
    done = client.call_json(d.socket_path, "POST", "/v1/alerts/seen", {"provider_id": "zai", "account_id": "z1"})
    assert done == {"seen": 1}
    view = client.call_json(d.socket_path, "GET", "/v1/alerts")
    assert view["unseen"] == 1 and {a["account_id"]: a["seen"] for a in view["alerts"]} == {"z1": True, "z2": False}
    assert client.request(d.socket_path, "POST", "/v1/alerts/seen", b'{"provider_id": 3}')[0] == 400
    stop(d)
    again = start(inprocess_daemon, monkeypatch, quota, settings(srv, tmp, accounts=("z1", "z2")))
    assert client.call_json(again.socket_path, "GET", "/v1/alerts")["unseen"] == 1  # kept in the store


def test_hook_batches_and_the_demo_provider_are_evaluated(inprocess_daemon, rig, monkeypatch):
    srv, quota, tmp = rig
    rules = [{"id": "any-spend", "when": "spend", "window": "all", "provider": "claude_code", "at_least_usd": 0},
             {"id": "demo-budget", "when": "spend", "window": "7d", "provider": "demo", "at_least_usd": 0.01},
             {"id": "demo-balance", "when": "balance", "provider": "demo", "at_most": 100}]
    conf = settings(srv, tmp, rules=rules)
    conf.raw["accounts"].append({"id": "demo", "provider": "demo"})
    conf.merged = config._merge(config.DEFAULTS, conf.raw)
    d = start(inprocess_daemon, monkeypatch, quota, conf)
    assert sorted(a["rule"] for a in lines(tmp / "command")) == ["demo-balance", "demo-budget"]
    budget = next(a for a in lines(tmp / "command") if a["rule"] == "demo-budget")
    assert budget["value"] > 0.01 and budget["threshold"] == 0.01 and budget["limit"] is None
    poll(d, srv)
    assert len(lines(tmp / "command")) == 2
    before = d.alerts.evaluations
    hook = {"session_id": "s1", "transcript_path": "/x/s1.jsonl", "cwd": "/home/u/proj",
            "hook_event_name": "PostToolUse", "tool_name": "Read", "tool_use_id": "toolu_1",
            "tool_input": {}, "tool_response": {}}
    status, _ = client.request(d.socket_path, "POST", "/v1/hook/claude-code", json.dumps(hook).encode())
    assert status == 200
    assert wait_for(lambda: d.alerts.evaluations > before and d.alerts.idle(), 15)
    assert [a["rule"] for a in lines(tmp / "command")][2:] == ["any-spend"]
