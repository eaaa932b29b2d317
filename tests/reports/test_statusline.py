import json
import os
import stat
import subprocess
import sys
import time

import pytest

from openusage.cli import statusline_cmd
from openusage.cli.main import main
from openusage.core.events import UsageEvent
from openusage.store.writer import Writer

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "claude_code", "statusline")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as fh:
        return json.load(fh)


def test_compose_from_claude_input_and_store_figures():
    status = fixture("statusline-test-opus4.json")
    block = {"cost_usd": 3.2, "projection": {"remaining_minutes": 133}, "burn_rate": {"cost_per_hour": 1.5}}
    line = statusline_cmd.compose(status, {"today": 12.345, "block": block})
    assert line == "Opus 4.1 | session $0.09 | today $12.35 | block $3.20 (2h13m left) | $1.50/h | ctx 42%"
    status["rate_limits"] = {"five_hour": {"used_percentage": 91.2}, "seven_day": {"used_percentage": 10}}
    line = statusline_cmd.compose(status, {})
    assert line.endswith("ctx 42% | 5h 91% | 7d 10%")
    coloured = statusline_cmd.compose(status, {}, color=True)
    assert "\033[31m5h 91%\033[0m" in coloured


def test_a_cost_that_leaves_out_unpriced_models_reads_as_at_least():
    block = {"cost_usd": 3.2, "cost_incomplete": True, "projection": {"remaining_minutes": 61},
             "burn_rate": {"cost_per_hour": 1.5}}
    line = statusline_cmd.compose({}, {"today": 4.0, "today_incomplete": True, "block": block})
    assert line == "today \u2265$4.00 | block \u2265$3.20 (1h01m left) | \u2265$1.50/h"
    plain = statusline_cmd.compose({}, {"today": 4.0, "today_incomplete": True}, unicode=False)
    assert plain == "today >=$4.00"


def _store_with(short_dir, monkeypatch, *models_costs):
    """The daemon's store in short_dir holding a Claude Code message a minute ago for each (model, cost)."""
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", short_dir)
    writer = Writer(os.path.join(short_dir, "telemetry.db"))
    writer.start()
    now = time.time()
    writer.submit_events([UsageEvent(source="claude_code", provider_id="claude_code", account_id="claude_code",
                                     event_type="message_usage", occurred_at=now - 60, message_id=f"m{i}",
                                     model=model, input_tokens=10, cost_usd=cost, requests=1)
                          for i, (model, cost) in enumerate(models_costs)]).wait(10)
    writer.stop()


def test_statusline_marks_a_cost_without_a_price_from_the_store(isolated_home, short_dir, monkeypatch):
    _store_with(short_dir, monkeypatch, ("claude-sonnet-4-5", 2.5), ("glm-4.6", None))
    usage = statusline_cmd.usage_today(time.time())
    assert usage["today"] == 2.5 and usage["today_incomplete"] is True
    assert usage["block"]["cost_incomplete"] is True
    assert "today \u2265$2.50" in statusline_cmd.compose({}, usage)


def test_statusline_reads_the_store(isolated_home, short_dir, monkeypatch):
    _store_with(short_dir, monkeypatch, ("claude-sonnet-4-5", 2.5))
    out = subprocess.run([sys.executable, "-m", "openusage", "statusline"], input=json.dumps(
        fixture("statusline-test-sonnet41.json")), capture_output=True, text=True, timeout=30,
        env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert "today $2.50" in out.stdout and "block $2.50" in out.stdout


def test_bad_input_is_one_line_exit_2(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"{not json")))
    assert main(["statusline"]) == 2
    assert capsys.readouterr().err.strip() == "openusage: statusLine input is not JSON"


def test_install_and_uninstall_keep_other_keys(isolated_home, monkeypatch):
    settings = isolated_home / "claude.json"
    monkeypatch.setenv("CLAUDE_SETTINGS_FILE", str(settings))
    settings.write_text(json.dumps({"model": "opus", "hooks": {"Stop": []}}))
    assert main(["statusline", "--install"]) == 0
    data = json.loads(settings.read_text())
    assert data["model"] == "opus" and data["hooks"] == {"Stop": []}
    assert data["statusLine"]["command"].endswith("-m openusage statusline")
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    assert (isolated_home / "claude.json.bak").exists()
    before = settings.read_bytes()
    assert main(["statusline", "--install"]) == 0  # idempotent
    assert settings.read_bytes() == before
    assert main(["statusline", "--uninstall"]) == 0
    assert json.loads(settings.read_text()) == {"model": "opus", "hooks": {"Stop": []}}


def test_install_refuses_a_foreign_statusline_and_bad_json(isolated_home, monkeypatch, capsys):
    settings = isolated_home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"statusLine": {"type": "command", "command": "ccusage statusline"}}))
    assert main(["statusline", "--install"]) == 1
    assert "already has a statusLine" in capsys.readouterr().err
    assert main(["statusline", "--uninstall"]) == 0
    assert json.loads(settings.read_text())["statusLine"]["command"] == "ccusage statusline"
    settings.write_text("{broken")
    assert main(["statusline", "--install"]) == 1
    assert settings.read_text() == "{broken"


@pytest.mark.parametrize("name", ["statusline-test-opus4.json", "statusline-test-sonnet41.json"])
def test_real_fixtures_render(name):
    line = statusline_cmd.compose(fixture(name), {})
    assert line.startswith(fixture(name)["model"]["display_name"])


def test_install_honours_claude_config_dir_and_keeps_the_layout(isolated_home, monkeypatch):
    config_dir = isolated_home / "claude-work"
    config_dir.mkdir()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{config_dir},{isolated_home / 'other'}")
    settings = config_dir / "settings.json"
    settings.write_text('{\n    "model": "opus",\n    "costAlert": 2.50\n}\n')
    assert main(["statusline", "--install"]) == 0
    text = settings.read_text()
    assert text.startswith('{\n    "model": "opus",\n    "costAlert": 2.50,\n    "statusLine": {\n')
    assert not (isolated_home / ".claude" / "settings.json").exists()
    assert main(["statusline", "--uninstall"]) == 0
    assert settings.read_text() == '{\n    "model": "opus",\n    "costAlert": 2.50\n}\n'
