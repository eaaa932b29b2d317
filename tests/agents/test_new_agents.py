"""Every new agent on its fixture: detection and where it looked, the fixture's totals per day and model
through the real store, nothing new on a second poll, a replaced file (or database) counted once."""
import os
import shutil

import pytest
import test_codebuff
import test_mux
from agentcase import event_totals, install, poller, store_events, totals
from support import usage

from openusage.providers import REGISTRY

# What each fixture holds, per UTC day and model: (tokens, cost in USD; None = unpriced). Worked out by
# hand from the fixture files (each agent's PROVENANCE.md says which record is which).
EXPECTED = {
    "pi": {("2026-11-30", "claude-sonnet-4-5"): (5606, 0.02361),
           ("2026-12-01", "claude-sonnet-4-5"): (5781, 0.0044163),
           ("2026-12-01", "acme-coder-9000"): (682, None)},
    "qwen_code": {("2026-11-30", "qwen3-coder-plus"): (26510, None),
                  ("2026-12-01", "local-qwen-finetune"): (930, None)},
    "kimi_cli": {("2026-11-30", "kimi-k2-turbo-preview"): (18738, None),
                 ("2026-12-01", "kimi-k2-turbo-preview"): (9534, None)},
    "copilot_cli": {("2026-11-30", "claude-sonnet-4.5"): (21780, 0.01887),
                    ("2026-11-30", "gpt-5-mini"): (10200, 0.0037284)},
    "amp": {("2026-11-30", "claude-sonnet-4-5-20250929"): (21698, 0.063864),
            ("2026-11-30", "acme-small"): (520, None)},
    "droid": {("2026-11-30", "claude-opus-4-1-20250805"): (249110, 1.196025),
              ("2026-12-01", "custom:glm-4.6-local"): (1000, None)},
    "cline": {("2026-11-30", "claude-sonnet-4-5-20250929"): (30501, 0.080406)},
    "roo_code": {("2026-11-30", "gpt-5"): (25600, 0.0152), ("2026-11-30", "claude-haiku-4-5"): (20812, 0.004137)},
    "kilo_code": {("2026-12-01", "kilo-secret-model"): (2250, 0.0075)},
    "goose": {("2026-11-30", "claude-sonnet-4-5"): (48000, 0.174), ("2026-12-01", "gpt-4.1"): (12000, 0.03),
              ("2026-12-01", "qwen3:30b-a3b"): (620, None)},
    "crush": {("2026-11-30", "claude-sonnet-4-5-20250929"): (0, 0.4312),
              ("2026-11-30", "claude-haiku-4-5"): (0, 0.0003)},
    "openclaw": {("2026-11-30", "claude-opus-4-5"): (12153, 0.078765),
                 ("2026-11-30", "moonshotai/kimi-k2"): (12580, None)},
    "hermes": {("2026-11-30", "anthropic/claude-sonnet-4.5"): (104300, 0.1095),
               ("2026-12-01", "gpt-5-mini"): (2400, 0.0013), ("2026-12-01", "hermes-local-70b"): (1000, None)},
    "zed": {("2026-11-30", "claude-sonnet-4-5"): (28510, 0.041595)},
}
# Agents whose own tests hold their fixture's figures (worked out in their PROVENANCE.md).
EXPECTED.update(codebuff=test_codebuff.EXPECTED, mux=test_mux.EXPECTED)
AGENTS = sorted(EXPECTED)


@pytest.fixture(autouse=True)
def utc(zone):
    zone("UTC")


@pytest.mark.parametrize("agent", AGENTS)
def test_missing_data_is_unknown_saying_where_it_looked(agent, isolated_home):
    provider = REGISTRY[agent]
    assert provider.detect(dict(os.environ), str(isolated_home), shutil.which) == []
    events, snap = poller(agent, isolated_home).poll()
    assert events == [] and snap.status == "UNKNOWN"
    assert snap.message.startswith(provider.nothing + " (looked in ") and str(isolated_home) in snap.message


@pytest.mark.parametrize("agent", AGENTS)
def test_fixture_totals_per_day_and_model_through_the_store(agent, isolated_home, store):
    writer, reader = store
    home = install(agent, isolated_home)
    (account,) = REGISTRY[agent].detect(dict(os.environ), home, shutil.which)
    assert account.id == agent and account.detected_by.startswith(home)
    p = poller(agent, home)
    events, snap = p.poll()
    assert snap.status == "OK", snap.message
    assert event_totals(events) == EXPECTED[agent]
    store_events(writer, events)
    assert totals(reader(), agent) == EXPECTED[agent]
    assert all(e.reasoning_tokens <= e.output_tokens for e in usage(events))
    assert p.poll()[0] == []  # nothing new, nothing read again


@pytest.mark.parametrize("agent", AGENTS)
def test_a_replaced_file_is_read_again_and_counted_once(agent, isolated_home, store):
    writer, reader = store
    home = install(agent, isolated_home)
    p = poller(agent, home)
    first, _ = p.poll()
    store_events(writer, first)
    for top, _dirs, names in os.walk(home):
        for name in names:
            if name.endswith((".jsonl", ".json", ".db")):
                path = os.path.join(top, name)
                shutil.copy2(path, path + ".new")
                os.replace(path + ".new", path)  # another inode, the same content
    again, _ = p.poll()
    assert sorted(e.dedup_key() for e in usage(again)) == sorted(e.dedup_key() for e in usage(first))
    store_events(writer, again)
    assert totals(reader(), agent) == EXPECTED[agent]


@pytest.mark.parametrize("agent", AGENTS)
def test_state_saved_by_a_newer_openusage_is_read_again_and_counted_once(agent, isolated_home, store):
    # A downgrade: the saved state is of a form this openusage does not know (agents/saved.py), so its
    # cursors are not trusted; every source is read again and the store keeps one row per key.
    writer, reader = store
    home = install(agent, isolated_home)
    p = poller(agent, home)
    first, _ = p.poll()
    store_events(writer, first)
    assert p.state["version"] == 1
    assert usage(p.poll()[0]) == []  # the current form: nothing new
    p.state["version"] = 7
    again, _ = p.poll()
    assert event_totals(again) == EXPECTED[agent] and p.state["version"] == 1
    store_events(writer, again)
    assert totals(reader(), agent) == EXPECTED[agent]
