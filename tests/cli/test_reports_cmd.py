"""openusage daily|weekly|monthly|session|blocks and export as a newcomer meets them: 80 columns,
ccusage's date forms, provider names, misplaced options, --config with a daemon, CSV that is clean."""
import json
import os
import sys
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from ptyrun import run_on_pty

from openusage.cli import reports_cmd
from openusage.cli.main import main
from openusage.console import CliError
from openusage.reports.export import to_csv

MODELS = ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001"]


def write_transcripts(home, days=("2026-11-20", "2026-11-21", "2026-11-22"), sessions=3):
    """Claude Code transcripts: long project names, three models a day, billions of cached tokens."""
    n = 0
    for s in range(sessions):
        path = os.path.join(str(home), ".claude", "projects", f"-home-u-a-rather-long-project-name-{s}",
                            f"5f0e8a7c-1b2d-4e8f-9a6b-0c3d2e1f4a{s:02d}.jsonl")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            for day in days:
                for model in MODELS:
                    n += 1
                    fh.write(json.dumps({
                        "type": "assistant", "sessionId": f"5f0e8a7c-1b2d-4e8f-9a6b-0c3d2e1f4a{s:02d}",
                        "cwd": f"/home/u/a-rather-long-project-name-{s}", "timestamp": f"{day}T1{s}:00:00.000Z",
                        "requestId": f"r{n}", "message": {
                            "id": f"m{n}", "model": model, "role": "assistant",
                            "content": [{"type": "text", "text": "hi"}],
                            "usage": {"input_tokens": 123456, "output_tokens": 654321,
                                      "cache_read_input_tokens": 98765432, "cache_creation_input_tokens": 1234567}}})
                             + "\n")


def cli_env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))


@pytest.mark.parametrize("argv", [["daily"], ["weekly", "--breakdown"], ["monthly"], ["session"],
                                  ["session", "--breakdown"], ["blocks", "--breakdown"], ["daily", "--breakdown"]])
def test_every_report_fits_an_80_column_terminal_with_a_note(isolated_home, argv):
    write_transcripts(isolated_home)
    code, out = run_on_pty([sys.executable, "-m", "openusage", *argv, "--source", "direct"], 80, 24, cli_env())
    assert code == 0, out
    lines = out.rstrip("\n").splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(line for line in lines if len(line) > 80)
    assert lines[-1].endswith("--wide shows all)") or lines[-1].endswith("--wide shows all")
    assert "TOTAL" in out


def test_wide_and_piped_output_keep_every_column(isolated_home, capsys):
    write_transcripts(isolated_home)
    code, out = run_on_pty([sys.executable, "-m", "openusage", "session", "--wide", "--source", "direct"],
                           80, 24, cli_env())
    assert code == 0 and "LAST ACTIVE" in out and "CACHE READ" in out and "--wide shows all" not in out
    assert main(["session", "--source", "direct"]) == 0  # stdout is not a terminal here
    piped = capsys.readouterr().out
    assert "LAST ACTIVE" in piped and "DURATION" in piped and "shows all" not in piped


def day_args(**kw):
    base = dict(since=None, until=None, report="daily", mode="auto", project=None, provider=None,
                week_start="monday", last=None)
    base.update(kw)
    return base


NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("text, expected", [
    ("2026-11-15", date(2026, 11, 15)), ("20261115", date(2026, 11, 15)), ("today", date(2026, 11, 23)),
    ("Yesterday", date(2026, 11, 22)), ("7d", date(2026, 11, 17)), ("1d", date(2026, 11, 23))])
def test_days_as_ccusage_takes_them(text, expected):
    assert reports_cmd.parse_day(text, timezone.utc, "--since", NOW) == expected


def test_relative_days_are_counted_in_the_report_zone():
    kathmandu = reports_cmd.parse_zone("+05:45")  # 03:00 UTC is 08:45 there: the same day
    assert reports_cmd.parse_day("today", kathmandu, "--since", NOW) == date(2026, 11, 23)
    honolulu = reports_cmd.parse_zone("-10:00")  # 17:00 the day before
    assert reports_cmd.parse_day("today", honolulu, "--since", NOW) == date(2026, 11, 22)
    assert reports_cmd.day_start(date(2026, 11, 23), kathmandu) == datetime(
        2026, 11, 22, 18, 15, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("name, offset", [("utc", 0), ("UTC", 0), ("+05:45", 345), ("-0300", -180),
                                          ("UTC+1", 60), ("Asia/Kathmandu", 345)])
def test_zones_by_name_and_fixed_offset(name, offset):
    tz = reports_cmd.parse_zone(name)
    assert datetime(2026, 11, 23, tzinfo=tz).utcoffset() == timedelta(minutes=offset)


@pytest.mark.parametrize("argv, message", [
    (["daily", "--since", "2026-13-01"], "--since: expected YYYY-MM-DD, YYYYMMDD, today, yesterday or Nd"),
    (["daily", "--until", "0d"], "--until: '0d': Nd needs N of at least 1"),
    (["daily", "--timezone", "+15:00"], "out of range"),
    (["daily", "--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    (["daily", "--provider", "nosuch"], "unknown provider: nosuch (see 'openusage list')"),
    (["usage", "--provider", "nosuch"], "unknown provider or account: nosuch"),
    (["--window", "7d", "daily"], "--window before a command sets the dashboard's window"),
    (["--window", "7d", "usage"], "take it after their name"),
])
def test_bad_report_arguments_exit_2_with_one_line(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_dates_and_zones_select_the_days(isolated_home, capsys):
    write_transcripts(isolated_home, sessions=1)
    assert main(["daily", "--json", "--source", "direct", "--since", "20261121", "--until", "2026-11-21",
                 "--timezone", "utc"]) == 0
    assert [d["date"] for d in json.loads(capsys.readouterr().out)["daily"]] == ["2026-11-21"]
    # 10:00 UTC is 15:45 in +05:45 and 00:00 the next day in +14:00
    assert main(["daily", "--json", "--source", "direct", "--timezone", "+14:00"]) == 0
    assert [d["date"] for d in json.loads(capsys.readouterr().out)["daily"]] == [
        "2026-11-21", "2026-11-22", "2026-11-23"]
    assert main(["daily", "--json", "--source", "direct", "--since", "today"]) == 0
    assert json.loads(capsys.readouterr().out)["daily"] == []  # nothing logged today (2026 Nov is long past)


def test_the_hook_spelling_of_a_provider_resolves(isolated_home, capsys):
    write_transcripts(isolated_home, sessions=1)
    assert main(["daily", "--json", "--source", "direct", "--provider", "claude-code"]) == 0
    assert len(json.loads(capsys.readouterr().out)["daily"]) == 3


def test_a_daemon_with_no_data_suggests_a_direct_scan(isolated_home, daemon_factory, capsys):
    write_transcripts(isolated_home, sessions=1)
    d = daemon_factory().start()
    assert main(["daily", "--socket-path", d.socket_path, "--until", "2020-01-01"]) == 0
    captured = capsys.readouterr()
    assert "no usage found" in captured.out
    assert "nothing for this report from the daemon; try --source direct" in captured.err


def test_config_is_honoured_or_refused_when_a_daemon_answers(isolated_home, daemon_factory, tmp_path, capsys):
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"auto_detect": False}))
    d = daemon_factory().start()
    for argv in (["daily"], ["status"], ["export", "--format", "json"]):
        assert main([*argv, "--config", str(mine), "--socket-path", d.socket_path]) == 2
        err = capsys.readouterr().err
        assert f"--config {mine}: the daemon on {d.socket_path} runs with" in err
        assert "openusage telemetry daemon stop" in err
    assert main(["daily", "--config", str(mine), "--socket-path", d.socket_path]) == 2
    assert "or use --source direct" in capsys.readouterr().err
    assert main(["daily", "--config", str(mine), "--source", "direct", "--socket-path", d.socket_path]) == 0
    d.stop()
    other = daemon_factory(["--config", str(mine)])
    other.socket_path = d.socket_path
    other.start()
    assert main(["daily", "--config", str(mine), "--socket-path", d.socket_path]) == 0  # the same file: honoured


def test_a_missing_config_file_is_an_error(tmp_path, capsys):
    missing = str(tmp_path / "nope.json")
    assert main(["daily", "--config", missing, "--source", "direct"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["config", "validate", "--config", missing]) == 2
    assert "nope.json: no such file" in capsys.readouterr().err


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped():
    model = {"snapshots": {"x": {"provider_id": "custom", "account_id": "=HYPERLINK(\"http://x\")",
                                 "display_name": "@SUM(A1)", "status": "ERR", "message": "-2+3",
                                 "currency": "USD", "spend": {"total": -1.5},
                                 "daily": [{"date": "2026-11-21", "cost": -1.5, "tokens": 10}]}}}
    daily = to_csv(model).splitlines()[1]
    assert daily.startswith("2026-11-21,custom,\"'=HYPERLINK(\"\"http://x\"\")\",USD,-1.5,10,")
    snap = to_csv(model, "snapshots").splitlines()[1]
    assert ",'@SUM(A1),ERR,'-2+3,USD,-1.5," in snap  # text escaped, the number left a number
    assert "\t" not in to_csv({"snapshots": {"t": {"provider_id": "p", "account_id": "\tcmd", "daily": [
        {"date": "d"}]}}}).splitlines()[1].split(",")[2][:1]


def test_unknown_dates_raise_cli_errors():
    with pytest.raises(CliError):
        reports_cmd.parse_day("next week", None, "--since", time.time())


@pytest.mark.parametrize("argv, message", [
    (["--socket-path", "/tmp/x.sock", "pricing", "gpt-5"], "--socket-path: not used by 'openusage pricing'"),
    (["pricing", "gpt-5", "--config", "x.json"], "--config: not used by 'openusage pricing'"),
    (["--plugin-dir", "/p", "--no-color", "version"], "--plugin-dir and --no-color: not used by 'openusage version'"),
    (["--json", "statusline"], "--json: not used by 'openusage statusline'"),
])
def test_a_global_flag_a_command_ignores_is_an_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_the_global_flags_a_command_uses_still_work(capsys):
    assert main(["--json", "version"]) == 0 and json.loads(capsys.readouterr().out)["openusage"]
    assert main(["pricing", "gpt-5", "--json"]) == 0
