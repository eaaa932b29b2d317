"""openusage.client: the public read-API client over the daemon's socket (requests-unixsocket)."""
import json
import os
import subprocess
import sys

import pytest

from openusage.client import Client, ClientError, DaemonUnreachable
from openusage.daemon import client as stdlib_client

CLAUDE_TOOL = {"session_id": "s1", "cwd": "/home/u/proj", "hook_event_name": "PostToolUse",
               "tool_name": "Bash", "tool_use_id": "toolu_01", "tool_input": {}, "tool_response": {}}


def test_the_client_reads_every_view_of_a_real_daemon(daemon_factory):
    d = daemon_factory().start()
    status, _ = stdlib_client.request(d.socket_path, "POST", "/v1/hook/claude-code", json.dumps(CLAUDE_TOOL).encode())
    assert status == 200
    with Client(d.socket_path) as daemon:
        health = daemon.health()
        assert health["pid"] == d.proc.pid and health["config_path"].endswith("/openusage/settings.json")
        assert "claude_code" in [p["id"] for p in daemon.providers()]
        model = daemon.read_model("7d")
        assert model["window"] == "7d" and model["snapshots"]["claude_code"]["tool_calls"] == 1
        assert list(daemon.usage("claude_code", window="all")["snapshots"]) == ["claude_code"]
        assert "claude_code" in daemon.usage()["snapshots"]
        assert isinstance(daemon.refresh(), int)
        with pytest.raises(ClientError) as bad:
            daemon.read_model("2w")
        assert bad.value.status == 400 and "window" in str(bad.value)
        with pytest.raises(ClientError) as missing:
            daemon.usage("nosuch")
        assert missing.value.status == 404


def test_the_client_uses_the_default_socket_and_says_when_no_daemon_answers(short_dir, monkeypatch):
    sock = os.path.join(short_dir, "none.sock")
    monkeypatch.setenv("OPENUSAGE_TELEMETRY_SOCKET", sock)
    with Client(timeout=2) as daemon:
        assert daemon.socket_path == sock
        with pytest.raises(DaemonUnreachable, match="no daemon answers on"):
            daemon.health()


@pytest.mark.parametrize("argv", [["telemetry", "hook", "claude-code"], ["--version"]])
def test_the_hook_and_the_dashboard_start_import_no_requests(argv, short_dir):
    code = ("import sys; from openusage.cli import main, dashboard_cmd; from openusage.tui import run, source\n"
            "try:\n    main.main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('requests', 'requests_unixsocket')))")
    env = dict(os.environ, OPENUSAGE_TELEMETRY_SOCKET=os.path.join(short_dir, "none.sock"),
               OPENUSAGE_STATE_DIR=os.path.join(short_dir, "state"))
    out = subprocess.run([sys.executable, "-c", code, *argv], input="{}", capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
