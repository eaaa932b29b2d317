import json
import os
import shutil
import signal
import stat
import subprocess
import sys

import pytest
from support import DaemonProcess, wait_for

from openusage.agents import opencode as collector
from openusage.daemon import client
from openusage.integrations import artifact, opencode
from openusage.integrations.artifact import IntegrationError
from openusage.store import counted, db

NODE = shutil.which("node")


@pytest.fixture
def target(isolated_home):
    return str(isolated_home / ".config" / "opencode" / "plugins" / "openusage.js")


def test_target_follows_xdg_config_home(monkeypatch, tmp_path, target):
    assert opencode.default_target() == target
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert opencode.default_target() == str(tmp_path / "xdg" / "opencode" / "plugins" / "openusage.js")


def test_install_writes_the_plugin_once_and_uninstall_removes_it(target, isolated_home):
    os.makedirs(isolated_home / ".config")
    outcome = opencode.install(target)
    assert outcome.changed
    assert outcome.state == {"created_dir": str(isolated_home / ".config" / "opencode")}
    with open(target) as fh:
        text = fh.read()
    assert text.startswith(opencode.MARKER)
    assert json.dumps(artifact.hook_argv("opencode")) in text
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    mtime = os.stat(target).st_mtime_ns
    assert not opencode.install(target).changed
    assert os.stat(target).st_mtime_ns == mtime
    artifact.write_script()
    status = opencode.inspect(target)
    assert status.installed and status.current
    assert opencode.uninstall(target, outcome.state).changed
    assert not os.path.exists(target)
    assert not os.path.exists(isolated_home / ".config" / "opencode")
    assert os.path.isdir(isolated_home / ".config")


def test_uninstall_keeps_directories_it_did_not_create(target):
    os.makedirs(os.path.dirname(target))
    outcome = opencode.install(target)
    assert outcome.state == {}
    opencode.uninstall(target, outcome.state)
    assert os.path.isdir(os.path.dirname(target))


def test_a_foreign_file_is_never_overwritten(target):
    os.makedirs(os.path.dirname(target))
    with open(target, "w") as fh:
        fh.write("export const Mine = async () => ({})\n")
    with pytest.raises(IntegrationError, match="not written by openusage"):
        opencode.install(target)
    assert not opencode.uninstall(target).changed
    assert not opencode.inspect(target).installed
    with open(target) as fh:
        assert fh.read().startswith("export const Mine")


def test_upgrade_rewrites_the_plugin(target, monkeypatch):
    artifact.write_script()
    opencode.install(target)
    monkeypatch.setattr(sys, "executable", "/opt/py/bin/python3")
    assert not opencode.inspect(target).current
    artifact.write_script()  # the plugin runs /bin/sh and the script: only the script names the Python
    assert not opencode.install(target).changed
    assert opencode.inspect(target).current


# Two finished assistant messages as OpenCode's message.updated event carries them.
DONE = {"id": "msg_1", "sessionID": "ses_1", "role": "assistant", "parentID": "msg_0",
        "modelID": "claude-sonnet-4-5", "providerID": "anthropic", "mode": "build",
        "path": {"cwd": "/w/app/sub", "root": "/w/app"}, "cost": 0.0123,
        "time": {"created": 1763800000000, "completed": 1763800005000},
        "tokens": {"input": 100, "output": 50, "reasoning": 7, "cache": {"read": 1000, "write": 20}}}
# An older OpenAI-style record: total shows reasoning inside output; no path; no cost (subscription).
SECOND = {"id": "msg_2", "sessionID": "ses_1", "role": "assistant", "parentID": "msg_0", "modelID": "gpt-5",
          "providerID": "openai", "cost": 0, "time": {"created": 1763800006000, "completed": 1763800009000},
          "tokens": {"total": 1300, "input": 200, "output": 100, "reasoning": 40, "cache": {"read": 1000, "write": 0}}}

DRIVER = r"""
const [plugin] = process.argv.slice(2)
const mod = await import(plugin)
const names = Object.keys(mod)
if (names.length !== 1 || typeof mod[names[0]] !== "function") throw new Error("exports: " + names)
const hooks = await mod[names[0]]({ directory: "/w/started-here", worktree: "/" })
const done = __DONE__
const second = __SECOND__
// streaming updates without time.completed are not sent; the completed one is sent once
const streaming = { ...done, time: { created: done.time.created } }
await hooks.event({ event: { type: "message.updated", properties: { info: streaming } } })
await hooks.event({ event: { type: "message.updated", properties: { info: done } } })
await hooks.event({ event: { type: "message.updated", properties: { info: done } } })
await hooks.event({ event: { type: "message.updated", properties: { info: { role: "user", id: "msg_0" } } } })
await hooks.event({ event: { type: "message.updated", properties: { info: second } } })
await hooks["tool.execute.after"]({ tool: "bash", sessionID: "ses_1", callID: "call_1" }, { title: "", output: "" })
// nothing a broken event does reaches OpenCode
await hooks.event({ event: null })
await hooks.event({})
await hooks["tool.execute.after"](undefined)
"""

COLUMNS = ("source", "provider_id", "event_type", "message_id", "tool_call_id", "tool_name", "model",
           "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
           "cost_usd", "project", "session_id", "turn_id", "occurred_at", "key", "raw")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_plugin_sends_messages_and_tool_calls_to_the_daemon(target, short_dir, tmp_path, monkeypatch):
    state = os.path.join(short_dir, "state")
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", state)
    artifact.write_script()
    opencode.install(target)
    module = tmp_path / "plugin.mjs"  # node needs .mjs for an ES module outside a "type": "module" package
    shutil.copyfile(target, module)
    driver = tmp_path / "driver.mjs"
    driver.write_text(DRIVER.replace("__DONE__", json.dumps(DONE)).replace("__SECOND__", json.dumps(SECOND)))
    daemon = DaemonProcess(state, os.path.join(state, "telemetry.sock"))
    try:
        daemon.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENUSAGE_")}
        proc = subprocess.run([NODE, str(driver), str(module)], capture_output=True, text=True, env=env,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert wait_for(lambda: client.call_json(daemon.socket_path, "GET", "/healthz")["events_stored"] >= 3, 20)
        conn = db.connect(os.path.join(state, "telemetry.db"), readonly=True)
        try:
            rows = conn.execute("SELECT " + ", ".join(COLUMNS) + " FROM event_detail ORDER BY event_type, message_id"
                                ).fetchall()
        finally:
            conn.close()
        assert client.call_json(daemon.socket_path, "GET", "/healthz")["events_stored"] == 3
    finally:
        daemon.stop(signal.SIGKILL)
        for stream in (daemon.proc.stdout, daemon.proc.stderr) if daemon.proc else ():
            stream.close()
    first, second, tool = [dict(zip(COLUMNS, r)) for r in rows]
    # provider_id "opencode", never the upstream "anthropic" (which the default links map to claude_code)
    assert (first["source"], first["provider_id"], first["event_type"], first["message_id"]) == (
        "opencode", "opencode", "message_usage", "msg_1")
    # OpenCode stores reasoning beside output: output_tokens = 50 + 7
    assert tuple(first[c] for c in COLUMNS[6:16]) == (
        "claude-sonnet-4-5", 100, 57, 1000, 20, 7, 0.0123, "app", "ses_1", "msg_0")
    assert first["occurred_at"] == 1763800005.0
    assert json.loads(first["raw"])["upstream_provider"] == "anthropic"
    # total = input + cache + output: reasoning is already inside output; no path: the start directory
    # no cost of its own: the price table's, as the collector prices it (checked below)
    assert tuple(second[c] for c in COLUMNS[6:15]) == (
        "gpt-5", 200, 100, 1000, 0, 40, second["cost_usd"], "started-here", "ses_1")
    assert second["cost_usd"] > 0
    assert (tool["provider_id"], tool["tool_call_id"], tool["tool_name"]) == ("opencode", "call_1", "bash")
    assert json.loads(tool["raw"])["upstream_provider"] == "openai"
    # the collector reads the same messages from OpenCode's store with the same keys and numbers
    for info, row, directory in ((DONE, first, None), (SECOND, second, "/w/started-here")):
        msg = collector.parse_message(info)
        ev = collector.usage_event(msg, "opencode", msg.project or collector.project_name(directory), "db")
        assert counted.key_hash(ev.dedup_key()) == row["key"]
        assert (ev.input_tokens, ev.output_tokens, ev.cache_read_tokens, ev.cache_write_tokens, ev.reasoning_tokens,
                ev.project, ev.session_id, ev.turn_id, ev.occurred_at) == tuple(
                    row[c] for c in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                                     "reasoning_tokens", "project", "session_id", "turn_id", "occurred_at"))
        assert ev.cost_usd == pytest.approx(row["cost_usd"])
