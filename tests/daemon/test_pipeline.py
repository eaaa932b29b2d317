import json

import pytest

from openusage.config import DEFAULT_LINKS
from openusage.daemon import pipeline

T = 1_795_000_000.0


def one(source, payload, account=None, links=DEFAULT_LINKS):
    events, hinted = pipeline.events_from_delivery(source, json.dumps(payload).encode(), account, T, links)
    assert len(events) == 1
    return events[0], hinted


def test_claude_pre_and_post_tool_use_are_one_fact():
    base = {"session_id": "s", "cwd": "/home/u/app", "tool_name": "Bash", "tool_use_id": "toolu_9"}
    pre, hinted = one("claude-code", dict(base, hook_event_name="PreToolUse"))
    post, _ = one("claude-code", dict(base, hook_event_name="PostToolUse", tool_response={"ok": True}))
    assert pre.dedup_key() == post.dedup_key() == "claude_code|tool_usage|tc:toolu_9"
    assert (pre.project, pre.session_id, pre.account_id) == ("app", "s", "claude_code")
    assert hinted == ["claude_code"]


def test_same_tool_call_from_the_transcript_has_the_same_key():
    from openusage.core.events import UsageEvent

    hook, _ = one("claude-code", {"hook_event_name": "PostToolUse", "tool_use_id": "toolu_9", "tool_name": "X"})
    parsed = UsageEvent(source="claude_code", provider_id="claude_code", account_id="claude_code",
                        event_type="tool_usage", occurred_at=T - 5, tool_call_id="toolu_9")
    assert hook.dedup_key() == parsed.dedup_key()


def test_claude_hook_events_map_to_types():
    kinds = {"UserPromptSubmit": "prompt_submitted", "Stop": "turn_completed", "SubagentStop": "turn_completed",
             "SessionStart": "session_start", "SessionEnd": "session_end", "Notification": "notification",
             "Whatever": "other"}
    for name, kind in kinds.items():
        ev, _ = one("claude-code", {"hook_event_name": name, "session_id": "s"})
        assert ev.event_type == kind
        assert ev.occurred_at == T


def test_mcp_server_from_tool_name():
    ev, _ = one("claude-code", {"hook_event_name": "PostToolUse", "tool_name": "mcp__linear__create_issue",
                                "tool_use_id": "t"})
    assert ev.mcp_server == "linear"


def test_codex_notify():
    ev, hinted = one("codex", {"type": "agent-turn-complete", "thread-id": "th", "turn-id": "tu", "cwd": "/w/x"})
    assert (ev.event_type, ev.session_id, ev.turn_id, ev.project) == ("turn_completed", "th", "tu", "x")
    assert ev.dedup_key() == "codex|turn_completed|turn:tu"
    assert hinted == ["codex"]


def test_generic_payload_in_our_event_shape_with_provider_link():
    ev, _ = one("opencode", {"event_type": "message_usage", "provider_id": "anthropic", "message_id": "msg_1",
                             "model": "claude-sonnet-4-5", "input_tokens": 10, "output_tokens": 5,
                             "cache_read_tokens": 100, "cost_usd": 0.01, "occurred_at": "2026-11-20T10:00:00Z"})
    assert ev.provider_id == "claude_code"  # anthropic -> claude_code by default
    assert (ev.input_tokens, ev.output_tokens, ev.cache_read_tokens, ev.requests) == (10, 5, 100, 1)
    assert ev.occurred_at == 1795168800.0
    assert ev.source == "opencode"


def test_account_from_query_wins():
    ev, _ = one("claude-code", {"hook_event_name": "Stop", "account_id": "b"}, account="a")
    assert ev.account_id == "a"
    ev, _ = one("claude-code", {"hook_event_name": "Stop", "account_id": "b"})
    assert ev.account_id == "b"


def test_identical_payloads_stamped_at_the_same_time_are_one_event():
    a, _ = one("claude-code", {"hook_event_name": "Stop", "session_id": "s"})
    b, _ = one("claude-code", {"hook_event_name": "Stop", "session_id": "s"})
    assert a.dedup_key() == b.dedup_key()
    c, _ = pipeline.events_from_delivery("claude-code", b'{"hook_event_name":"Stop","session_id":"s"}', None,
                                         T + 1, DEFAULT_LINKS)
    assert c[0].dedup_key() != a.dedup_key()


@pytest.mark.parametrize("body, message", [
    (b"", "empty body"),
    (b"\xff\xfe", "not UTF-8"),
    (b"{", "malformed JSON"),
    (b"[]", "empty array"),
    (b"[1]", "must be a JSON object"),
    (b'"x"', "must be a JSON object"),
    (json.dumps([{}] * 1001).encode(), "too many payloads"),
])
def test_bad_bodies(body, message):
    with pytest.raises(pipeline.HookError, match=message):
        pipeline.events_from_delivery("claude-code", body, None, T, {})


def test_bad_source():
    with pytest.raises(pipeline.HookError, match="invalid source"):
        pipeline.events_from_delivery("../etc", b"{}", None, T, {})


def test_generic_message_usage_is_priced_like_a_collector_prices_it():
    """A plugin's message (OpenCode) carries the price table's cost, and its own as the logged cost."""
    from openusage.core import pricing

    base = {"event_type": "message_usage", "provider_id": "opencode", "model": "claude-sonnet-4-5",
            "message_id": "msg_1", "input_tokens": 1000, "output_tokens": 500, "cache_read_tokens": 2000,
            "cache_write_tokens": 100}
    computed = pricing.compute_cost("claude-sonnet-4-5", 1000, 500, 2000, 100)
    assert computed and computed > 0
    plain = one("opencode", base)[0]
    assert plain.cost_logged_usd is None
    assert plain.cost_computed_usd == pytest.approx(computed)
    assert plain.cost_usd == pytest.approx(computed)
    logged = one("opencode", dict(base, cost_usd=0.25))[0]
    assert (logged.cost_logged_usd, logged.cost_usd) == (0.25, 0.25)
    assert logged.cost_computed_usd == pytest.approx(computed)
    unknown = one("opencode", dict(base, model="no-such-model-xyz"))[0]
    assert unknown.cost_usd is None and unknown.cost_computed_usd is None


def test_what_users_and_models_wrote_is_never_kept():
    """Commands, file contents, prompts and answers leave only a marker in the raw payload."""
    secret = "export OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123"
    tool = {"session_id": "s", "hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_use_id": "toolu_9",
            "tool_input": {"command": secret}, "tool_response": {"stdout": secret}, "cwd": "/w/app"}
    prompt = {"session_id": "s", "hook_event_name": "UserPromptSubmit", "prompt": secret}
    notify = {"type": "agent-turn-complete", "thread-id": "t", "turn-id": "1234567890abcdef1234",
              "input-messages": [secret], "last-assistant-message": secret}
    for source, payload in (("claude-code", tool), ("claude-code", prompt), ("codex", notify)):
        ev = one(source, payload)[0]
        stored = json.dumps(ev.raw)
        assert "sk-proj" not in stored and "OPENAI_API_KEY" not in stored
        assert ev.raw["session_id" if "session_id" in payload else "thread-id"] in ("s", "t")
    ev = one("claude-code", tool)[0]
    assert ev.tool_call_id == "toolu_9" and ev.raw["tool_input"] == pipeline.OMITTED
    assert ev.raw["tool_name"] == "Bash" and ev.raw["cwd"] == "/w/app"
    # Our own event shape (plugins) carries no content fields and is kept as sent.
    generic = {"event_type": "message_usage", "message_id": "m1", "model": "gpt-5", "input_tokens": 3}
    assert one("opencode", generic)[0].raw == generic
