"""Delivery channels with real programs: found by absolute path, argv without a shell, failures reported."""
import json
import os
import stat
import sys

from openusage.alerts import deliver
from openusage.alerts.rules import Notify

ALERT = {"rule": "plan-80", "when": "rate_limit", "provider_id": "zai", "account_id": "work",
         "display_name": "Z.AI", "limit": "5h", "value": 85.0, "threshold": 80.0,
         "resets_at": "2026-12-03T18:00:00.000Z", "fired_at": "2026-12-03T13:00:00.000Z",
         "message": "5h at 85 % used (alert at 80 %)", "internal": "not for the command"}


def program(path, body):
    path.write_text(f"#!{sys.executable}\n{body}\n")
    path.chmod(stat.S_IRWXU)
    return str(path)


def test_title_and_body_name_account_limit_value_and_reset():
    title, body = deliver.title_and_body(ALERT)
    assert title == "openusage: Z.AI (work) 5h"
    assert body.startswith("5h at 85 % used (alert at 80 %); resets ") and body.endswith("(rule plan-80)")
    same = dict(ALERT, account_id="zai", display_name=None, limit=None, resets_at=None)
    assert deliver.title_and_body(same) == ("openusage: zai rate_limit",
                                            "5h at 85 % used (alert at 80 %) (rule plan-80)")


def test_osascript_gets_title_and_body_as_arguments_never_as_script():
    argv = deliver.desktop_argv(["/usr/bin/osascript"], 'a "quoted" title', "body")
    assert argv == ["/usr/bin/osascript", "-e", "on run argv", "-e",
                    "display notification (item 2 of argv) with title (item 1 of argv)", "-e", "end run",
                    'a "quoted" title', "body"]


def test_no_notifier_is_a_reported_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    outcome = deliver.send_desktop(ALERT)
    assert not outcome.ok and "no notifier found" in outcome.detail


def test_command_gets_the_alert_fields_on_stdin(tmp_path):
    out = tmp_path / "got.json"
    page = program(tmp_path / "page", f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())")
    outcome = deliver.run_command(ALERT, [page], 5)
    assert outcome.ok and outcome.detail == "page exited 0"
    got = json.loads(out.read_text())
    assert got == {k: ALERT[k] for k in deliver.ALERT_FIELDS + ("when", "message", "display_name")}


def test_command_timeout_missing_program_and_exit_status(tmp_path):
    slow = program(tmp_path / "slow", "import time; time.sleep(30)")
    assert deliver.run_command(ALERT, [slow], 0.5).detail == "slow timed out after 0.5s"
    missing = deliver.run_command(ALERT, [str(tmp_path / "nope")], 5)
    assert not missing.ok and missing.detail.startswith(f"cannot run {tmp_path / 'nope'}")
    loud = program(tmp_path / "loud",
                   "import sys; sys.stderr.write('key sk-abcdefghijklmnop rejected\\n'); sys.exit(2)")
    failed = deliver.run_command(ALERT, [loud], 5)
    assert not failed.ok and failed.detail == "loud exited 2: key [masked] rejected"  # masked, nothing of it left


def test_every_channel_runs_when_one_fails(tmp_path, monkeypatch, caplog):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    argv_file = tmp_path / "argv"
    program(bindir / "notify-send", f"import sys, json; open({str(argv_file)!r}, 'w').write(json.dumps(sys.argv))")
    monkeypatch.setenv("PATH", str(bindir))
    failing = program(tmp_path / "fail", "import sys; sys.exit(9)")
    outcomes = deliver.deliver(ALERT, Notify(desktop=True, command=[failing], command_timeout=5))
    assert [(o.channel, o.ok) for o in outcomes] == [("log", True), ("desktop", True), ("command", False)]
    argv = json.loads(argv_file.read_text())
    assert argv[0] == os.path.join(str(bindir), "notify-send") and argv[1] == "--app-name=openusage"
    assert "alert plan-80: command failed: fail exited 9" in caplog.text
