import os
import stat
import sys

import pytest

from openusage.cli.main import main
from openusage.daemon import service


@pytest.fixture
def fake_systemctl(tmp_path, monkeypatch):
    """A systemctl on PATH that records its calls and answers like a user session."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.log"
    script = bindir / "systemctl"
    script.write_text(f"#!{sys.executable}\nimport sys\nopen({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
                      "if 'is-active' in sys.argv: print('active')\n"
                      "if 'is-enabled' in sys.argv: print('enabled')\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(service.platform, "system", lambda: "Linux")
    return log


def test_install_writes_unit_and_private_env_file(fake_systemctl, isolated_home, monkeypatch, capsys):
    monkeypatch.setenv("OPENUSAGE_HUB_TOKEN", "hubtoken-1234567890")
    assert main(["telemetry", "daemon", "install"]) == 0
    unit = isolated_home / ".config" / "systemd" / "user" / "openusage-telemetry.service"
    text = unit.read_text()
    assert f"ExecStart={sys.executable} -m openusage telemetry daemon run" in text
    assert "Restart=on-failure" in text
    env_file = isolated_home / ".config" / "openusage" / "service.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert 'OPENUSAGE_HUB_TOKEN="hubtoken-1234567890"' in env_file.read_text()
    assert not (isolated_home / ".config" / "openusage" / "settings.json").exists()
    calls = fake_systemctl.read_text().splitlines()
    assert "--user daemon-reload" in calls and "--user enable --now openusage-telemetry.service" in calls
    assert "hubtoken-1234567890" not in capsys.readouterr().out
    assert service.state() == {"manager": "systemd", "installed": "true", "enabled": "enabled", "active": "active"}
    assert main(["telemetry", "daemon", "uninstall"]) == 0
    assert not unit.exists() and not env_file.exists()
    assert "--user disable --now openusage-telemetry.service" in fake_systemctl.read_text()


def test_dry_run_masks_keys_and_writes_nothing(isolated_home, monkeypatch, capsys):
    monkeypatch.setenv("OPENUSAGE_HUB_TOKEN", "hubtoken-1234567890")
    monkeypatch.setattr(service.platform, "system", lambda: "Linux")
    assert main(["telemetry", "daemon", "install", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would write" in out and "would run: systemctl --user enable --now" in out
    assert "hubtoken-1234567890" not in out and "OPENUSAGE_HUB_TOKEN=[masked]" in out
    assert not (isolated_home / ".config" / "systemd").exists()


def test_without_systemd_it_says_how_to_run_by_hand(isolated_home, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no systemctl
    monkeypatch.setattr(service.platform, "system", lambda: "Linux")
    assert main(["telemetry", "daemon", "install"]) == 1
    err = capsys.readouterr().err
    assert "no systemd user session" in err and "telemetry daemon run" in err


def test_launchd_plan(isolated_home, monkeypatch):
    monkeypatch.setenv("OPENUSAGE_HUB_TOKEN", "tok<&>")
    plan = service.plan_install([], kind="launchd")
    (path, content), = plan.files.items()
    assert path.endswith("Library/LaunchAgents/dev.openusage.telemetry.plist")
    assert "<string>-m</string>" in content and "<key>KeepAlive</key>" in content
    assert "tok&lt;&amp;&gt;" in content
    assert plan.secret_files == [path]
    assert plan.commands[-1] == ["launchctl", "load", "-w", path]


@pytest.mark.parametrize("system", ["Linux", "Darwin"])
def test_dry_run_masks_secrets_but_not_paths(isolated_home, monkeypatch, capsys, system):
    monkeypatch.setenv("OPENUSAGE_HUB_TOKEN", "hubtoken-1234567890")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", "/home/u/claude-work")
    monkeypatch.setenv("CODEX_HOME", "/home/u/.codex-alt")
    monkeypatch.setattr(service.platform, "system", lambda: system)
    assert main(["telemetry", "daemon", "install", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "hubtoken-1234567890" not in out
    assert "/home/u/claude-work" in out and "/home/u/.codex-alt" in out
    assert "[masked]" in out and "hubt" not in out
