"""Codebuff: the CLI's chat-messages.json, rewritten whole as a chat goes on (fixture: tests/fixtures/codebuff)."""
import json
import os
import shutil

import pytest
from agentcase import event_totals, install, poller, store_events, totals
from support import tools, usage, wait_for
from test_agents_e2e import Screen, read_model, report

from openusage.agents import codebuff
from openusage.agents.records import Skip
from openusage.cli.main import main
from openusage.providers import REGISTRY
from openusage.tui import widgets
from openusage.tui.source import DaemonSource

SHOP = "2026-11-30T09-15-00.000Z"
SANDBOX = "2026-11-30T23-50-00.000Z"
# Per UTC day and model: (tokens, USD; None = unpriced), worked out in tests/fixtures/codebuff/PROVENANCE.md.
EXPECTED = {("2026-11-30", "claude-sonnet-4-5-20250929"): (41140, 0.048345),
            ("2026-11-30", "openai/gpt-5"): (9400, 0.0085),
            ("2026-11-30", "anthropic/claude-haiku-4.5"): (5750, 0.002875),
            ("2026-12-01", "acme-coder-large"): (2800, None),
            ("2026-12-01", "claude-sonnet-4-5-20250929"): (100, 0.00138)}


@pytest.fixture(autouse=True)
def utc(zone):
    zone("UTC")


def shop_path(home):
    return os.path.join(str(home), ".config", "manicode", "projects", "shop", "chats", SHOP, "chat-messages.json")


def sandbox_path(home):
    return os.path.join(str(home), ".config", "manicode-dev", "projects", "sandbox", "chats", SANDBOX,
                        "chat-messages.json")


def load(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def save(path, doc):
    """As the CLI saves a chat: writeFileSync over the same file (same inode, new size and mtime)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)


def ai(mid, metadata, **extra):
    return dict({"id": mid, "variant": "ai", "content": "", "timestamp": "10:42 AM", "metadata": metadata}, **extra)


# --- the parser -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape, want", [
    ({"inputTokens": 5, "outputTokens": 7, "cacheReadInputTokens": 100, "cacheCreationInputTokens": 20},
     (5, 7, 100, 20)),
    ({"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20},
     (5, 7, 100, 20)),
    # OpenAI / OpenRouter style: the prompt count includes its cached part, so fresh input is the rest.
    ({"prompt_tokens": 900, "completion_tokens": 40, "prompt_tokens_details": {"cached_tokens": 600}},
     (300, 40, 600, 0)),
    ({"promptTokens": 900, "completionTokens": 40, "promptTokensDetails": {"cachedTokens": 600}}, (300, 40, 600, 0)),
    ({"promptTokens": 50, "completionTokens": 1, "cacheReadInputTokens": 80}, (0, 1, 80, 0)),  # never below 0
    ({"inputTokens": 3, "cachedTokensCreated": 9}, (3, 0, 0, 9)),
    ({"inputTokens": -4, "outputTokens": True, "cacheReadInputTokens": "9"}, None),  # no count at all
    ({}, None), (None, None), ([1, 2], None),
])
def test_usage_objects_camel_and_snake_case(shape, want):
    assert codebuff.tokens(shape) == want


def test_the_first_place_that_counts_tokens_is_taken_whole():
    routed = {"codebuff": {"model": "routed-a", "usage": {"inputTokens": 1}}}
    history = [{"role": "assistant", "providerOptions": routed},
               {"role": "user", "providerOptions": {"usage": {"inputTokens": 999}}},
               {"role": "assistant", "providerOptions": {"usage": {"input_tokens": 2, "output_tokens": 3}}},
               {"role": "assistant", "providerOptions": {}}, {"role": "assistant"}]
    run = {"sessionState": {"mainAgentState": {"messageHistory": history}}}
    doc = [ai("a-1", {"model": "m", "usage": {"inputTokens": 10}, "codebuff": {"usage": {"inputTokens": 20}}}),
           ai("a-2", {"usage": {"outputTokens": 0}, "codebuff": {"usage": {"outputTokens": 30, "model": "named"}},
                      "runState": run}),
           ai("a-3", {"runState": run}),
           ai("a-4", {"runState": {"sessionState": {"mainAgentState": {"messageHistory": history[:1]}}}}),
           {"id": "u-1", "variant": "user", "metadata": {"usage": {"inputTokens": 50}}},
           {"id": "e-1", "variant": "error", "metadata": {"usage": {"inputTokens": 50}}}]
    later = history[:3] + [{"role": "user"}, {"role": "assistant"}]
    turn = {"sessionState": {"mainAgentState": {"messageHistory": later}}}
    doc += [ai("a-5", {"runState": turn}),  # this turn's request has no usage: no earlier turn's is taken for it
            ai("a-6", {"runState": run}, variant="agent")]  # the same stored request again: not counted twice
    got = {u.key: u for u in codebuff.parse_chat(doc, SHOP, "shop")}
    assert [(k, u.model, u.input_tokens, u.output_tokens, u.raw["usage_from"]) for k, u in got.items()] == [
        (f"{SHOP}:a-1", "m", 10, 0, "metadata.usage"),
        (f"{SHOP}:a-2", "named", 0, 30, "metadata.codebuff.usage"),
        (f"{SHOP}:a-3", None, 2, 3, "runState"),  # the last assistant entry with usage; no model named: unpriced
        (f"{SHOP}:a-4", "routed-a", 1, 0, "runState")]


def test_a_message_is_booked_at_its_own_date_else_its_id_else_the_chat_start():
    started = codebuff.chat_started(SHOP)
    assert started == 1796030100.0
    assert codebuff.chat_started("2026-11-30T09-15-00.000+01:00") == started - 3600
    assert codebuff.chat_started("2026-11-30:09:15:00") is None and codebuff.chat_started("scratch") is None
    when = codebuff.message_time
    assert when({"timestamp": "2026-12-01T00:05:30.000Z", "id": "ai-1796030112000-3f"}, started) == 1796083530.0
    assert when({"createdAt": 1796083530123}, started) == pytest.approx(1796083530.123)
    assert when({"metadata": {"timestamp": "2026-12-01T00:00:00Z"}}, started) == 1796083200.0
    assert when({"timestamp": "09:16 AM", "id": "ai-1796030112000-3f2a"}, started) == 1796030112.0
    assert when({"timestamp": "09:16", "id": "msg-7"}, started) == started
    assert when({"timestamp": "09:16"}, None) is None


def test_a_message_with_no_usable_time_is_left_out_with_its_reason_and_the_rest_kept():
    doc = [ai("x-1", {"usage": {"inputTokens": 5}}), ai("ai-1796030112000-aa", {"usage": {"inputTokens": 7}})]
    skipped, kept = codebuff.parse_chat(doc, "scratch", "shop")
    assert isinstance(skipped, Skip) and skipped.reason == "bad_timestamp"
    assert (kept.key, kept.occurred_at, kept.input_tokens) == ("scratch:ai-1796030112000-aa", 1796030112.0, 7)


def test_credits_are_no_dollars_and_raw_holds_no_content():
    (one,) = codebuff.parse_chat([ai("a-1", {"model": "claude-haiku-4-5", "usage": {"inputTokens": 10}},
                                     credits=42.5, content="secret answer")], SHOP, "shop", "manicode")
    assert one.cost_logged is None and one.raw["credits"] == 42.5 and one.raw["channel"] == "manicode"
    assert "secret" not in json.dumps(one.raw)


def test_tool_blocks_are_tool_calls_agent_blocks_included():
    nested = [{"type": "tool", "toolCallId": "t2", "toolName": "find_files"}, {"type": "tool", "toolCallId": "t3"}]
    blocks = [{"type": "text", "content": "x"},
              {"type": "tool", "toolCallId": "t1", "toolName": "run_terminal_command", "input": {"command": "secret"}},
              {"type": "agent", "agentId": "g", "blocks": nested}]
    doc = [ai("ai-1796030112000-aa", {}, blocks=blocks)]  # tool calls of a message with no usage yet
    calls = codebuff.parse_chat(doc, SHOP, "shop")
    assert [(c.call_id, c.name, c.project, c.session_id) for c in calls] == [
        (f"{SHOP}:t1", "run_terminal_command", "shop", SHOP), (f"{SHOP}:t2", "find_files", "shop", SHOP)]
    assert codebuff.parse_chat({"messages": doc}, SHOP, "shop") == []


# --- the agent on its fixture -----------------------------------------------------------------


def test_missing_dirs_are_unknown_saying_where_it_looked(isolated_home):
    provider = REGISTRY["codebuff"]
    assert provider.detect(dict(os.environ), str(isolated_home), shutil.which) == []
    events, snap = poller("codebuff", isolated_home).poll()
    assert events == [] and snap.status == "UNKNOWN"
    assert snap.message.startswith("no Codebuff chats found (looked in ")
    for channel in ("manicode", "manicode-dev", "manicode-staging"):
        assert os.path.join(str(isolated_home), ".config", channel) in snap.message
    os.makedirs(os.path.join(str(isolated_home), ".config", "manicode"))  # a login only: no projects yet
    assert provider.detect(dict(os.environ), str(isolated_home), shutil.which) == []


def test_fixture_totals_per_day_and_model_through_the_store(isolated_home, store):
    writer, reader = store
    home = install("codebuff", isolated_home)
    (account,) = REGISTRY["codebuff"].detect(dict(os.environ), home, shutil.which)
    assert account.id == "codebuff" and account.detected_by == os.path.join(home, ".config", "manicode")
    p = poller("codebuff", home)
    events, snap = p.poll()
    assert snap.status == "OK" and snap.message == "6 messages from 2 files", snap.message
    assert snap.extras["sessions_new"] == 2 and snap.extras["projects_new"] == 2
    assert event_totals(events) == EXPECTED
    assert [(t.tool_name, t.model) for t in tools(events)] == [("read_files", "claude-sonnet-4-5-20250929"),
                                                                ("code_search", "openai/gpt-5")]
    assert all(e.cost_logged_usd is None for e in usage(events))
    store_events(writer, events)
    assert totals(reader(), "codebuff") == EXPECTED
    assert p.poll()[0] == []  # nothing changed: nothing read again


def test_two_chats_in_two_channels_are_two_sessions_of_their_projects(isolated_home):
    home = install("codebuff", isolated_home)
    events, _ = poller("codebuff", home).poll()
    by_chat = {}
    for e in usage(events):
        by_chat.setdefault((e.session_id, e.project, e.raw["channel"]), []).append(e.message_id)
    assert by_chat == {
        (SHOP, "shop", "manicode"): [f"{SHOP}:ai-1796030112000-3f2a9c1d", f"{SHOP}:ai-1796030400000-77b0e2",
                                     f"{SHOP}:ai-1796030700000-c4d5e6"],
        (SANDBOX, "sandbox", "manicode-dev"): [None, f"{SANDBOX}:msg-late-01", f"{SANDBOX}:ai-1796083500000-0f0f"]}


def test_a_chat_rewritten_with_a_longer_history_counts_nothing_twice(isolated_home, store):
    writer, reader = store
    home = install("codebuff", isolated_home)
    p = poller("codebuff", home)
    events, _ = p.poll()
    store_events(writer, events)
    doc = load(shop_path(home))
    doc[1]["metadata"]["usage"]["outputTokens"] += 700  # the message grew (its final count came in)
    doc.append({"id": "user-1796031000000", "variant": "user", "content": "one more thing", "timestamp": "09:30 AM"})
    doc.append(ai("ai-1796031010000-d00d", {"model": "claude-sonnet-4-5-20250929",
                                            "usage": {"inputTokens": 30, "outputTokens": 70}}))
    save(shop_path(home), doc)
    sandbox = load(sandbox_path(home))
    save(sandbox_path(home), sandbox + [{"id": "user-1796083600000", "variant": "user", "content": "thanks"}])
    events, _ = p.poll()
    # Both files are read whole again: every message comes again under its key, the store keeps one row of each.
    assert sorted(e.message_id or "" for e in usage(events)) == ["", f"{SHOP}:ai-1796030112000-3f2a9c1d",
                                                                 f"{SHOP}:ai-1796030400000-77b0e2",
                                                                 f"{SHOP}:ai-1796030700000-c4d5e6",
                                                                 f"{SHOP}:ai-1796031010000-d00d",
                                                                 f"{SANDBOX}:ai-1796083500000-0f0f",
                                                                 f"{SANDBOX}:msg-late-01"]
    store_events(writer, events)
    got = totals(reader(), "codebuff")
    day = ("2026-11-30", "claude-sonnet-4-5-20250929")
    assert got[day][0] == EXPECTED[day][0] + 700 + 100
    assert {k: v for k, v in got.items() if k != day} == {k: v for k, v in EXPECTED.items() if k != day}
    rows = reader().execute("SELECT COUNT(*) FROM event_detail WHERE provider_id = 'codebuff' AND "
                            "event_type = 'message_usage'").fetchone()[0]
    assert rows == 7  # six messages and the new one: the id-less message is one row by its fingerprint


def test_a_half_written_chat_is_skipped_and_the_poll_goes_on(isolated_home):
    home = install("codebuff", isolated_home)
    with open(shop_path(home), encoding="utf-8") as fh:
        whole = fh.read()
    with open(shop_path(home), "w", encoding="utf-8") as fh:
        fh.write(whole[: len(whole) // 2])  # caught mid-write
    p = poller("codebuff", home)
    events, snap = p.poll()
    assert snap.status == "OK" and snap.extras["skipped_reasons"] == {"bad_json": 1}
    assert {e.session_id for e in usage(events)} == {SANDBOX}
    with open(shop_path(home), "w", encoding="utf-8") as fh:
        fh.write(whole)
    events, snap = p.poll()
    assert {e.session_id for e in usage(events)} == {SHOP} and len(usage(events)) == 3


def test_a_message_without_a_time_is_counted_as_skipped(isolated_home):
    home = install("codebuff", isolated_home)
    odd = os.path.join(home, ".config", "manicode", "projects", "shop", "chats", "imported", "chat-messages.json")
    os.makedirs(os.path.dirname(odd))
    save(odd, [ai("m-1", {"usage": {"inputTokens": 5}}), ai("m-2", {"usage": {"inputTokens": 6}},
                                                          timestamp="2026-12-01T08:00:00Z")])
    events, snap = poller("codebuff", home).poll()
    assert snap.extras["skipped_reasons"] == {"bad_timestamp": 1}
    assert [e.message_id for e in usage(events) if e.session_id == "imported"] == ["imported:m-2"]


def test_codebuff_data_dir_replaces_the_defaults(isolated_home, tmp_path):
    install("codebuff", tmp_path / "o")
    data = str(tmp_path / "o" / ".config" / "manicode-dev")
    events, snap = poller("codebuff", isolated_home, environ={"CODEBUFF_DATA_DIR": data}).poll()
    assert snap.extras["roots"] == [data] and {e.session_id for e in usage(events)} == {SANDBOX}


def test_daily_json_from_a_direct_scan(isolated_home, capsys):
    install("codebuff", isolated_home)
    argv = ["daily", "--json", "--source", "direct", "--provider", "codebuff", "--timezone", "UTC"]
    assert main(argv) == 0
    days = {d["date"]: d for d in json.loads(capsys.readouterr().out)["daily"]}
    assert sorted(days) == ["2026-11-30", "2026-12-01"]
    for (date, model), (tokens, cost) in EXPECTED.items():
        (row,) = [m for m in days[date]["models"] if m["model"] == model]
        assert row["total_tokens"] == tokens
        assert (row["cost_usd"] if cost is not None else None) == (pytest.approx(cost) if cost is not None else None)
    assert days["2026-12-01"]["unpriced"] == [{"model": "acme-coder-large", "tokens": 2800}]
    assert days["2026-11-30"]["cost_usd"] == pytest.approx(0.048345 + 0.0085 + 0.002875)
    assert main(argv) == 0  # a repeat run reads nothing new and reports the same
    assert {d["date"]: d for d in json.loads(capsys.readouterr().out)["daily"]} == days


def test_the_daemon_its_reports_and_the_dashboard_agree(isolated_home, daemon_factory, capsys):
    install("codebuff", isolated_home)
    d = daemon_factory().start()

    def polled():
        snap = read_model(d)["snapshots"].get("codebuff")
        return snap is not None and snap["status"] == "OK"

    assert wait_for(polled, 20)
    snap = read_model(d)["snapshots"]["codebuff"]
    tokens = sum(t for t, _ in EXPECTED.values())
    cost = sum(c for _, c in EXPECTED.values() if c is not None)
    assert snap["display_name"] == "Codebuff" and snap["tokens"]["total"] == tokens
    assert snap["spend"]["total"] == pytest.approx(cost, abs=1e-6) and snap["tool_calls"] == 2
    assert {m["model"] for m in snap["models"]} == {model for _, model in EXPECTED}
    assert len(snap["sessions"]) == 2
    daemon = report(capsys, "daily", "--source", "daemon", "--provider", "codebuff", "--socket-path", d.socket_path,
                    "--timezone", "UTC")
    scan = report(capsys, "daily", "--source", "direct", "--provider", "codebuff", "--timezone", "UTC")
    assert daemon["daily"] == scan["daily"] and [day["date"] for day in scan["daily"]] == ["2026-11-30", "2026-12-01"]

    source = DaemonSource(d.socket_path, autostart=False)
    ui = Screen(source, 140, 60)
    try:
        ui.app.start()
        assert ui.app.poll_results(wait=10)
        text = ui.draw()
        assert "─ Codebuff " in text or "▶ Codebuff " in text, text
        assert f"{widgets.money(snap['spend']['total'])} · {widgets.compact(tokens)} tok" in text
    finally:
        ui.app.stop()
        ui.app.fetcher.join(5)
        source.close()
