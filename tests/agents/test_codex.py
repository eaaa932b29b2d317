import json
import os
import shutil
import subprocess
import sys

import pytest

from openusage.agents import codex as cx
from openusage.cli.main import main
from openusage.core import pricing
from openusage.core.timeutil import format_rfc3339, parse_rfc3339
from openusage.daemon import pipeline
from openusage.providers import REGISTRY
from openusage.providers.base import AccountConfig, make_context

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "codex", "rollouts")
LOCALPUSH = os.path.join(FIXTURES, "localpush")
ISSUE2037 = os.path.join(FIXTURES, "codexbar", "Issue2037")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROVIDER = cx.CodexProvider()
ACCOUNT = AccountConfig(id="codex", provider="codex")
BASE = 1772359200.0  # 2026-03-01T10:00:00Z
BEFORE_RESETS = 1771850000.0  # 2026-02-23T12:33:20Z: the localpush limit windows are still running


# --- helpers -------------------------------------------------------------------------------------


class Poller:
    """Fetches with one state that goes through JSON between polls, as the daemon persists it."""

    def __init__(self, codex_home, home="/nonexistent-home"):
        self.environ = {"CODEX_HOME": str(codex_home)}
        self.home = home
        self.state = {}

    def fetch(self, now=BASE + 86400):
        self.state = json.loads(json.dumps(self.state))
        ctx = make_context(PROVIDER, ACCOUNT, self.state, home=self.home, environ=self.environ, now=now)
        return PROVIDER.fetch(ACCOUNT, ctx)

    def poll(self, now=BASE + 86400):
        result = self.fetch(now)
        return list(result.events), result.snapshot


def usage(events):
    return [e for e in events if e.event_type == "message_usage"]


def of_type(events, kind):
    return [e for e in events if e.event_type == kind]


def totals(events):
    u = usage(events)
    return {"input": sum(e.input_tokens for e in u), "cache_read": sum(e.cache_read_tokens for e in u),
            "output": sum(e.output_tokens for e in u), "reasoning": sum(e.reasoning_tokens for e in u),
            "total": sum(e.total_tokens() for e in u)}


def scanner_units(events):
    """CodexBar's oracle unit: raw input (fresh + cached) + cached + output."""
    return sum(e.input_tokens + 2 * e.cache_read_tokens + e.output_tokens for e in usage(events))


def ts(seconds):
    return format_rfc3339(BASE + seconds)


def line(kind, payload, at):
    return json.dumps({"timestamp": at, "type": kind, "payload": payload}, separators=(",", ":"))


def meta(sid, at=0, cwd="/home/u/work/my-app", **extra):
    return line("session_meta", {"id": sid, "timestamp": ts(at), "cwd": cwd, "originator": "codex_cli_rs",
                                 "cli_version": "0.120.0", "source": "cli", **extra}, ts(at))


def turn(model="gpt-5.3-codex", at=0, turn_id=None, cwd="/home/u/work/my-app"):
    payload = {"cwd": cwd, "model": model, "effort": "medium"}
    if turn_id:
        payload["turn_id"] = turn_id
    return line("turn_context", payload, ts(at))


def use(inp, cached=0, out=0, reasoning=0):
    return {"input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out,
            "reasoning_output_tokens": reasoning, "total_tokens": inp + out}


def tokens(at, total, last=None, rate_limits=None, raw_ts=None):
    info = None if total is None else {"total_token_usage": total, "last_token_usage": last or total,
                                       "model_context_window": 258400}
    return line("event_msg", {"type": "token_count", "info": info, "rate_limits": rate_limits},
                raw_ts if raw_ts is not None else ts(at))


def limits(primary=None, secondary=None, **extra):
    def window(spec):
        if spec is None:
            return None
        used, minutes, reset = spec
        out = {"used_percent": used, "window_minutes": minutes}
        out.update(reset)
        return out

    return {"limit_id": "codex", "limit_name": None, "primary": window(primary),
            "secondary": window(secondary), **extra}


def tool_call(call_id, name, at, kind="function_call"):
    return line("response_item", {"type": kind, "name": name, "arguments": "{}", "call_id": call_id}, ts(at))


def write(path, lines, mode="a", newline=True):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode, encoding="utf-8") as fh:
        fh.write("\n".join(lines) + ("\n" if newline and lines else ""))


def rollout(home, sid, day="2026/03/01", archived=False):
    name = f"rollout-2026-03-01T10-00-00-{sid}.jsonl"
    if archived:
        return os.path.join(str(home), "archived_sessions", name)
    return os.path.join(str(home), "sessions", *day.split("/"), name)


SID = "019c9000-0000-7000-8000-000000000001"


def localpush_home(tmp_path):
    home = tmp_path / "codex"
    day = home / "sessions" / "2026" / "02" / "23"
    day.mkdir(parents=True)
    for name in sorted(os.listdir(LOCALPUSH)):
        if name.endswith(".jsonl"):
            shutil.copy(os.path.join(LOCALPUSH, name), day / name)
    return home


def last_totals(path):
    """The final total_token_usage of a rollout, straight from its lines."""
    final = None
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            obj = json.loads(raw)
            info = obj.get("payload", {}).get("info") if obj.get("type") == "event_msg" else None
            if isinstance(info, dict):
                final = info["total_token_usage"]
    return final


# --- home, files, detection ------------------------------------------------------------------------


def test_home_is_codex_home_else_dot_codex():
    assert cx.codex_home(lambda name: None, "/h") == "/h/.codex"
    assert cx.codex_home({"CODEX_HOME": "~/alt"}.get, "/h") == "/h/alt"
    assert cx.codex_home({"CODEX_HOME": "/srv/codex/"}.get, "/h") == "/srv/codex"


@pytest.mark.parametrize("marker", ["sessions", "archived_sessions", "config.toml"])
def test_detect_finds_a_codex_home(tmp_path, marker):
    home = tmp_path / ".codex"
    home.mkdir()
    assert PROVIDER.detect({}, str(tmp_path), lambda p: None) == []
    if marker.endswith(".toml"):
        (home / marker).write_text('model = "gpt-5.3-codex"\n')
    else:
        (home / marker).mkdir()
    found = PROVIDER.detect({}, str(tmp_path), lambda p: None)
    assert [(a.id, a.provider, a.detected_by) for a in found] == [("codex", "codex", str(home))]
    assert PROVIDER.detect({"CODEX_HOME": str(tmp_path / "other")}, str(tmp_path), lambda p: None) == []


def test_listing_orders_active_before_archived_and_leaves_out_copies_and_zst(tmp_path):
    write(rollout(tmp_path, SID), [meta(SID)])
    write(rollout(tmp_path, SID, archived=True), [meta(SID)])
    write(os.path.join(str(tmp_path), "sessions", "project-alpha", "session-alpha.jsonl"), [turn()])
    write(os.path.join(str(tmp_path), "archived_sessions", "rollout-old.jsonl.zst"), ["not read"])
    files, skipped = cx.list_rollouts(str(tmp_path))
    assert [(os.path.relpath(f.path, str(tmp_path)), f.archived, f.default_sid) for f in files] == [
        (os.path.join("sessions", "2026", "03", "01", os.path.basename(rollout(tmp_path, SID))), False, SID),
        (os.path.join("sessions", "project-alpha", "session-alpha.jsonl"), False, "project-alpha/session-alpha"),
    ]
    assert skipped == {"archived_duplicate": 1, "zstd_compressed": 1}


def test_no_sessions_is_unknown(tmp_path):
    (tmp_path / "codex").mkdir()
    result = Poller(tmp_path / "codex").fetch()
    assert result.snapshot.status == "UNKNOWN" and "no Codex sessions" in result.snapshot.message
    assert list(result.events) == []


def test_provider_declaration():
    assert (PROVIDER.id, PROVIDER.name, tuple(PROVIDER.source_modes), tuple(PROVIDER.env_vars)) == (
        "codex", "Codex CLI", ("local",), ("CODEX_HOME",))
    assert PROVIDER.emits_events and REGISTRY["codex"].__class__ is cx.CodexProvider
    assert PROVIDER.widgets["gauges"] == ["5h", "weekly"]
    assert PROVIDER.widgets["sections"] == ["models", "tools", "projects", "sessions"]


# --- fixture families ------------------------------------------------------------------------------


def test_localpush_real_sessions(tmp_path):
    home = localpush_home(tmp_path)
    events, snap = Poller(home).poll(now=BEFORE_RESETS)
    # Each session's usage adds up to its final cumulative totals (repeated events add nothing).
    for name in os.listdir(LOCALPUSH):
        if not name.endswith(".jsonl"):
            continue
        final = last_totals(os.path.join(LOCALPUSH, name))
        sid = cx._UUID_TAIL.search(name[:-6]).group(1)
        mine = [e for e in usage(events) if e.session_id == sid]
        assert sum(e.input_tokens + e.cache_read_tokens for e in mine) == final["input_tokens"]
        assert sum(e.cache_read_tokens for e in mine) == final["cached_input_tokens"]
        assert sum(e.output_tokens for e in mine) == final["output_tokens"]
        assert sum(e.reasoning_tokens for e in mine) == final["reasoning_output_tokens"]
    assert totals(events) == {"input": 189998, "cache_read": 1894272, "output": 16154, "reasoning": 5040,
                              "total": 2100424}
    assert {e.model for e in usage(events)} == {"gpt-5.3-codex"}
    # ccusage 20.0.24 (`ccusage codex daily --json --offline`) reports 0.8901501 for the same files.
    assert sum(e.cost_usd for e in usage(events)) == pytest.approx(0.8901501, abs=1e-6)
    assert len(usage(events)) == 35 and snap.extras["duplicate_totals_skipped"] == 32
    assert len(of_type(events, "tool_usage")) == 124 and len(of_type(events, "turn_completed")) == 2
    assert {e.project for e in events} == {"da0ba47443", "ea96e59ed9"}
    first = usage(events)[0]
    assert first.message_id == f"{first.session_id}:{first.raw['row']}"
    assert first.turn_id == "019c8a4d-f931-7323-8939-64390c636ca9"
    assert snap.message == "35 requests from 3 rollouts" and snap.extras["lines_skipped"] == 0
    # The newest reading (20-34-25, 19:36:02Z) wins over older files read later.
    rl = {k: v.to_dict() for k, v in snap.rate_limits.items()}
    seen = {"source": "rollout", "observed_at": "2026-02-23T19:36:02.633Z"}
    assert rl == {"5h": dict(seen, used_percent=7.0, resets_at="2026-02-23T23:48:17.000Z", window_seconds=18000),
                  "weekly": dict(seen, used_percent=11.0, resets_at="2026-03-01T09:01:42.000Z", window_seconds=604800)}
    assert snap.extras["credits"] == {"has_credits": False, "unlimited": False, "balance": None}
    assert snap.extras["rate_limits_at"] == "2026-02-23T19:36:02.633Z"


def test_ccusage_fixture_without_session_meta(tmp_path):
    shutil.copytree(os.path.join(FIXTURES, "ccusage"), tmp_path / "codex")
    events, _ = Poller(tmp_path / "codex").poll()
    got = [(e.session_id, e.message_id, e.model, e.input_tokens, e.cache_read_tokens, e.output_tokens,
            e.reasoning_tokens, e.project) for e in usage(events)]
    sid = "project-alpha/session-alpha"
    assert got == [(sid, sid + ":1", "gpt-5.2-codex", 750, 250, 125, 75, None),
                   (sid, sid + ":2", "gpt-5.3-codex", 2000, 500, 300, 200, None)]
    assert [e.cost_usd for e in usage(events)] == [pricing.compute_cost("gpt-5.2-codex", 750, 125, 250),
                                                   pricing.compute_cost("gpt-5.3-codex", 2000, 300, 500)]
    assert usage(events)[0].occurred_at == parse_rfc3339("2026-05-13T09:01:00.000Z")


def test_claude_code_log_fixture_tool_calls(tmp_path):
    shutil.copytree(os.path.join(FIXTURES, "claude-code-log"), tmp_path / "codex")
    events, snap = Poller(tmp_path / "codex").poll()
    assert usage(events) == []
    got = [(e.tool_call_id, e.tool_name, e.mcp_server, e.session_id, e.project, e.model) for e in events]
    sid = "11111111-1111-4111-8111-111111111111"
    assert got == [("call-structured-001", "exec_command", None, sid, "synthetic-project", "synthetic-model"),
                   ("call-custom-001", "apply_patch", None, sid, "synthetic-project", "synthetic-model"),
                   ("call-mcp-001", "mcp__synthetic__lookup", "synthetic", sid, "synthetic-project",
                    "synthetic-model")]
    assert snap.extras["tool_calls_new"] == 3 and snap.extras["lines_skipped"] == 0
    assert all("SYNTHETIC_ENCRYPTED" not in json.dumps(e.raw) for e in events)


def test_harness_smoke_fork_parent_owns_the_copied_prefix(tmp_path):
    family = os.path.join(ISSUE2037, "harness-smoke")
    manifest = json.load(open(os.path.join(family, "manifest.json"), encoding="utf-8"))
    shutil.copytree(os.path.join(family, "codex-home"), tmp_path / "codex")
    events, snap = Poller(tmp_path / "codex").poll()
    (prefix,) = manifest["copiedPrefixes"]
    assert snap.extras["fork_rows_owned_by_parent"] == prefix["length"] == 1
    got = [(e.message_id, e.input_tokens, e.output_tokens, e.model) for e in usage(events)]
    # The child's copied row is the parent's; only its own second row counts.
    assert sorted(got) == [("child-session:2", 5, 1, "openai/gpt-5.5"), ("parent-session:1", 10, 1, "openai/gpt-5.5")]
    assert totals(events)["total"] == 17


def _live_fork(tmp_path, rename_parent=None):
    family = os.path.join(ISSUE2037, "live-fork-4d90-52bf")
    manifest = json.load(open(os.path.join(family, "manifest.json"), encoding="utf-8"))
    home = tmp_path / "codex"
    shutil.copytree(os.path.join(family, "codex-home"), home)
    if rename_parent:
        os.rename(home / "archived_sessions" / "parent.jsonl", home / "archived_sessions" / rename_parent)
    return home, manifest


@pytest.mark.parametrize("rename_parent", [None, "a-parent.jsonl"])  # child read first, then parent first
def test_live_fork_oracle(tmp_path, rename_parent):
    home, manifest = _live_fork(tmp_path, rename_parent)
    oracle, scanner = manifest["oracle"], manifest["scannerOracle"]
    events, snap = Poller(home).poll()
    parent = [e for e in usage(events) if e.session_id == "parent-session"]
    child = [e for e in usage(events) if e.session_id == "child-session"]
    assert snap.extras["fork_rows_owned_by_parent"] == oracle["copiedPrefixLength"] == 180
    assert max(e.raw["row"] for e in parent) == oracle["parentEventCount"]
    assert max(e.raw["row"] for e in child) == oracle["childEventCount"]
    assert min(e.raw["row"] for e in child) == oracle["copiedPrefixLength"] + 1
    assert len(child) == oracle["childEventCount"] - oracle["copiedPrefixLength"]
    assert scanner_units(parent) == scanner["prefixScannerUnits"]
    assert scanner_units(events) == scanner["dedupedScannerUnits"]
    child_final = child[-1].raw["total_token_usage"]
    child_units = child_final["input_tokens"] + child_final["cached_input_tokens"] + child_final["output_tokens"]
    assert scanner["prefixScannerUnits"] + child_units == scanner["naiveScannerUnits"]
    # The child's own rows are exactly its last_token_usage rows beyond the copied prefix.
    unique_last = sum(e.raw["last_token_usage"]["total_tokens"] for e in child)
    assert unique_last == oracle["dedupedLastTokens"] - oracle["copiedPrefixLastTokens"] == 1809519
    assert totals(child)["total"] == unique_last
    assert totals(events)["total"] == child_final["total_tokens"] == 26801911


def _grow_live_fork(tmp_path, home, pieces, before_poll=None):
    """The live fork's files written piece by piece ((name, fraction) in order), polled after each; the
    usage seen by message id (each once). `before_poll(poller)` runs before every poll but the first."""
    grown = tmp_path / "grown"
    poller = Poller(grown)
    src = {n: open(home / "archived_sessions" / n, "rb").read() for n in ("parent.jsonl", "child.jsonl")}
    seen = {}
    for name, cut in pieces:
        data = src[name]
        path = grown / "archived_sessions" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        have = path.stat().st_size if path.exists() else 0
        with open(path, "ab") as fh:
            fh.write(data[have:int(len(data) * cut)])
        if before_poll is not None and poller.state:
            before_poll(poller)
        for e in usage(poller.poll()[0]):
            assert e.message_id not in seen
            seen[e.message_id] = (e.input_tokens, e.cache_read_tokens, e.output_tokens)
    return seen, poller


def _one_shot(home):
    return {e.message_id: (e.input_tokens, e.cache_read_tokens, e.output_tokens)
            for e in usage(Poller(home).poll()[0])}


def test_live_fork_read_in_pieces_equals_one_shot(tmp_path):
    home, manifest = _live_fork(tmp_path)
    one_shot = _one_shot(home)
    # A fork copies rows the parent already wrote: the parent grows first, then the child.
    seen, _ = _grow_live_fork(tmp_path, home, (("parent.jsonl", 0.5), ("parent.jsonl", 1.0), ("child.jsonl", 0.3),
                                               ("child.jsonl", 0.6), ("child.jsonl", 0.97), ("child.jsonl", 1.0)))
    assert seen == one_shot


def as_version_1(state):
    """The state as openusage saved it before the state had a version: context keys `pfx` and `t0`."""
    old = json.loads(json.dumps(state))
    del old["version"]
    for cursor in old["files"].values():
        for new, was in (("copied_prefix", "pfx"), ("started_at", "t0")):
            if new in cursor["ctx"]:
                cursor["ctx"][was] = cursor["ctx"].pop(new)
    return old


def test_state_saved_with_the_names_of_version_1_reads_on(tmp_path):
    home, _ = _live_fork(tmp_path)
    old_keys = set()

    def downgrade(poller):  # each poll starts from the old form; the one before left version 2 behind
        assert poller.state["version"] == 2
        assert not {k for cursor in poller.state["files"].values() for k in cursor["ctx"]} & {"pfx", "t0"}
        poller.state = as_version_1(poller.state)
        old_keys.update(k for cursor in poller.state["files"].values() for k in cursor["ctx"])

    seen, poller = _grow_live_fork(tmp_path, home, (("parent.jsonl", 0.5), ("child.jsonl", 0.3),
                                                    ("parent.jsonl", 1.0), ("child.jsonl", 1.0)), downgrade)
    downgrade(poller)
    assert {"pfx", "t0"} <= old_keys
    assert seen == _one_shot(home)


def test_siblings_of_a_missing_parent_count_the_shared_prefix_once(tmp_path):
    home = tmp_path / "codex"
    shared = [tokens(5 + i, use(100 * (i + 1), 10 * (i + 1), 5 * (i + 1)), use(100, 10, 5)) for i in range(3)]
    a, b = "019c9000-0000-7000-8000-00000000000a", "019c9000-0000-7000-8000-00000000000b"
    write(rollout(home, a), [meta(a, 0, forked_from_id="gone")] + shared
          + [tokens(20, use(400, 40, 30), use(100, 10, 15))])
    write(rollout(home, b), [meta(b, 60, forked_from_id="gone")] + shared
          + [tokens(70, use(500, 30, 16), use(200, 0, 1))])
    events, snap = Poller(home).poll()
    rows = sorted((e.message_id, e.input_tokens + e.cache_read_tokens, e.output_tokens) for e in usage(events))
    # a (forked first) owns the prefix; b counts only its own row.
    assert rows == [(f"{a}:1", 100, 5), (f"{a}:2", 100, 5), (f"{a}:3", 100, 5), (f"{a}:4", 100, 15),
                    (f"{b}:4", 200, 1)]
    assert snap.extras["fork_rows_owned_by_parent"] == 3


def test_subagent_replay_is_owned_by_its_parent(tmp_path):
    home = tmp_path / "codex"
    parent, child = SID, "019c9000-0000-7000-8000-0000000000c1"
    write(rollout(home, parent), [meta(parent), turn(), tokens(1, use(100, 0, 10)),
                                  tokens(2, use(300, 100, 20), use(200, 100, 10))])
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": parent, "depth": 1}}}
    # The subagent replays only the parent's latest row, then works on its own.
    write(rollout(home, child), [meta(child, 10, source=spawn), turn(), tokens(11, use(300, 100, 20),
                                 use(200, 100, 10)), tokens(40, use(350, 100, 25), use(50, 0, 5))])
    events, _ = Poller(home).poll()
    got = sorted((e.message_id, e.input_tokens, e.cache_read_tokens, e.output_tokens) for e in usage(events))
    assert got == [(f"{parent}:1", 100, 0, 10), (f"{parent}:2", 100, 100, 10), (f"{child}:2", 50, 0, 5)]


def test_subagent_of_a_missing_parent_skips_the_replay_burst(tmp_path):
    home = tmp_path / "codex"
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": "gone", "depth": 1}}}
    write(rollout(home, SID), [meta(SID, 0, source=spawn), tokens(0.4, use(300, 100, 20)),
                               tokens(0.9, use(500, 100, 30)), tokens(30, use(560, 150, 31), use(60, 50, 1))])
    events, snap = Poller(home).poll()
    assert [(e.message_id, e.input_tokens, e.cache_read_tokens, e.output_tokens) for e in usage(events)] == [
        (f"{SID}:3", 10, 50, 1)]
    assert snap.extras["fork_rows_owned_by_parent"] == 2


# --- counting rules --------------------------------------------------------------------------------


def test_repeated_totals_count_once_and_lower_totals_take_last(tmp_path):
    home = tmp_path / "codex"
    write(rollout(home, SID), [
        meta(SID), turn(),
        tokens(1, None, rate_limits=limits((1.0, 300, {"resets_at": BASE + 3600}))),
        tokens(2, use(1000, 200, 50, 20)),
        tokens(3, use(1000, 200, 50, 20)),  # the same event written twice
        tokens(4, use(1500, 600, 80, 20), use(500, 400, 30, 0)),
        tokens(5, use(700, 0, 10), use(700, 0, 10)),  # totals went down: a reset
        tokens(6, use(700, 0, 10), use(700, 0, 10)),
        tokens(7, use(0, 0, 0), use(0, 0, 0)),  # another reset, with nothing used: no request
    ])
    events, snap = Poller(home).poll()
    got = [(e.message_id, e.input_tokens, e.cache_read_tokens, e.output_tokens, e.reasoning_tokens)
           for e in usage(events)]
    assert got == [(f"{SID}:1", 800, 200, 50, 20), (f"{SID}:3", 100, 400, 30, 0), (f"{SID}:4", 700, 0, 10, 0)]
    assert snap.extras["duplicate_totals_skipped"] == 2
    assert [e.total_tokens() for e in usage(events)] == [1050, 530, 710]  # reasoning never added again


def test_cached_is_clamped_to_input_and_model_follows_turn_context(tmp_path):
    home = tmp_path / "codex"
    write(rollout(home, SID), [
        meta(SID), turn("gpt-5.2-codex"), tokens(1, use(100, 150, 10)),
        turn("gpt-5.3-codex", turn_id="019c9000-aaaa-7000-8000-000000000001"), tokens(2, use(200, 150, 20)),
    ])
    events, _ = Poller(home).poll()
    got = [(e.model, e.input_tokens, e.cache_read_tokens, e.turn_id) for e in usage(events)]
    assert got == [("gpt-5.2-codex", 0, 100, None), ("gpt-5.3-codex", 100, 0, "019c9000-aaaa-7000-8000-000000000001")]


def test_no_model_falls_back_to_gpt5_and_says_so(tmp_path):
    home = tmp_path / "codex"
    write(rollout(home, SID), [meta(SID), tokens(1, use(100, 0, 10))])
    events, snap = Poller(home).poll()
    (ev,) = usage(events)
    assert ev.model == "gpt-5" and ev.raw["fallback_model"] is True
    assert ev.cost_usd == pricing.compute_cost("gpt-5", 100, 10, 0)
    assert snap.extras["fallback_model_requests"] == 1


def test_bad_lines_are_counted_not_fatal(tmp_path):
    home = tmp_path / "codex"
    write(rollout(home, SID), [
        meta(SID), turn(), '{"timestamp":"2026-03-01T10:00:01Z","type":"event_msg","payload":{"type":"token_count"',
        tokens(2, use(100, 0, 10), raw_ts="yesterday"), '["token_count"]',
        tokens(3, use(300, 0, 30), use(200, 0, 20)),
        '{"timestamp":"soon","type":"response_item","payload":{"type":"function_call","name":"shell","call_id":"c1"}}',
    ])
    events, snap = Poller(home).poll()
    # The skipped row's usage is not lost: the next row's change of the totals includes it.
    assert [(e.message_id, e.input_tokens, e.output_tokens) for e in usage(events)] == [(f"{SID}:1", 300, 30)]
    assert snap.extras["skipped_reasons"] == {"bad_json": 1, "bad_timestamp": 2, "not_an_object": 1}
    assert snap.extras["lines_skipped"] == 4 and snap.status == "OK"


def test_tool_calls_of_every_kind(tmp_path):
    home = tmp_path / "codex"
    write(rollout(home, SID), [
        meta(SID), turn(turn_id="019c9000-aaaa-7000-8000-000000000002"),
        tool_call("c1", "shell", 1), tool_call("c2", "apply_patch", 2, kind="custom_tool_call"),
        line("response_item", {"type": "local_shell_call", "call_id": "c3", "status": "completed",
                               "action": {"type": "exec", "command": ["ls"]}}, ts(3)),
        tool_call("c4", "mcp__github__create_issue", 4),
        line("response_item", {"type": "function_call_output", "call_id": "c1", "output": "ok"}, ts(5)),
    ])
    events, snap = Poller(home).poll()
    got = [(e.tool_call_id, e.tool_name, e.mcp_server, e.turn_id, e.requests) for e in events]
    turn_id = "019c9000-aaaa-7000-8000-000000000002"
    assert got == [("c1", "shell", None, turn_id, 0), ("c2", "apply_patch", None, turn_id, 0),
                   ("c3", "local_shell", None, turn_id, 0), ("c4", "mcp__github__create_issue", "github", turn_id, 0)]
    assert [e.dedup_key() for e in events][0] == "codex|tool_usage|tc:c1"


# --- polling: incremental reading --------------------------------------------------------------------


def test_growth_between_polls_equals_a_one_shot_read(tmp_path):
    home = localpush_home(tmp_path)
    big = sorted(os.listdir(home / "sessions" / "2026" / "02" / "23"))[0]
    one_shot = {e.message_id: e for e in usage(Poller(home).poll()[0]) if e.message_id.startswith("019c8a4d")}
    data = open(home / "sessions" / "2026" / "02" / "23" / big, "rb").read()
    grown = tmp_path / "grown"
    path = grown / "sessions" / "2026" / "02" / "23" / big
    path.parent.mkdir(parents=True)
    poller = Poller(grown)
    path.write_bytes(data[: len(data) // 2])  # cuts a line in two: the half line waits
    first, snap1 = poller.poll()
    with open(path, "ab") as fh:
        fh.write(data[len(data) // 2:])
    second, snap2 = poller.poll()
    third, snap3 = poller.poll()
    assert first and second and third == []
    both = usage(first) + usage(second)
    assert len({e.message_id for e in both}) == len(both)
    key = lambda e: (e.message_id, e.occurred_at, e.model, e.input_tokens, e.cache_read_tokens,  # noqa: E731
                     e.output_tokens, e.reasoning_tokens, e.turn_id, e.cost_usd)
    assert sorted(map(key, both)) == sorted(map(key, one_shot.values()))
    assert snap1.extras["lines_skipped"] == snap2.extras["lines_skipped"] == 0
    assert snap2.message == snap3.message == "28 requests from 1 rollout"
    assert snap3.extras["files_read"] == 0 and snap3.rate_limits == snap2.rate_limits


def test_partial_last_line_waits_for_the_next_poll(tmp_path):
    home = tmp_path / "codex"
    path = rollout(home, SID)
    done, half = tokens(1, use(100, 0, 10)), tokens(2, use(300, 0, 30))
    write(path, [meta(SID), turn(), done, half[:50]], newline=False)
    poller = Poller(home)
    first, snap = poller.poll()
    assert [e.message_id for e in usage(first)] == [f"{SID}:1"] and snap.extras["lines_skipped"] == 0
    write(path, [half[50:]])
    second, _ = poller.poll()
    assert [(e.message_id, e.input_tokens) for e in usage(second)] == [(f"{SID}:2", 200)]


def test_truncated_or_replaced_file_is_read_again_with_the_same_keys(tmp_path, store):
    writer, reader = store
    home = tmp_path / "codex"
    path = rollout(home, SID)
    rows = [meta(SID), turn(), tokens(1, use(100, 0, 10)), tokens(2, use(300, 0, 30))]
    write(path, rows)
    poller = Poller(home)
    writer.submit_events(poller.poll()[0]).wait(10)
    write(path, rows[:3], mode="w")  # truncated in place
    again, _ = poller.poll()
    assert [(e.message_id, e.input_tokens) for e in usage(again)] == [(f"{SID}:1", 100)]
    writer.submit_events(again).wait(10)
    tmp = path + ".new"
    write(tmp, rows + [tokens(3, use(600, 0, 31))], mode="w")
    os.replace(tmp, path)  # replaced by a longer copy
    replaced, _ = poller.poll()
    assert [e.message_id for e in usage(replaced)] == [f"{SID}:1", f"{SID}:2", f"{SID}:3"]
    writer.submit_events(replaced).wait(10)
    stored = reader().execute("SELECT message_id, input_tokens, output_tokens FROM event_detail "
                              "WHERE event_type='message_usage' ORDER BY message_id").fetchall()
    assert stored == [(f"{SID}:1", 100, 10), (f"{SID}:2", 200, 20), (f"{SID}:3", 300, 1)]


def test_active_and_archived_copies_of_a_session_count_once(tmp_path):
    home = tmp_path / "codex"
    rows = [meta(SID), turn(), tokens(1, use(100, 0, 10)), tokens(2, use(300, 0, 30))]
    write(rollout(home, SID), rows + [tokens(3, use(400, 0, 31))])
    write(rollout(home, SID, archived=True), rows)
    # A second copy under another name (moved by hand) repeats the same rows: the first owns them.
    write(os.path.join(str(home), "archived_sessions", "copy-of-session.jsonl"), rows)
    events, snap = Poller(home).poll()
    assert [(e.message_id, e.input_tokens) for e in usage(events)] == [
        (f"{SID}:1", 100), (f"{SID}:2", 200), (f"{SID}:3", 100)]
    assert snap.extras["files_skipped"] == {"archived_duplicate": 1}
    assert snap.extras["fork_rows_owned_by_parent"] == 2


def test_archiving_a_session_between_polls_keeps_its_keys(tmp_path, store):
    writer, reader = store
    home = tmp_path / "codex"
    write(rollout(home, SID), [meta(SID), turn(), tokens(1, use(100, 0, 10))])
    poller = Poller(home)
    writer.submit_events(poller.poll()[0]).wait(10)
    os.makedirs(os.path.join(str(home), "archived_sessions"))
    os.rename(rollout(home, SID), rollout(home, SID, archived=True))
    events, _ = poller.poll()
    assert [e.message_id for e in usage(events)] == [f"{SID}:1"]
    writer.submit_events(events).wait(10)
    assert reader().execute("SELECT COUNT(*) FROM event_detail WHERE event_type='message_usage'").fetchone() == (1,)
    assert list(poller.state["files"]) == [rollout(home, SID, archived=True)]


def test_compressed_rollouts_are_left_out_and_counted(tmp_path):
    home = tmp_path / "codex"
    write(rollout(home, SID), [meta(SID), turn(), tokens(1, use(100, 0, 10))])
    write(os.path.join(str(home), "sessions", "2026", "02", "01", "rollout-x.jsonl.zst"), ["(zstd bytes)"])
    _, snap = Poller(home).poll()
    assert snap.extras["files_skipped"] == {"zstd_compressed": 1} and snap.extras["files"] == 1


# --- rate limits -----------------------------------------------------------------------------------


def test_window_names():
    assert [cx.window_name(m, "primary") for m in (300, 299, 10080, 10079, 43800, 60, None)] == [
        "5h", "5h", "weekly", "weekly", "monthly", "60m", "primary"]


def test_rate_limits_mapping_relative_resets_placeholders_and_limit_ids(tmp_path):
    home = tmp_path / "codex"
    write(rollout(home, SID), [
        meta(SID), turn(),
        tokens(1, None, rate_limits=limits((40.0, 300, {"resets_at": BASE + 3600}),
                                           (10.0, 10080, {"resets_at": BASE + 86400}),
                                           plan_type="plus", credits={"has_credits": True, "unlimited": False,
                                                                      "balance": "12.50"})),
        # an older build: relative resets and 299/10079-minute windows
        tokens(2, use(100, 0, 10), rate_limits=limits((42.0, 299, {"resets_in_seconds": 600}),
                                                      (11.0, 10079, {"resets_in_seconds": 7200}))),
        # the all-zero placeholder some builds write right after a real reading
        tokens(3, use(100, 0, 10), rate_limits=limits((0.0, 300, {"resets_at": BASE + 9999}),
                                                      (0.0, 10080, {"resets_at": BASE + 99999}))),
        # a per-model limit, weekly window in the primary slot
        tokens(4, None, rate_limits={"limit_id": "codex_spark", "primary": {
            "used_percent": 5.0, "window_minutes": 10080, "resets_at": BASE + 5000}, "secondary": None}),
    ])
    poller = Poller(home)
    _, snap = poller.poll(now=BASE + 10)
    rl = {k: v.to_dict() for k, v in snap.rate_limits.items()}
    seen = {"source": "rollout", "observed_at": format_rfc3339(BASE + 2)}  # each limit id's own reading time
    assert rl == {"5h": dict(seen, used_percent=42.0, resets_at=format_rfc3339(BASE + 2 + 600), window_seconds=18000),
                  "weekly": dict(seen, used_percent=11.0, resets_at=format_rfc3339(BASE + 2 + 7200),
                                 window_seconds=604800),
                  "codex_spark:weekly": {"used_percent": 5.0, "resets_at": format_rfc3339(BASE + 5000),
                                         "source": "rollout", "observed_at": format_rfc3339(BASE + 4),
                                         "window_seconds": 604800}}
    assert snap.extras["limit_placeholders_skipped"] == 1
    assert snap.extras["plan_type"] == "plus" and snap.extras["rate_limits_at"] == format_rfc3339(BASE + 4)
    # No new lines: the limits stay; once a window's reset has passed it starts again at 0%.
    events, later = poller.poll(now=BASE + 700)
    assert events == [] and later.extras["files_read"] == 0
    assert later.rate_limits["5h"].to_dict() == dict(seen, used_percent=0.0, window_seconds=18000)
    assert later.rate_limits["weekly"].used_percent == 11.0


def test_flat_limits_of_very_old_builds_and_a_full_window():
    reading = cx.parse_rate_limits({"primary_used_percent": 100.0, "primary_window_minutes": 300,
                                    "secondary_used_percent": 20.0, "secondary_window_minutes": 10080,
                                    "primary_to_secondary_ratio_percent": 30}, BASE)
    assert reading["windows"] == {"5h": {"used_percent": 100.0, "resets_at": None},
                                  "weekly": {"used_percent": 20.0, "resets_at": None}}
    assert cx.parse_rate_limits({"limit_id": "codex", "primary": None, "secondary": None}, BASE) is None
    snap = cx.UsageSnapshot(provider_id="codex", account_id="codex", status="OK")
    cx.apply_limits(snap, {"limits": {"codex": reading}}, BASE)
    assert snap.status == "LIMIT" and snap.rate_limits["5h"].used_percent == 100.0


# --- consistency with the notify hook ----------------------------------------------------------------


def test_turn_completed_matches_the_notify_hook(tmp_path, store):
    writer, reader = store
    home = tmp_path / "codex"
    turn_id = "019c9000-bbbb-7000-8000-000000000003"
    write(rollout(home, SID), [
        meta(SID), turn(turn_id=turn_id), line("event_msg", {"type": "task_started", "turn_id": turn_id}, ts(1)),
        tokens(2, use(100, 0, 10)), line("event_msg", {"type": "task_complete", "turn_id": turn_id,
                                                       "last_agent_message": "done"}, ts(3)),
        # an old build's counter turn id is not unique across sessions: no event for it
        line("event_msg", {"type": "task_complete", "turn_id": "7"}, ts(4)),
    ])
    notify = {"type": "agent-turn-complete", "thread-id": SID, "turn-id": turn_id, "cwd": "/home/u/work/my-app",
              "input-messages": ["hi"], "last-assistant-message": None}
    hook_event = pipeline.normalize("codex", notify, None, BASE + 5, {})
    events, snap = Poller(home).poll()
    (mine,) = of_type(events, "turn_completed")
    assert (mine.session_id, mine.turn_id, mine.project, mine.account_id) == (
        hook_event.session_id, hook_event.turn_id, hook_event.project, hook_event.account_id)
    assert mine.dedup_key() == hook_event.dedup_key() and usage(events)[0].session_id == SID
    writer.submit_events([hook_event]).wait(10)
    writer.submit_events(events).wait(10)
    assert reader().execute("SELECT COUNT(*) FROM event_detail WHERE event_type='turn_completed'").fetchone() == (1,)
    assert snap.extras["turns_new"] == 1


# --- end to end --------------------------------------------------------------------------------------


def _env(home):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENUSAGE_", "XDG_", "CLAUDE_", "CODEX_", "GEMINI_", "OPENCODE_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_STATE_HOME=str(home / ".local" / "state"),
               XDG_DATA_HOME=str(home / ".local" / "share"), XDG_CACHE_HOME=str(home / ".cache"),
               PYTHONPATH=REPO)
    return env


def test_usage_command_end_to_end(isolated_home):
    codex_home = isolated_home / ".codex"
    shutil.copytree(localpush_home(isolated_home.parent) / "sessions", codex_home / "sessions")
    proc = subprocess.run([sys.executable, "-m", "openusage", "usage", "--provider", "codex", "--json",
                           "--window", "all"], env=_env(isolated_home), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    snap = json.loads(proc.stdout)["snapshots"]["codex"]
    assert snap["status"] == "OK" and snap["message"] == "35 requests from 3 rollouts"
    assert snap["tokens"]["total"] == 2100424 and snap["tokens"]["cache_read"] == 1894272
    assert snap["tool_calls"] == 124 and set(snap["rate_limits"]) == {"5h", "weekly"}
    assert snap["spend"]["total"] == pytest.approx(0.89015, abs=1e-5)
    assert {m["model"] for m in snap["models"]} == {"gpt-5.3-codex"}


def test_daily_report_direct_scan(isolated_home, capsys):
    codex_home = isolated_home / ".codex"
    shutil.copytree(localpush_home(isolated_home.parent) / "sessions", codex_home / "sessions")
    shutil.copytree(os.path.join(ISSUE2037, "live-fork-4d90-52bf", "codex-home", "archived_sessions"),
                    codex_home / "archived_sessions")
    argv = ["daily", "--source", "direct", "--provider", "codex", "--json", "--timezone", "UTC"]
    assert main(argv) == 0
    days = {d["date"]: d for d in json.loads(capsys.readouterr().out)["daily"]}
    # The same totals `ccusage codex daily --json --offline -z UTC` reports for these files.
    assert (days["2026-02-23"]["input_tokens"], days["2026-02-23"]["cache_read_tokens"],
            days["2026-02-23"]["output_tokens"], days["2026-02-23"]["total_tokens"]) == (189998, 1894272, 16154,
                                                                                        2100424)
    assert days["2026-02-23"]["cost_usd"] == pytest.approx(0.89015, abs=1e-5)
    assert (days["2030-01-01"]["total_tokens"], days["2030-01-02"]["total_tokens"]) == (24992392, 1809519)
    assert main(argv) == 0  # a repeat run reads nothing new and reports the same
    assert {d["date"]: d for d in json.loads(capsys.readouterr().out)["daily"]} == days
