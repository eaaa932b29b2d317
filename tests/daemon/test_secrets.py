"""A long key an upstream echoes in its error reaches no output, not even in part: the real daemon polls
a fake OpenAI on 127.0.0.1 that answers 400 with the key in its message, exports to a real hub, and every
path is read back (API, CLI, dashboard, log, the database's bytes, the hub)."""
import glob
import json
import os
import random
import string
import subprocess
import sys

import pytest
import requests
from providers.fakeserver import FakeServer
from pyte_harness import Harness
from support import wait_for

from openusage.daemon import client
from openusage.hub import server as hub_server
from openusage.tui.source import DaemonSource

_rng = random.Random(14)
# No well-known key shape (no sk- prefix): only the registered value can catch it.
KEY = "".join(_rng.choice(string.ascii_letters + string.digits) for _ in range(161))
HUB_TOKEN = "hub-secret-token-for-the-test"
ECHO = {"error": {"message": f"Incorrect API key provided: {KEY}. You can find your API key at "
                             "https://platform.openai.com/account/api-keys.", "type": "invalid_request_error"}}


def pieces(secret, size=12):
    return {secret[i:i + size] for i in range(len(secret) - size + 1)}


def leaked(text):
    """The longest stretch of KEY found in `text` (0 when no 12-character piece of it is there)."""
    found = [p for p in pieces(KEY) if p in text]
    if not found:
        return 0
    best = 12
    for start in range(len(KEY)):
        for end in range(start + best + 1, len(KEY) + 1):
            if KEY[start:end] not in text:
                break
            best = end - start
    return best


@pytest.fixture
def upstream():
    with FakeServer() as srv:
        srv.route("GET", "/v1/models/gpt-4o-mini", status=400, body=ECHO)
        yield srv


@pytest.fixture
def hub():
    h = hub_server.start("127.0.0.1:0", HUB_TOKEN, False, 300.0)
    yield h
    h.shutdown()
    h.server_close()


def _get(sock, path):
    status, body = client.request(sock, "GET", path)
    assert status == 200, (path, status)
    return body.decode()


def _cli(args, socket_path, env):
    return subprocess.run([sys.executable, "-m", "openusage", *args, "--socket-path", socket_path],
                          capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)


def test_an_echoed_161_character_key_reaches_no_output(daemon_factory, isolated_home, upstream, hub, monkeypatch,
                                                       tmp_path):
    assert len(KEY) == 161
    cfg = isolated_home / ".config" / "openusage" / "settings.json"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(json.dumps({
        "auto_detect": False,
        "accounts": [{"id": "work", "provider": "openai", "api_key_env": "MY_OPENAI_KEY",
                      "base_url": upstream.url + "/v1", "probe": "models"}],
        "export": {"target": hub.url, "interval_seconds": 5, "machine_name": "laptop"}}))
    cli_env = dict(os.environ)  # the CLI never had the key: what it prints comes from the daemon
    monkeypatch.setenv("MY_OPENAI_KEY", KEY)
    monkeypatch.setenv("OPENUSAGE_HUB_TOKEN", HUB_TOKEN)
    d = daemon_factory().start()
    sock = d.socket_path

    def snap():
        return client.call_json(sock, "POST", "/v1/read-model", {"window": "1d"})["snapshots"].get("work", {})

    assert wait_for(lambda: snap().get("status") == "ERR", 15)
    assert upstream.requests[0].headers["authorization"] == f"Bearer {KEY}"  # the key did go upstream
    snap_message = snap()["message"]

    auth = {"Authorization": f"Bearer {HUB_TOKEN}"}
    assert wait_for(lambda: "laptop" in requests.get(hub.url + "/healthz", timeout=5).json()["machines"], 20)

    outputs = {
        "/v1/read-model": json.dumps(snap()),
        "/v1/usage": _get(sock, "/v1/usage"),
        "/v1/usage/openai": _get(sock, "/v1/usage/openai"),
        "/healthz": _get(sock, "/healthz"),
        "/v1/providers": _get(sock, "/v1/providers"),
        "/metrics": _get(sock, "/metrics"),
        "hub /v1/snapshots": requests.get(hub.url + "/v1/snapshots", headers=auth, timeout=5).text,
        "hub /metrics": requests.get(hub.url + "/metrics", headers=auth, timeout=5).text,
    }
    for args in (["status"], ["status", "--json"], ["usage"], ["export", "--format", "json", "--what", "snapshots"],
                 ["export", "--format", "csv", "--what", "snapshots"], ["telemetry", "daemon", "status"]):
        done = _cli(args, sock, cli_env)
        assert "Traceback" not in done.stderr, (args, done.stderr)
        outputs["openusage " + " ".join(args)] = done.stdout + done.stderr

    (tmp_path / "ui.json").write_text("{}")
    h = Harness(tmp_path / "ui.json", DaemonSource(sock, autostart=False), width=160, height=40)
    try:
        h.start()
        outputs["dashboard"] = h.text() + h.press(["\r"]) + h.output()
    finally:
        h.close()

    assert d.stop() == 0
    with open(os.path.join(d.state_dir, "daemon.log"), encoding="utf-8") as fh:
        outputs["daemon.log"] = fh.read()
    for path in glob.glob(os.path.join(d.state_dir, "telemetry.db*")):
        with open(path, "rb") as fh:
            outputs[os.path.basename(path)] = fh.read().decode("latin-1")
    assert "telemetry.db" in outputs
    assert {name: leaked(text) for name, text in outputs.items() if leaked(text)} == {}
    message = snap_message
    assert message.startswith("model probe failed: HTTP 400: Incorrect API key provided: [masked]. You can"), message
    for name in ("/healthz", "hub /v1/snapshots", "openusage status", "dashboard"):
        assert "[masked]" in outputs[name], name
