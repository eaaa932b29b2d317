"""Price table lookups, name resolution and per-request cost arithmetic."""
from __future__ import annotations

import importlib.util
import json
import os
import threading

import pytest

from openusage.core import pricing

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def fresh_table(monkeypatch):
    """Every test starts from the packaged table with empty caches and the default tier rule."""
    pricing._reset()
    yield
    pricing._reset()


def approx(value):
    return pytest.approx(value, abs=1e-12)


# --- table -----------------------------------------------------------------------------------------


def test_table_identity_and_lazy_constants():
    assert pricing.table_date() == "2026-07-02"
    assert pricing.TABLE_DATE == "2026-07-02"
    assert pricing.TABLE_SOURCE == pricing.table_source()
    assert "LiteLLM" in pricing.table_source()
    with pytest.raises(AttributeError):
        pricing.NO_SUCH_THING  # noqa: B018


def test_table_holds_only_canonical_first_party_ids():
    models = pricing.table_models()
    assert len(models) > 150
    families = ("claude-", "gpt-", "o1", "o3", "o4", "codex", "chatgpt-", "gemini-")
    assert all(m.startswith(families) for m in models)
    assert not [m for m in models if "/" in m or "@" in m or ":" in m]


@pytest.mark.parametrize(
    "model",
    [
        "claude-3-5-haiku-20241022",
        "claude-3-5-sonnet-20241022",
        "claude-3-5-sonnet-20240620",
        "claude-3-opus-20240229",
        "claude-3-haiku-20240307",
    ],
)
def test_older_models_real_logs_contain_are_priced(model):
    res = pricing.resolve(model)
    assert res is not None and res.how == "exact"


def test_claude_3_5_haiku_prices():
    p = pricing.resolve("claude-3-5-haiku-20241022").price
    assert (p.input, p.output, p.cache_write_5m, p.cache_read) == (0.80, 4.00, 1.00, 0.08)
    assert p.cache_write_1h == approx(1.60)
    assert p.input_above_200k is None and not p.tiered


def test_tiered_prices_and_derived_1h_write():
    p = pricing.resolve("claude-sonnet-4-5").price
    base = (p.input, p.output, p.cache_write_5m, p.cache_write_1h, p.cache_read)
    assert base == (3.0, 15.0, 3.75, 6.0, 0.3)
    assert p.input_above_200k == 6.0
    assert p.output_above_200k == 22.5
    assert p.cache_write_5m_above_200k == 7.5
    assert p.cache_write_1h_above_200k == 12.0
    assert p.cache_read_above_200k == 0.6


def test_gemini_cache_write_follows_input_in_every_tier():
    p = pricing.resolve("gemini-2.5-pro").price
    assert p.cache_write_5m == p.input
    assert p.cache_write_5m_above_200k == p.input_above_200k == 2.5


# --- resolution ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "requested, model_id, how",
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929", "exact"),
        ("CLAUDE-Opus-4-1-20250805", "claude-opus-4-1-20250805", "exact"),
        ("gpt-5-2025-08-07", "gpt-5-2025-08-07", "exact"),
        ("gpt-5", "gpt-5", "exact"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet-20241022", "alias"),
        ("claude-sonnet-4-0", "claude-sonnet-4-20250514", "alias"),
        ("claude-4-opus-20250514", "claude-opus-4-20250514", "alias"),
        ("claude-3-7-sonnet-latest", "claude-3-7-sonnet-20250219", "alias"),
        ("claude-opus-4", "claude-opus-4-20250514", "dated"),
        ("claude-3-5-sonnet", "claude-3-5-sonnet-20241022", "dated"),
        ("gpt-5.1-codex-2025-11-13", "gpt-5.1-codex", "dated"),
        ("claude-sonnet-4-5-20991231", "claude-sonnet-4-5", "dated"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5", "prefix"),
        ("openai/gpt-5-codex", "gpt-5-codex", "prefix"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro", "prefix"),
        ("google/gemini-2.5-flash", "gemini-2.5-flash", "prefix"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929", "prefix"),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku-20241022", "prefix"),
        ("bedrock/us-east-1/anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307", "prefix"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5-20250929", "prefix"),
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet-20241022", "prefix"),
        ("claude-opus-4-6@default", "claude-opus-4-6", "prefix"),
        ("claude-sonnet-4-5-20250929[1m]", "claude-sonnet-4-5-20250929", "prefix"),
        ("claude-sonnet-4.5", "claude-sonnet-4-5", "normalized"),
        ("claude-4.5-sonnet-thinking", "claude-sonnet-4-5", "normalized"),
        ("openrouter/anthropic/claude-opus-4.1", "claude-opus-4-1", "normalized"),
        ("o3-mini-high", "o3-mini", "normalized"),
        ("gemini-2.5-pro-preview-06-05", "gemini-2.5-pro", "normalized"),
    ],
)
def test_resolve(requested, model_id, how):
    res = pricing.resolve(requested)
    assert res is not None, requested
    assert (res.requested, res.model_id, res.how) == (requested, model_id, how)


def test_real_ids_win_over_suffix_stripping():
    # "-max" and "-mini" are real model names here, not effort suffixes.
    assert pricing.resolve("gpt-5.1-codex-max").model_id == "gpt-5.1-codex-max"
    assert pricing.resolve("gpt-5.1-codex-mini").model_id == "gpt-5.1-codex-mini"


@pytest.mark.parametrize("name", ["foo", "", "   ", "llama-3-70b", "mistral/mistral-large-latest", "claude-"])
def test_unknown_resolves_to_none(name):
    assert pricing.resolve(name) is None


def test_resolve_is_cached():
    first = pricing.resolve("claude-opus-4-1")
    assert pricing.resolve("claude-opus-4-1") is first


def test_resolve_from_many_threads():
    names = ["claude-sonnet-4-5", "gpt-5", "nope", "gemini-2.5-pro", "anthropic/claude-opus-4-1"] * 40
    results = {}

    def work(i, name):
        results[i] = pricing.resolve(name)

    threads = [threading.Thread(target=work, args=(i, n)) for i, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r is None for _, r in sorted(results.items())] == [n == "nope" for n in names]


# --- cost ------------------------------------------------------------------------------------------


def test_cost_plain_request():
    # 1000*3 + 500*15 + 2000*0.30 + 4000*3.75 + 1000*6.00 = 32100 micro-dollars
    cost = pricing.compute_cost("claude-sonnet-4-5-20250929", 1000, 500, 2000, 4000, 1000)
    assert cost == approx(0.0321)


def test_cost_one_million_each():
    assert pricing.compute_cost("claude-3-5-haiku-20241022", 1_000_000, 1_000_000) == approx(4.80)


def test_cost_1h_cache_write_is_twice_input():
    # Opus 4.1 input is $15, so a 1-hour write is $30 per million: 10k tokens = $0.30.
    assert pricing.compute_cost("claude-opus-4-1", 0, 0, cache_write_1h_tokens=10_000) == approx(0.30)
    # The same tokens as a 5-minute write: $18.75 per million.
    assert pricing.compute_cost("claude-opus-4-1", 0, 0, cache_write_tokens=10_000) == approx(0.1875)


def test_cost_tiered_bucket_rule_matches_ccusage(monkeypatch):
    assert pricing.TIER_RULE == "request"  # the default is the providers' documented rule
    monkeypatch.setattr(pricing, "TIER_RULE", "bucket")
    # input: 200k*3 + 50k*6 = 900000; output 10k*15 = 150000 (its own bucket stays under 200k)
    assert pricing.compute_cost("claude-sonnet-4-5", 250_000, 10_000) == approx(1.05)
    # Exactly 200k stays at the base rate.
    assert pricing.compute_cost("claude-sonnet-4-5", 200_000, 0) == approx(0.60)
    # Cache writes are one bucket of 300k; 5m and 1h halves share its 200k/100k split:
    # 0.5*(200k*3.75 + 100k*7.50) + 0.5*(200k*6 + 100k*12) = 750000 + 1200000
    cost = pricing.compute_cost("claude-sonnet-4-5", 0, 0, 0, 150_000, 150_000)
    assert cost == approx(1.95)


def test_cost_tiered_request_rule(monkeypatch):
    monkeypatch.setattr(pricing, "TIER_RULE", "request")
    # Whole request above 200k: 250k*6 + 10k*22.5 = 1725000
    assert pricing.compute_cost("claude-sonnet-4-5", 250_000, 10_000) == approx(1.725)
    # Cache reads count toward the prompt: 50k + 180k = 230k > 200k, so everything is tiered:
    # 50k*6 + 180k*0.60 + 1k*22.5 = 430500
    assert pricing.compute_cost("claude-sonnet-4-5", 50_000, 1_000, 180_000) == approx(0.4305)
    assert pricing.compute_cost("claude-sonnet-4-5", 200_000, 0) == approx(0.60)
    # Gemini's published tier: 300k*2.50 + 1k*15 = 765000
    assert pricing.compute_cost("gemini-2.5-pro", 300_000, 1_000) == approx(0.765)


def test_cost_untiered_model_ignores_threshold():
    assert pricing.compute_cost("claude-opus-4-6", 300_000, 0) == approx(1.50)


def test_cost_treats_missing_counts_as_zero():
    assert pricing.compute_cost("gpt-5", None, 0, None) == 0.0  # type: ignore[arg-type]


def test_unknown_model_cost_is_none_and_reported():
    assert pricing.unknown_models() == []
    assert pricing.compute_cost("foo-model", 10, 10) is None
    assert pricing.compute_cost("bar-model", 10, 10) is None
    assert pricing.compute_cost("foo-model", 1, 1) is None
    assert pricing.compute_cost("gpt-5", 1, 1) is not None
    assert pricing.unknown_models() == ["bar-model", "foo-model"]


def test_synthetic_messages_are_free_and_not_unknown():
    assert pricing.compute_cost("<synthetic>", 0, 0) == 0.0
    assert pricing.unknown_models() == []


# --- cost modes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, logged, computed, expected",
    [
        ("auto", 1.5, 2.0, 1.5),
        ("auto", None, 2.0, 2.0),
        ("auto", None, None, None),
        ("auto", 0.0, 2.0, 0.0),
        ("calculate", 1.5, 2.0, 2.0),
        ("calculate", 1.5, None, None),
        ("display", 1.5, 2.0, 1.5),
        ("display", None, 2.0, 0.0),
    ],
)
def test_apply_cost_mode(mode, logged, computed, expected):
    assert pricing.apply_cost_mode(mode, logged, computed) == expected


def test_apply_cost_mode_rejects_bad_mode():
    assert pricing.COST_MODES == ("auto", "calculate", "display")
    with pytest.raises(ValueError):
        pricing.apply_cost_mode("cheapest", 1.0, 2.0)


# --- builder ---------------------------------------------------------------------------------------


def _load_builder():
    path = os.path.join(REPO, "contrib", "pricing", "build_table.py")
    spec = importlib.util.spec_from_file_location("ou_build_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_builder_keeps_bare_first_party_ids_and_supplements(tmp_path):
    builder = _load_builder()
    snapshot = {
        "retrieved_at": "2026-01-02T03:04:05Z",
        "models": {
            "claude-opus-4-1": {"i": 15.0, "o": 75.0, "cw": 18.75, "cr": 1.5},
            "anthropic/claude-opus-4-1": {"i": 15.0, "o": 75.0, "cw": 18.75, "cr": 1.5},
            "eu.anthropic.claude-3-5-haiku-20241022-v1:0": {"i": 0.25, "o": 1.25, "cw": 0.3125, "cr": 0.025},
            "gpt-4o": {"i": 2.5, "o": 10.0, "cw": 2.5, "cr": 1.25},
            "gemini-2.5-pro": {"i": 1.25, "o": 10.0, "cw": 1.25, "cr": 0.125, "ia": 2.5, "cwa": 0.25},
            "mistral/mistral-large-latest": {"i": 0.5, "o": 1.5, "cw": 0.5, "cr": 0.05},
            "claude-4-opus-20250514": {"i": 15.0, "o": 75.0, "cw": 18.75, "cr": 1.5},
            "claude-opus-4-20250514": {"i": 15.0, "o": 75.0, "cw": 18.75, "cr": 1.5},
            "gpt-oss-120b": {"i": 0.1, "o": 0.5, "cw": 0.1, "cr": 0.01},
            "o3": {"i": 0.7999999999999999, "o": 3.2, "cw": 0.8, "cr": 0.2},
        },
    }
    src = tmp_path / "snap.json"
    src.write_text(json.dumps(snapshot))
    out = tmp_path / "pricing.json"
    assert builder.main([str(src), "-o", str(out)]) == 0
    table = json.loads(out.read_text())
    assert table["retrieved_at"] == "2026-01-02T03:04:05Z"
    assert table["source"] == "LiteLLM public model prices via litellm_snapshot.json"
    models = table["models"]
    assert "anthropic/claude-opus-4-1" not in models and "claude-opus-4-1" in models
    assert "mistral/mistral-large-latest" not in models and "gpt-oss-120b" not in models
    # The routed eu row's price is not used; the supplement's list price is.
    assert models["claude-3-5-haiku-20241022"] == {"i": 0.8, "o": 4.0, "cw": 1.0, "cr": 0.08}
    assert models["o3"]["i"] == 0.8
    assert models["gemini-2.5-pro"]["cwa"] == 2.5
    assert "claude-4-opus-20250514" not in models
    assert table["aliases"]["claude-4-opus-20250514"] == "claude-opus-4-20250514"
    # One model per line, keys sorted.
    lines = out.read_text().splitlines()
    assert '"gpt-4o": {"cr":1.25,"cw":2.5,"i":2.5,"o":10.0},' in lines

    pricing._reset(str(out))
    assert pricing.table_date() == "2026-01-02"
    assert pricing.resolve("claude-4-opus-20250514").how == "alias"


def test_packaged_table_is_what_the_builder_makes(tmp_path):
    snapshot = os.path.join(REPO, "..", "shared", "data", "pricing", "litellm_snapshot.json")
    if not os.path.exists(snapshot):
        pytest.skip("snapshot not next to the repository")
    out = tmp_path / "pricing.json"
    assert _load_builder().main([snapshot, "-o", str(out)]) == 0
    packaged = os.path.join(REPO, "openusage", "data", "pricing.json")
    with open(packaged, encoding="utf-8") as fh:
        assert out.read_text() == fh.read()
