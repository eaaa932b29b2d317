"""openusage alerts list | test [RULE], with and without a daemon."""
import json
import os
import stat
import sys

from support import wait_for

from openusage import config
from openusage.cli.main import main
from openusage.daemon import client

RECORD = """#!{python}
import json, sys
with open({out!r}, "a") as fh:
    fh.write(json.dumps({{"argv": sys.argv[1:], "stdin": sys.stdin.read()}}) + "\\n")
sys.exit({code})
"""


def program(path, out, code=0):
    path.write_text(RECORD.format(python=sys.executable, out=str(out), code=code))
    path.chmod(stat.S_IRWXU)
    return str(path)


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write_settings(home, alerts):
    path = home / ".config" / "openusage" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auto_detect": False, "alerts": alerts}))
    return path


def test_list_without_a_daemon_shows_the_default_rule(isolated_home, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["alerts", "list"]) == 0
    out = capsys.readouterr().out
    assert "plan-90  rate_limit  * limit * used >= 90 %  armed  never" in out
    assert "desktop: on, no notifier found; command: none; cooldown 3600 s" in out
    assert main(["alerts", "list", "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in view["rules"]] == ["plan-90"] and view["alerts"] == []
    assert main(["alerts", "list", "plan-90"]) == 2
    assert "takes no rule" in capsys.readouterr().err


def test_test_sends_through_every_channel_and_says_what_happened(isolated_home, tmp_path, monkeypatch, capsys):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    program(bindir / "notify-send", tmp_path / "desktop")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    page = program(tmp_path / "page", tmp_path / "command", code=4)
    write_settings(isolated_home, {"rules": [{"id": "low", "when": "balance", "provider": "deepseek", "at_most": 2}],
                                   "notify": {"command": [page, "--urgent"]}})
    assert main(["alerts", "test"]) == 1  # the command failed
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("sent a test alert for rule low: test alert: balance 2.00 USD")
    assert "  desktop: ok (notify-send exited 0)" in out
    assert "  command: FAILED (page exited 4)" in out
    [desktop] = records(tmp_path / "desktop")
    assert desktop["argv"][:2] == ["--app-name=openusage", "openusage: openusage test balance"]
    assert desktop["argv"][2].startswith("test alert: balance 2.00 USD (alert at 2); resets ")
    [command] = records(tmp_path / "command")
    assert command["argv"] == ["--urgent"]
    alert = json.loads(command["stdin"])
    assert {"rule", "provider_id", "account_id", "limit", "value", "threshold", "resets_at", "fired_at"} <= set(alert)
    assert alert["rule"] == "low" and alert["test"] is True
    assert main(["alerts", "test", "nope"]) == 2
    assert "no alert rule 'nope'" in capsys.readouterr().err


def test_through_the_daemon(inprocess_daemon, isolated_home, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no notifier anywhere
    page = program(tmp_path / "page", tmp_path / "command")
    raw = {"auto_detect": False, "accounts": [{"id": "demo", "provider": "demo"}],
           "alerts": {"rules": [{"id": "demo-balance", "when": "balance", "provider": "demo", "at_most": 100}],
                      "notify": {"desktop": False, "command": [page]}}}
    d = inprocess_daemon(config.Settings(raw=raw, path="x", merged=config._merge(config.DEFAULTS, raw)))
    assert wait_for(lambda: len(records(tmp_path / "command")) == 1, 15)
    sock = ["--socket-path", d.socket_path]
    assert main(["alerts", "list", *sock]) == 0
    out = capsys.readouterr().out
    assert "demo-balance  balance  demo balance <= 100  firing (1)" in out
    assert "demo-balance  demo:demo  -      firing  52.5" in out and out.rstrip().endswith("cooldown 3600 s")
    assert main(["alerts", "test", "demo-balance", *sock]) == 0
    assert "  log: ok (written to the daemon log)" in capsys.readouterr().out
    assert len(records(tmp_path / "command")) == 2
    assert main(["alerts", "test", "nope", *sock]) == 2
    assert "no alert rule 'nope'" in capsys.readouterr().err
    assert client.call_json(d.socket_path, "GET", "/v1/alerts")["alerts"][0]["value"] == 52.5
