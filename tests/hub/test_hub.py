import json
import os
import subprocess
import sys

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from support import DaemonProcess, wait_for

from openusage.core.snapshot import RateLimit, Spend, Tokens, UsageSnapshot
from openusage.hub import metrics, server
from openusage.hub.exporter import sanitize
from openusage.hub.store import HubStore, PushError, validate_push

TOKEN = "hub-test-token-0123456789"


@pytest.fixture
def hub():
    started = []

    def start(token=TOKEN, stale=300.0):
        h = server.start("127.0.0.1:0", token, False, stale)
        started.append(h)
        return h

    yield start
    for h in started:
        h.shutdown()
        h.server_close()


def snap(provider="openai", account="work", **kw):
    base = UsageSnapshot(provider_id=provider, account_id=account, status="OK", currency="USD",
                         spend=Spend(total=1.5), tokens=Tokens(input=10, output=5, total=15),
                         rate_limits={"5h": RateLimit(used_percent=40, resets_at="2026-11-22T12:00:00.000Z"),
                                      "rpm": RateLimit(limit=60, remaining=15)})
    for k, v in kw.items():
        setattr(base, k, v)
    return base.to_dict()


def auth(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


def test_push_auth_and_schema(hub):
    h = hub()
    body = {"machine": "laptop", "snapshots": [snap()]}
    assert requests.post(h.url + "/v1/push", json=body, timeout=5).status_code == 401
    assert requests.post(h.url + "/v1/push", json=body, headers=auth("wrong"), timeout=5).status_code == 401
    assert requests.get(h.url + "/v1/snapshots", timeout=5).status_code == 401
    assert requests.get(h.url + "/healthz", timeout=5).json() == {"status": "ok", "machines": []}
    bad = {"machine": "laptop", "snapshots": [snap(), {"provider_id": "x"}]}
    r = requests.post(h.url + "/v1/push", json=bad, headers=auth(), timeout=5)
    assert r.status_code == 400 and "snapshots[1]" in r.json()["error"]
    assert requests.get(h.url + "/healthz", timeout=5).json()["machines"] == []  # nothing stored
    assert requests.post(h.url + "/v1/push", json=body, headers=auth(), timeout=5).json() == {
        "stored": 1, "machine": "laptop"}
    view = requests.get(h.url + "/v1/snapshots", headers=auth(), timeout=5).json()
    assert list(view["snapshots"]) == ["laptop:openai:work"]
    assert view["snapshots"]["laptop:openai:work"]["display_name"] == "laptop · openai"
    assert requests.get(h.url + "/healthz", timeout=5).json()["machines"] == ["laptop"]
    r = requests.post(h.url + "/v1/push", data=b"x" * (server.MAX_PUSH_BYTES + 1), headers=auth(), timeout=10)
    assert r.status_code == 413


@pytest.mark.parametrize("body, message", [
    ([], "body must be"), ({"machine": "a b", "snapshots": []}, "machine:"),
    ({"machine": "m"}, "snapshots: expected"), ({"machine": "m", "snapshots": [{"provider_id": "p"}]}, "account_id"),
])
def test_validate_push(body, message):
    with pytest.raises(PushError, match=message):
        validate_push(body)


def test_store_replaces_batches_and_evicts():
    store = HubStore(stale_timeout=10)
    store.push(validate_push({"machine": "a", "snapshots": [snap(account="x"), snap(account="y")]}), now=100)
    store.push(validate_push({"machine": "a", "snapshots": [snap(account="x")]}), now=101)
    store.push(validate_push({"machine": "b", "snapshots": [snap()]}), now=105)
    assert [(m, s["account_id"]) for m, s in store.entries(now=106)] == [("a", "x"), ("b", "work")]
    assert store.evict(now=112) == ["a"]
    assert list(store.machines(now=112)) == ["b"]


def test_bind_guard():
    with pytest.raises(server.BindRefused) as info:
        server.check_bind("0.0.0.0", None, False)
    assert info.value.args[0].count("\n  ") == 3
    server.check_bind("0.0.0.0", "tok", False)
    server.check_bind("0.0.0.0", None, True)
    server.check_bind("127.0.0.1", None, False)
    server.check_bind("::1", None, False)
    out = subprocess.run([sys.executable, "-m", "openusage", "hub", "--listen", "0.0.0.0:0", "--headless"],
                         capture_output=True, text=True, timeout=30, env=dict(os.environ))
    assert out.returncode == 2
    assert "OPENUSAGE_HUB_TOKEN" in out.stderr and "--allow-public" in out.stderr


def test_metrics_parse_as_prometheus_text():
    text = metrics.render([("laptop", snap()), ("desk", snap(provider="deepseek", account="d", currency="CNY",
                                                            status="LIMIT"))],
                          pushes={"laptop": 90.0, "desk": 95.0}, now=100.0)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    spend = {s.labels["machine"]: (s.value, s.labels["currency"]) for s in families["openusage_spend"].samples}
    assert spend == {"laptop": (1.5, "USD"), "desk": (1.5, "CNY")}
    used = {(s.labels["machine"], s.labels["limit"]): s.value
            for s in families["openusage_rate_limit_used_percent"].samples}
    assert used[("laptop", "5h")] == 40 and used[("laptop", "rpm")] == 75
    status = {(s.labels["machine"], s.labels["status"]): s.value for s in families["openusage_status"].samples}
    assert status[("desk", "LIMIT")] == 1 and status[("desk", "OK")] == 0
    ages = {s.labels["machine"]: s.value for s in families["openusage_last_push_age_seconds"].samples}
    assert ages == {"desk": 5, "laptop": 10}
    tokens = {s.labels["kind"]: s.value for s in families["openusage_tokens"].samples if s.labels["machine"] == "desk"}
    assert tokens == {"input": 10, "output": 5, "total": 15}


def test_sanitize_drops_paths():
    s = snap(extras={"roots": ["/home/u/.claude", "~/.config/claude"], "files": 12, "log": "/var/x",
                     "plan": "pro"})
    assert sanitize(s)["extras"] == {"roots": [], "files": 12, "plan": "pro"}


def machine_daemon(short_dir, name, hub_url, interval=5):
    state = os.path.join(short_dir, name)
    os.makedirs(state)
    cfg = os.path.join(state, "settings.json")
    with open(cfg, "w") as fh:
        json.dump({"auto_detect": False, "accounts": [{"id": "demo", "provider": "demo"}],
                   "export": {"target": hub_url, "interval_seconds": interval, "machine_name": name}}, fh)
    d = DaemonProcess(state, os.path.join(short_dir, f"{name}.sock"), ["--config", cfg])
    return d


def test_two_daemons_export_to_one_hub(hub, short_dir, monkeypatch):
    monkeypatch.setenv("OPENUSAGE_HUB_TOKEN", TOKEN)
    h = hub(stale=7.0)
    laptop = machine_daemon(short_dir, "laptop", h.url).start()
    desktop = machine_daemon(short_dir, "desktop", h.url).start()
    try:
        def machines():
            return requests.get(h.url + "/healthz", timeout=5).json()["machines"]

        assert wait_for(lambda: machines() == ["desktop", "laptop"], 15)
        view = requests.get(h.url + "/v1/snapshots", headers=auth(), timeout=5).json()
        assert set(view["snapshots"]) == {"laptop:demo:demo", "desktop:demo:demo"}
        assert view["snapshots"]["laptop:demo:demo"]["rate_limits"]["5h"]["used_percent"] >= 0
        out = subprocess.run([sys.executable, "-m", "openusage", "hub-view", h.url], capture_output=True, text=True,
                             timeout=30, env=dict(os.environ))
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"hub {h.url} · 2 machine snapshots from 2 machine(s)")
        assert "laptop" in out.stdout and "desktop" in out.stdout
        bad = subprocess.run([sys.executable, "-m", "openusage", "hub-view", h.url], capture_output=True, text=True,
                             timeout=30, env=dict(os.environ, OPENUSAGE_HUB_TOKEN="nope"))
        assert bad.returncode == 3 and "401" in bad.stderr
        health = json.loads(subprocess.run(
            [sys.executable, "-m", "openusage", "telemetry", "daemon", "status", "--json", "--socket-path",
             laptop.socket_path], capture_output=True, text=True, timeout=30, env=laptop.env).stdout)
        assert health["exporter"]["machine"] == "laptop" and health["exporter"]["failures"] == 0
        desktop.stop()
        assert wait_for(lambda: machines() == ["laptop"], 15)
    finally:
        laptop.stop()
        desktop.stop()


def test_daemon_serves_metrics_on_its_socket(daemon_factory, isolated_home):
    from openusage.daemon import client

    d = daemon_factory().start()
    client.request(d.socket_path, "POST", "/v1/hook/claude-code",
                   json.dumps({"hook_event_name": "PostToolUse", "tool_use_id": "t1", "tool_name": "Bash"}).encode())
    status, body = client.request(d.socket_path, "GET", "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert families["openusage_status"].samples


def test_metrics_carry_the_pace_of_plan_windows():
    limit = {"used_percent": 50.0, "resets_at": "2026-11-22T15:00:00Z", "source": "oauth",
             "observed_at": "2026-11-22T12:00:00Z", "window_seconds": 18000,
             "pace": {"rate_percent_per_hour": 25.0, "exhausts_at": "2026-11-22T14:00:00Z", "before_reset": True}}
    text = metrics.render([(None, {"provider_id": "claude_code", "account_id": "me", "status": "OK",
                                   "rate_limits": {"5h": limit}})], now=0)
    labels = '{provider="claude_code",account="me",limit="5h"}'
    assert f"openusage_rate_limit_pace_percent_per_hour{labels} 25" in text
    assert f"openusage_rate_limit_exhausts_at_seconds{labels} 1795356000" in text
    assert f"openusage_rate_limit_exhausts_before_reset{labels} 1" in text
    assert ('openusage_rate_limit_observed_at_seconds{provider="claude_code",account="me",limit="5h",'
            'source="oauth"} 1795348800') in text


def test_exporter_sends_alert_state_and_the_hub_exports_it(hub):
    import threading

    from openusage.hub.exporter import Exporter

    h = hub()
    firing = [{"rule": "plan-90", "provider_id": "openai", "account_id": "work", "firing": True},
              {"rule": "plan-90", "provider_id": "deepseek", "account_id": "d", "firing": False}]
    exporter = Exporter(h.url, 60, "laptop", lambda: {"snapshots": {"work": snap()}}, threading.Event(),
                        token=TOKEN, alerts=lambda: firing)
    assert exporter.push_once() == 60 and exporter.failures == 0
    text = requests.get(h.url + "/metrics", headers=auth(), timeout=5).text
    samples = {(s.labels["machine"], s.labels["rule"], s.labels["provider"], s.labels["account"]): s.value
               for f in text_string_to_metric_families(text) if f.name == "openusage_alert_firing"
               for s in f.samples}
    assert samples == {("laptop", "plan-90", "openai", "work"): 1, ("laptop", "plan-90", "deepseek", "d"): 0}


@pytest.mark.parametrize("alerts, message", [
    ({}, "alerts: expected an array"),
    ([{"rule": "r", "provider_id": "p", "account_id": "a"}], r"alerts\[0\]"),
    ([{"rule": "", "provider_id": "p", "account_id": "a", "firing": True}], r"alerts\[0\]"),
])
def test_validate_push_checks_alerts(alerts, message):
    with pytest.raises(PushError, match=message):
        validate_push({"machine": "m", "snapshots": [], "alerts": alerts})
    assert validate_push({"machine": "m", "snapshots": []})["alerts"] == []


def _raw_push(machine, replace=None):
    """A push body as JSON text, with `replace` {placeholder: raw JSON} put in where JSON itself cannot say it."""
    text = json.dumps({"machine": machine, "snapshots": [snap()]})
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    return text.encode()


@pytest.mark.parametrize("body, path", [
    (_raw_push("evil", {'"total": 1.5': '"total": "1.5"'}), "snapshots[0].spend.total: expected a finite number"),
    (_raw_push("evil", {'"input": 10': '"input": 1' + "0" * 400}), "snapshots[0].tokens.input: expected a finite"),
    (_raw_push("evil", {'"used_percent": 40': '"used_percent": NaN'}),
     "snapshots[0].rate_limits.5h.used_percent: expected a finite number"),
    (_raw_push("evil", {'"remaining": 15': '"remaining": -Infinity'}), "snapshots[0].rate_limits.rpm.remaining"),
    (_raw_push("evil", {'"output": 5': '"output": true'}), "snapshots[0].tokens.output: expected a finite number"),
    (_raw_push("evil", {'"status": "OK"': '"status": "OK", "models": [{"model": "m", "input": "x"}]'}),
     "snapshots[0].models[0].input"),
    (_raw_push("evil", {'"status": "OK"': '"status": "OK", "models": {"m": 1}'}), "snapshots[0].models: expected an"),
    (_raw_push("evil", {'"status": "OK"': '"status": "OK", "display_name": "' + "x" * 5000 + '"'}),
     "snapshots[0].display_name: longer than"),
    (_raw_push("evil", {'"status": "OK"': '"status": "OK", "extras": {"a": {"b": {"c": {"d": {"e": 1}}}}}'}),
     "snapshots[0].extras.a.b.c.d: nested deeper"),
    (_raw_push("evil", {'"status": "OK"': '"status": "OK", "extras": {"n": 1e999}'}), "snapshots[0].extras.n"),
    (_raw_push("evil", {'"rate_limits": {': '"rate_limits": {"x": 3, '}), "snapshots[0].rate_limits.x: expected an"),
    (_raw_push("m\n"), "machine: 1-128 characters"),
    (_raw_push("evil", {'"machine": "evil"': '"machine": "evil", "alerts": [{"rule": "r\\u001b[2J", '
                                             '"provider_id": "p", "account_id": "a", "firing": true}]'}),
     "alerts[0]: expected"),
])
def test_a_push_off_the_schema_is_refused_and_breaks_no_view(hub, body, path):
    h = hub()
    good = {"machine": "laptop", "snapshots": [snap()]}
    assert requests.post(h.url + "/v1/push", json=good, headers=auth(), timeout=5).status_code == 200
    r = requests.post(h.url + "/v1/push", data=body, headers=dict(auth(), **{"Content-Type": "application/json"}),
                      timeout=5)
    assert r.status_code == 400 and r.json()["error"].startswith(path), r.text
    assert requests.get(h.url + "/healthz", timeout=5).json()["machines"] == ["laptop"]
    metrics_text = requests.get(h.url + "/metrics", headers=auth(), timeout=5)
    assert metrics_text.status_code == 200
    assert {f.name for f in text_string_to_metric_families(metrics_text.text)} >= {"openusage_spend"}
    out = subprocess.run([sys.executable, "-m", "openusage", "hub-view", h.url], capture_output=True, text=True,
                         timeout=30, env=dict(os.environ, OPENUSAGE_HUB_TOKEN=TOKEN))
    assert out.returncode == 0 and "laptop" in out.stdout, out.stderr


def test_machine_names_are_matched_whole():
    for name in ("m\n", "m\nx", "a b", "", "-m", "m" * 129):
        with pytest.raises(PushError, match="machine:"):
            validate_push({"machine": name, "snapshots": []})
    assert validate_push({"machine": "build-01.lan", "snapshots": []})["machine"] == "build-01.lan"


def test_metrics_leave_out_a_snapshot_that_does_not_fit_and_render_the_rest():
    bad = snap(account="bad")
    bad["spend"]["total"] = "1.5"
    bad["rate_limits"]["5h"]["used_percent"] = float("inf")
    worse = dict(snap(account="worse"), rate_limits=[1, 2])
    text = metrics.render([("evil", bad), ("evil", worse), ("laptop", snap())], pushes={"laptop": 1.0}, now=2.0)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {s.labels["account"] for s in families["openusage_spend"].samples} == {"work"}
    assert {s.labels["account"] for s in families["openusage_status"].samples} == {"work"}


def test_hub_view_leaves_out_what_a_hub_answers_off_the_schema():
    from providers.fakeserver import FakeServer

    view = {"window": "hub", "machines": {"laptop": {}, "evil": {}}, "snapshots": {
        "laptop:openai:work": dict(snap(), display_name="laptop · openai", extras={"machine": "laptop"}),
        "evil:openai:x": dict(snap(account="x"), tokens={"input": "lots"}),
        "evil:openai:y": "not a snapshot"}}
    with FakeServer() as srv:
        srv.route("GET", "/v1/snapshots", raw=json.dumps(view).encode())
        out = subprocess.run([sys.executable, "-m", "openusage", "hub-view", srv.url], capture_output=True, text=True,
                             timeout=30, env=dict(os.environ))
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"hub {srv.url} · 1 machine snapshots") and "laptop" in out.stdout
        srv.route("GET", "/v1/snapshots", raw=b'{"snapshots": [1, 2]}')
        out = subprocess.run([sys.executable, "-m", "openusage", "hub-view", srv.url], capture_output=True, text=True,
                             timeout=30, env=dict(os.environ))
        assert out.returncode == 3 and "not a hub view" in out.stderr and "Traceback" not in out.stderr


HOSTILE = {"display_name": "\x1b]0;pwned\x07Work\x1b[2J", "status": "ERR",
           "message": "\x1b[1;1HXX\x9b31mred\x1b[0m \u202egnp.exe",
           "models": [{"model": "gpt\x1b[5m-blink\x07", "input": 5, "output": 1}]}
ESCAPES = ("\x1b", "\x9b", "\x9d", "\x07", "\u202e")


def test_hub_view_prints_no_escape_taken_from_a_push(hub):
    h = hub()
    body = {"machine": "laptop", "snapshots": [snap(**HOSTILE)]}
    assert requests.post(h.url + "/v1/push", json=body, headers=auth(), timeout=5).status_code == 200
    env = dict(os.environ, OPENUSAGE_HUB_TOKEN=TOKEN)
    for args in ([], ["--json"]):
        out = subprocess.run([sys.executable, "-m", "openusage", "hub-view", h.url, *args], capture_output=True,
                             text=True, timeout=30, env=env)
        assert out.returncode == 0, out.stderr
        assert [e for e in ESCAPES if e in out.stdout] == [], args
    assert "Work" in out.stdout or "Work" in json.loads(out.stdout)["snapshots"]["laptop:openai:work"]["display_name"]
    table = subprocess.run([sys.executable, "-m", "openusage", "hub-view", h.url], capture_output=True, text=True,
                           timeout=30, env=env).stdout
    assert "gpt-blink" in table and "pwned" not in table


def test_the_dashboard_of_a_hub_paints_no_escape_taken_from_a_push(hub, tmp_path):
    from pyte_harness import Harness

    from openusage.hub.view import HubSource

    h = hub()
    body = {"machine": "laptop", "snapshots": [snap(**HOSTILE)]}
    assert requests.post(h.url + "/v1/push", json=body, headers=auth(), timeout=5).status_code == 200
    (tmp_path / "ui.json").write_text("{}")
    ui = Harness(tmp_path / "ui.json", HubSource(h.url, TOKEN), width=120, height=30)
    try:
        screen = ui.start()
        screen += ui.press(["\r"])  # the detail view shows the message and the models
    finally:
        ui.close()
    written = ui.output()
    assert [e for e in ("\x1b]", "\x9b", "\x9d", "\x07", "\u202e", "\x1b[5m") if e in written] == []
    assert ui.screen.title == "" and "pwned" not in screen
    assert "laptop · Work" in screen and "XXred" in screen
