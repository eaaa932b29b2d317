"""All four coding agents at once, as a user meets them: a home holding real Claude Code, Codex, Gemini CLI
and OpenCode logs, the real daemon, the CLI, the dashboard, the reports and the agents' hooks."""
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

import pyte
import pytest
from blessed import Terminal
from support import wait_for

from openusage import config
from openusage.cli.main import main
from openusage.core import pricing
from openusage.core.timeutil import format_rfc3339
from openusage.core.windows import local_date
from openusage.daemon import client
from openusage.providers import REGISTRY
from openusage.providers.base import make_context
from openusage.tui import state as st
from openusage.tui import widgets
from openusage.tui.app import App
from openusage.tui.source import DaemonSource

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
AGENTS = {"claude_code": "Claude Code", "codex": "Codex CLI", "gemini_cli": "Gemini CLI", "opencode": "OpenCode"}
SHOWCASE_SID = "55550000-0000-4000-8000-000000000001"
CODEX_SID = "019c8bfe-ec25-79e0-97d7-bda6a9c575ff"
CODEX_TURN = "019c8bfe-ed40-7a21-b57f-6447436c5881"  # its task_complete is in the rollout
CODEX_ROLLOUT = os.path.join(".codex", "sessions", "2026", "02", "23", f"rollout-2026-02-23T20-34-25-{CODEX_SID}.jsonl")
# The localpush rollouts as `ccusage codex daily --json --offline` counts them (tests/providers/test_codex.py).
CODEX_FIXTURE_TOKENS, CODEX_FIXTURE_COST = 2100424, 0.8901501
SECRETS = {"GITHUB_TOKEN": "ghp_E2eSecretValue0123456789abcdefWXYZ",
           "OPENROUTER_API_KEY": "sk-or-v1-e2esecret0123456789abcdef4242"}


# --- the fake home -------------------------------------------------------------------------------


def build_home(home):
    """Each agent's fixture logs where the agent writes them."""
    transcripts = os.path.join(FIXTURES, "claude_code", "transcripts")
    projects = home / ".claude" / "projects"
    shutil.copytree(os.path.join(transcripts, "claude-code-log", "minimal_showcase"),
                    projects / "-workspace-example-app")
    shutil.copytree(os.path.join(transcripts, "ccusage", "projects", "project-alpha"), projects / "project-alpha")
    day = home / os.path.dirname(CODEX_ROLLOUT)
    day.mkdir(parents=True)
    localpush = os.path.join(FIXTURES, "codex", "rollouts", "localpush")
    for name in sorted(os.listdir(localpush)):
        if name.endswith(".jsonl"):
            shutil.copy(os.path.join(localpush, name), day / name)
    shutil.copytree(os.path.join(FIXTURES, "gemini_cli", "home", ".gemini"), home / ".gemini")
    storage = home / ".local" / "share" / "opencode" / "storage"
    for tree in ("tokscale", "opencode-session-tui"):
        shutil.copytree(os.path.join(FIXTURES, "opencode", "storage", tree), storage, dirs_exist_ok=True)
    # The session-tui message was captured mid-stream; OpenCode's last write of it stamps time.completed.
    path = storage / "message" / "session_add_tests" / "msg_assistant_01.json"
    info = json.loads(path.read_text())
    info["time"]["completed"] = info["time"]["created"] + 4000
    path.write_text(json.dumps(info, indent=2))


def append_codex_turn(home, now):
    """One more turn of the Codex session, written as Codex writes it: a tool call, tokens, fresh limits."""
    turn = "019c9999-aaaa-7bbb-8ccc-000000000001"
    total = {"input_tokens": 308373, "cached_input_tokens": 246848, "output_tokens": 1623,
             "reasoning_output_tokens": 583, "total_tokens": 309996}
    last = {"input_tokens": 10000, "cached_input_tokens": 8000, "output_tokens": 500, "reasoning_output_tokens": 100,
            "total_tokens": 10500}
    limits = {"limit_id": "codex", "limit_name": None, "plan_type": "plus",
              "primary": {"used_percent": 42.0, "window_minutes": 300, "resets_at": int(now + 3600)},
              "secondary": {"used_percent": 17.0, "window_minutes": 10080, "resets_at": int(now + 4 * 86400)},
              "credits": {"has_credits": False, "unlimited": False, "balance": None}}
    lines = [
        (now - 3, "turn_context", {"turn_id": turn, "cwd": "/w/ea96e59ed9", "model": "gpt-5.3-codex"}),
        (now - 2, "response_item", {"type": "function_call", "name": "exec_command", "arguments": "{}",
                                    "call_id": "call_e2e_live_1"}),
        (now - 1, "event_msg", {"type": "token_count", "rate_limits": limits,
                                "info": {"total_token_usage": total, "last_token_usage": last}}),
        (now, "event_msg", {"type": "task_complete", "turn_id": turn, "last_agent_message": "done"}),
    ]
    with open(home / CODEX_ROLLOUT, "a", encoding="utf-8") as fh:
        for at, kind, payload in lines:
            fh.write(json.dumps({"timestamp": format_rfc3339(at), "type": kind, "payload": payload}) + "\n")
    return 10500


def direct_totals(home):
    """provider id -> (tokens, cost) of each collector's own fetch, without store or daemon."""
    out = {}
    for pid in AGENTS:
        provider = REGISTRY[pid]
        (account,) = provider.detect(dict(os.environ), str(home), shutil.which)
        result = provider.fetch(account, make_context(provider, account, {}, home=str(home)))
        usage = [e for e in result.events if e.event_type == "message_usage"]
        out[pid] = (sum(e.total_tokens() for e in usage), sum(e.cost_usd or 0.0 for e in usage))
    return out


# --- talking to the daemon and the CLI -----------------------------------------------------------


def read_model(d, window="all"):
    return client.call_json(d.socket_path, "POST", "/v1/read-model", {"window": window})


def first_poll_done(d):
    health = client.call_json(d.socket_path, "GET", "/healthz")
    polled = {p["provider"] for p in health["providers"].values() if p.get("status")}
    return set(AGENTS) <= polled


def codex_polled(d, tokens):
    codex = read_model(d)["snapshots"]["codex"]
    return codex["tokens"]["total"] == tokens and codex["rate_limits"]["5h"]["used_percent"] > 0


def cli(d, *argv, env=None, stdin=None):
    proc = subprocess.run([sys.executable, "-m", "openusage", *argv], env=dict(d.env, **(env or {})),
                          input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    return proc


def report(capsys, *argv):
    assert main(list(argv) + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


class Screen:
    """The dashboard on a StringIO terminal, read through pyte; keys go through blessed's decoder."""

    def __init__(self, source, width, height):
        self.term = Terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)
        settings = config.load(None)
        self.app = App(self.term, source, settings, st.from_settings(settings, window="all"), interval=3600,
                       size=lambda: (width, height))
        self.screen = pyte.Screen(width, height)
        self.stream = pyte.Stream(self.screen)
        self.seen = 0

    def draw(self):
        self.app.draw()
        out = self.term.stream.getvalue()
        self.stream.feed(out[self.seen:])
        self.seen = len(out)
        return "\n".join(self.screen.display)

    def press(self, keys):
        for key in keys:
            self.term.ungetch(key)
            self.app.handle_key(self.term.inkey(timeout=0))
        return self.draw()


# --- the test ------------------------------------------------------------------------------------


def test_four_agents_daemon_cli_dashboard_reports_and_hooks(isolated_home, daemon_factory, capsys):
    build_home(isolated_home)
    expected = direct_totals(isolated_home)
    d = daemon_factory().start()
    assert wait_for(lambda: first_poll_done(d), 15)

    # 1. The daemon's API: one OK snapshot per agent whose tokens add up as DESIGN section 5 says.
    providers = client.call_json(d.socket_path, "GET", "/v1/providers")["providers"]
    found = {p["id"]: [a["id"] for a in p["accounts"]] for p in providers}
    assert all(found[pid] == [pid] for pid in AGENTS)
    model = read_model(d)
    snaps = {s["provider_id"]: s for s in model["snapshots"].values() if s["provider_id"] in AGENTS}
    assert sorted(s["provider_id"] for s in model["snapshots"].values() if s["provider_id"] in AGENTS) == sorted(AGENTS)
    for pid, s in snaps.items():
        t = s["tokens"]
        assert s["status"] == "OK" and s["display_name"] == AGENTS[pid], s
        assert t["total"] == t["input"] + t["cache_read"] + t["cache_write"] + t["output"] > 0
        assert t["reasoning"] <= t["output"]
        assert (t["total"], s["spend"]["total"]) == (expected[pid][0], pytest.approx(expected[pid][1], abs=1e-5))
        assert s["models"] and s["tool_calls"] and s["tools"] and s["sessions"], pid
    assert (snaps["codex"]["tokens"]["total"], snaps["codex"]["spend"]["total"]) == (
        CODEX_FIXTURE_TOKENS, pytest.approx(CODEX_FIXTURE_COST, abs=1e-5))
    assert set(snaps["codex"]["rate_limits"]) == {"5h", "weekly"}
    assert snaps["claude_code"]["mcp_servers"] == [{"name": "plugin_showcase_example", "calls": 2}]
    usage = client.call_json(d.socket_path, "GET", "/v1/usage?window=all")["snapshots"]
    assert {s["provider_id"] for s in usage.values()} >= set(AGENTS)
    assert all(s["status"] == "OK" for s in usage.values() if s["provider_id"] in AGENTS)

    # The user keeps working in Codex: the daemon reads only the new tail and shows live limits.
    now = time.time()
    added = append_codex_turn(isolated_home, now)
    client.call_json(d.socket_path, "POST", "/v1/refresh", {"provider": "codex"})
    # A poll commits its events, then its snapshot (the live limits): wait for both.
    assert wait_for(lambda: codex_polled(d, CODEX_FIXTURE_TOKENS + added), 15)
    codex = read_model(d)["snapshots"]["codex"]
    assert codex["tool_calls"] == snaps["codex"]["tool_calls"] + 1
    assert codex["rate_limits"]["5h"]["used_percent"] == 42.0 and codex["rate_limits"]["5h"]["resets_at"]
    assert codex["rate_limits"]["weekly"]["used_percent"] == 17.0
    cost = pricing.compute_cost("gpt-5.3-codex", 2000, 500, 8000)  # fresh input, output, cache read
    assert {"date": local_date(now - 1), "cost": pytest.approx(cost), "tokens": added, "requests": 1} in codex["daily"]

    # 2. The CLI without a terminal: every agent listed, nothing crashes, no secret shown.
    table = cli(d, "--window", "all", "--socket-path", d.socket_path, env=SECRETS)
    assert table.returncode == 0, table.stderr
    for pid, name in AGENTS.items():
        row = next(line for line in table.stdout.splitlines() if line.startswith(name))
        assert f" {pid} " in row and " OK " in row
    status = cli(d, "status", "--socket-path", d.socket_path, env=SECRETS)
    assert status.returncode == 0, status.stdout + status.stderr
    assert all(f"{pid}:{pid}  OK" in status.stdout for pid in AGENTS)
    assert "limit 42% used" in next(line for line in status.stdout.splitlines() if line.startswith("codex:"))
    listed = cli(d, "list", "--json", env=SECRETS)
    accounts = {p["id"]: p["accounts"] for p in json.loads(listed.stdout)["providers"]}
    assert all(accounts[pid] == [pid] for pid in AGENTS)
    detected = cli(d, "detect", "--json", env=SECRETS)
    rows = {r["id"]: r for r in json.loads(detected.stdout)["accounts"]}
    assert all(rows[pid]["provider"] == pid and rows[pid]["source"] for pid in AGENTS)
    assert rows["copilot"]["credential"] == "GITHUB_TOKEN (set)"
    for proc in (table, status, listed, detected):
        assert proc.returncode == 0 and not any(v in proc.stdout + proc.stderr for v in SECRETS.values())

    # 3. The dashboard on the daemon's read model: a tile per agent, then Codex's limits in its detail view.
    source = DaemonSource(d.socket_path, autostart=False)
    ui = Screen(source, 120, 40)
    try:
        ui.app.start()
        assert ui.app.poll_results(wait=10)
        text = ui.draw()
        model = read_model(d)
        for pid, name in AGENTS.items():
            s = model["snapshots"][pid]
            assert f"─ {name} " in text or f"▶ {name} " in text
            figures = f"{widgets.money(s['spend']['total'])} · {widgets.compact(s['tokens']['total'])} tok"
            assert figures in text, (pid, figures)
        assert "accounts · all" in text.split("\n")[0]
        gauges = [line for line in text.split("\n") if "42%" in line or "17%" in line]
        assert len(gauges) == 2 and "5h" in gauges[0] and "weekly" in gauges[1]
        text = ui.press("l\r")
        assert "Detail: Codex CLI" in text and "tokens total" in text
        text = ui.press("]" * (st.DETAIL_TABS.index("limits")))
        assert "58% left" in text and "83% left" in text and "resets in" in text
        assert "5h" in text and "weekly" in text
    finally:
        ui.app.stop()
        ui.app.fetcher.join(5)
        source.close()

    # 4. Reports: a direct scan and the daemon's store agree per agent, and with the read model.
    model = read_model(d)
    for pid in AGENTS:
        direct = report(capsys, "daily", "--source", "direct", "--provider", pid)["daily"]
        daemon = report(capsys, "daily", "--source", "daemon", "--provider", pid, "--socket-path", d.socket_path)
        assert direct == daemon["daily"] and direct
        s = model["snapshots"][pid]
        assert sum(day["total_tokens"] for day in direct) == s["tokens"]["total"]
        assert sum(day["cost_usd"] for day in direct) == pytest.approx(s["spend"]["total"], abs=1e-5)
    direct = report(capsys, "session", "--source", "direct")["sessions"]
    daemon = report(capsys, "session", "--source", "daemon", "--socket-path", d.socket_path)["sessions"]
    assert {row["provider"] for row in direct} == set(AGENTS) and direct == daemon
    for kind, key in (("session", "sessions"), ("blocks", "blocks")):
        shown = report(capsys, kind, "--last", "2", "--socket-path", d.socket_path)
        assert len(shown[key]) == 2  # and the totals row adds up those two rows, not every row
        assert shown["totals"]["total_tokens"] == sum(row["total_tokens"] for row in shown[key])

    # 5. Hooks of facts the logs already told: each counted once.
    before = client.call_json(d.socket_path, "GET", "/healthz")
    notify = {"type": "agent-turn-complete", "thread-id": CODEX_SID, "turn-id": CODEX_TURN, "cwd": "/w/ea96e59ed9",
              "input-messages": ["go on"], "last-assistant-message": "done"}
    hook = cli(d, "telemetry", "hook", "codex", "--socket-path", d.socket_path, "--strict", json.dumps(notify))
    assert hook.returncode == 0 and hook.stdout == "", hook.stderr
    tool = {"session_id": SHOWCASE_SID, "cwd": "/workspace/example-app", "hook_event_name": "PostToolUse",
            "transcript_path": str(isolated_home / ".claude" / "projects" / "-workspace-example-app" /
                                   f"{SHOWCASE_SID}.jsonl"),
            "tool_name": "mcp__plugin_showcase_example__inspect_repository_structure",
            "tool_use_id": "toolu_sc_inspect", "tool_input": {"path": "."}, "tool_response": {}}
    hook = cli(d, "telemetry", "hook", "claude-code", "--socket-path", d.socket_path, "--strict",
               stdin=json.dumps(tool))
    assert hook.returncode == 0 and hook.stdout == "", hook.stderr
    after = client.call_json(d.socket_path, "GET", "/healthz")
    assert after["duplicates_dropped"] == before["duplicates_dropped"] + 2
    assert after["events_stored"] == before["events_stored"]
    claude = read_model(d)["snapshots"]["claude_code"]
    assert claude["tool_calls"] == snaps["claude_code"]["tool_calls"] == 5
    assert claude["mcp_servers"] == snaps["claude_code"]["mcp_servers"]


def test_hooks_spooled_before_the_daemon_count_once_with_the_logs(isolated_home, daemon_factory):
    build_home(isolated_home)
    d = daemon_factory()
    tool = {"session_id": SHOWCASE_SID, "cwd": "/workspace/example-app", "hook_event_name": "PostToolUse",
            "tool_name": "mcp__plugin_showcase_example__refresh_search_index", "tool_use_id": "toolu_sc_refresh",
            "tool_input": {}, "tool_response": {}}
    notify = {"type": "agent-turn-complete", "thread-id": CODEX_SID, "turn-id": CODEX_TURN, "cwd": "/w/ea96e59ed9",
              "input-messages": ["hi"], "last-assistant-message": None}
    # No daemon yet: the hooks land in the spool, which the daemon ingests before its first poll.
    assert cli(d, "telemetry", "hook", "claude-code", "--socket-path", d.socket_path,
               stdin=json.dumps(tool)).returncode == 0
    assert cli(d, "telemetry", "hook", "codex", "--socket-path", d.socket_path, json.dumps(notify)).returncode == 0
    d.start()
    assert wait_for(lambda: first_poll_done(d), 15)
    health = client.call_json(d.socket_path, "GET", "/healthz")
    assert health["spool"]["ingested_total"] == 2 and health["duplicates_dropped"] == 2
    conn = sqlite3.connect(health["db_path"])
    try:
        rows = conn.execute("SELECT provider_id, source FROM event_detail WHERE tool_call_id='toolu_sc_refresh' OR "
                            "(event_type='turn_completed' AND turn_id=?)", (CODEX_TURN,)).fetchall()
    finally:
        conn.close()
    assert sorted(rows) == [("claude_code", "claude-code"), ("codex", "codex")]  # the hooks' copies, once each
    snaps = read_model(d)["snapshots"]
    assert snaps["claude_code"]["tool_calls"] == 5
    assert snaps["claude_code"]["mcp_servers"] == [{"name": "plugin_showcase_example", "calls": 2}]
