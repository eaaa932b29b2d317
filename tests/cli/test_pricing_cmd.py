"""`openusage pricing MODEL...` output, JSON shape and exit codes."""
from __future__ import annotations

import argparse
import json

import pytest

from openusage.cli import pricing_cmd
from openusage.core import price_table, pricing


@pytest.fixture(autouse=True)
def fresh_table():
    pricing._reset()
    yield
    pricing._reset()


def run_cmd(*argv):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true")
    common.add_argument("--no-color", action="store_true")
    parser = argparse.ArgumentParser(prog="openusage")
    sub = parser.add_subparsers(dest="command")
    pricing_cmd.register(sub, [common])
    args = parser.parse_args(["pricing", *argv])
    return args.func(args)


def test_text_output(capsys):
    assert run_cmd("claude-4.5-sonnet", "claude-3-5-haiku-20241022") == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "claude-4.5-sonnet -> claude-sonnet-4-5 (normalized)" in out
    assert "claude-3-5-haiku-20241022 -> claude-3-5-haiku-20241022 (exact)" in out
    lines = out.splitlines()
    header = next(line for line in lines if "cache write 5m" in line)
    for heading in ("input", "output", "cache write 1h", "cache read"):
        assert heading in header
    # Sonnet 4.5 has a long-context tier, Haiku 3.5 does not.
    assert lines[2].split() == ["base", "3.00", "15.00", "3.75", "6.00", "0.30"]
    assert lines[3].split() == ["above", "200k", "6.00", "22.50", "7.50", "12.00", "0.60"]
    assert ["base", "0.80", "4.00", "1.00", "1.60", "0.08"] in [line.split() for line in lines]
    assert sum("above 200k" in line for line in lines) == 1
    assert lines[-1] == (
        "Prices in USD per million tokens; price table of 2026-07-02, "
        "LiteLLM public model prices via litellm_snapshot.json."
    )


def test_json_output(capsys):
    assert run_cmd("--json", "anthropic/claude-sonnet-4-5", "gpt-5") == 0
    out, err = capsys.readouterr()
    assert err == ""
    doc = json.loads(out)
    assert doc["table"] == {
        "date": "2026-07-02",
        "source": "LiteLLM public model prices via litellm_snapshot.json",
        "unit": "USD per million tokens",
    }
    assert doc["unknown"] == []
    sonnet, gpt = doc["models"]
    assert (sonnet["requested"], sonnet["model_id"], sonnet["how"]) == (
        "anthropic/claude-sonnet-4-5",
        "claude-sonnet-4-5",
        "prefix",
    )
    assert sonnet["prices"] == {
        "input": 3.0,
        "output": 15.0,
        "cache_write_5m": 3.75,
        "cache_write_1h": 6.0,
        "cache_read": 0.3,
    }
    assert sonnet["prices_above_200k"]["input"] == 6.0
    assert sonnet["prices_above_200k"]["cache_write_1h"] == 12.0
    assert gpt["model_id"] == "gpt-5" and gpt["how"] == "exact"
    assert gpt["prices_above_200k"] is None


def test_unknown_model_fails_with_one_line_per_model(capsys):
    assert run_cmd("foo", "gpt-5", "bar") == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "openusage: no price for model 'foo' (price table of 2026-07-02)",
        "openusage: no price for model 'bar' (price table of 2026-07-02)",
    ]
    assert "gpt-5 -> gpt-5 (exact)" in out


def test_unknown_model_json(capsys):
    assert run_cmd("--json", "foo") == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["unknown"] == ["foo"]
    assert json.loads(out)["models"] == []
    assert "no price for model 'foo'" in err


def test_fast_mode_multiplier_is_shown(capsys):
    assert run_cmd("claude-opus-4-6") == 0
    assert "fast mode: 6x these prices" in capsys.readouterr().out


def test_damaged_table_is_a_runtime_error(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "pricing.json"
    bad.write_text("{not json")
    monkeypatch.setattr(price_table, "_TABLE_PATH", str(bad))
    assert run_cmd("gpt-5") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("openusage: cannot read the price table: ")


def test_model_argument_is_required(capsys):
    with pytest.raises(SystemExit) as exc:
        run_cmd()
    assert exc.value.code == 2


def test_only_the_token_kinds_a_provider_bills_are_shown(capsys):
    assert run_cmd("gpt-5", "claude-sonnet-4-5") == 0
    out = capsys.readouterr().out
    gpt, claude = out.split("\n\n")[:2]
    assert gpt.splitlines()[1].split() == ["tier", "input", "output", "cache", "read"]
    assert gpt.splitlines()[2].split() == ["base", "1.25", "10.00", "0.125"]
    assert "cache write 5m" in claude and "cache write 1h" in claude
    assert run_cmd("--json", "gpt-5") == 0
    assert json.loads(capsys.readouterr().out)["models"][0]["prices"] == {
        "input": 1.25, "output": 10.0, "cache_read": 0.125}
