"""Claude Code's plan limits: kept by the statusline command, shown on the Claude Code snapshot."""
import json
import os
import stat
import subprocess
import sys
import time

from openusage.agents import claude_code as cc
from openusage.agents import claude_limits
from openusage.providers.base import AccountConfig, make_context

NOW = 1_795_000_000.0
INPUT = {"model": {"id": "claude-opus-4-1", "display_name": "Opus"},
         "rate_limits": {"five_hour": {"used_percentage": 23.5, "resets_at": NOW + 3600},
                         "seven_day": {"used_percentage": 41.2, "resets_at": NOW + 5 * 86400}}}


def test_reading_keeps_only_usable_windows():
    assert claude_limits.reading(None) == {}
    assert claude_limits.reading({"five_hour": {"used_percentage": "high"}, "other": {"used_percentage": 1}}) == {}
    assert claude_limits.reading({"seven_day": {"used_percentage": 7, "resets_at": True}}) == {
        "seven_day": {"used_percent": 7.0}}


def test_remember_writes_privately_and_only_when_something_changed(tmp_path):
    target = str(tmp_path / "state" / claude_limits.FILE_NAME)
    assert claude_limits.remember(INPUT["rate_limits"], NOW, target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert not claude_limits.remember(INPUT["rate_limits"], NOW + 5, target)  # same reading: no write
    assert claude_limits.remember(INPUT["rate_limits"], NOW + 61, target)  # its time moves now and then
    changed = {"five_hour": {"used_percentage": 24.0, "resets_at": NOW + 3600}}
    assert claude_limits.remember(changed, NOW + 62, target)
    assert not claude_limits.remember({}, NOW + 63, target)  # nothing usable: the last reading stays
    got = claude_limits.limits(NOW + 70, target)
    assert got["rate_limits"]["5h"].used_percent == 24.0 and "weekly" not in got["rate_limits"]


def test_a_window_past_its_reset_starts_again_at_zero(tmp_path):
    target = str(tmp_path / claude_limits.FILE_NAME)
    claude_limits.remember(INPUT["rate_limits"], NOW, target)
    got = claude_limits.limits(NOW + 7200, target)
    assert got["rate_limits"]["5h"].used_percent == 0.0 and got["rate_limits"]["5h"].resets_at is None
    assert got["rate_limits"]["weekly"].used_percent == 41.2
    assert got["observed_at"] == "2026-11-18T11:06:40.000Z"
    (tmp_path / claude_limits.FILE_NAME).write_text("{broken")
    assert claude_limits.limits(NOW, target) == {}


def test_statusline_input_reaches_the_claude_code_snapshot(isolated_home, tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", str(state))
    now = time.time()
    status = json.loads(json.dumps(INPUT).replace(str(NOW + 3600), str(now + 3600)).replace(
        str(NOW + 5 * 86400), str(now + 5 * 86400)))
    out = subprocess.run([sys.executable, "-m", "openusage", "statusline"], input=json.dumps(status),
                         capture_output=True, text=True, timeout=30, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("5h 24% | 7d 41%")
    (isolated_home / ".claude" / "projects").mkdir(parents=True)
    provider, account = cc.ClaudeCodeProvider(), AccountConfig(id="claude_code", provider="claude_code")
    result = provider.fetch(account, make_context(provider, account, {}, home=str(isolated_home), environ={}))
    list(result.events)
    limits = result.snapshot.rate_limits
    assert (limits["5h"].used_percent, limits["weekly"].used_percent) == (23.5, 41.2)
    assert limits["5h"].resets_at is not None and result.snapshot.extras["limits_observed_at"]
