import json
import os
import shutil
import subprocess
import sys

import pytest
from support import wait_for

from openusage.cli.main import main
from openusage.daemon import client
from openusage.providers import plugins

PLUGINS = os.path.join(os.path.dirname(__file__), "..", "fixtures", "plugins")


def test_good_plugin_loads():
    report = plugins.load_file(os.path.join(PLUGINS, "good_plugin.py"), {"demo"})
    assert report.ok and [p.id for p in report.providers] == ["team_quota"]


def test_broken_plugin_reports_each_problem():
    report = plugins.load_file(os.path.join(PLUGINS, "broken_plugin.py"), set())
    assert not report.ok
    assert any("id 'Broken-ID' must be" in e for e in report.errors)
    assert any("does not implement fetch" in e for e in report.errors)


def test_syntax_and_import_errors_name_the_line(tmp_path):
    bad = tmp_path / "syn.py"
    bad.write_text("def x(:\n")
    assert plugins.load_file(str(bad)).errors[0].startswith("syntax error at line 1")
    boom = tmp_path / "boom.py"
    boom.write_text("import os\n\nraise RuntimeError('nope')\n")
    assert plugins.load_file(str(boom)).errors == ["import failed at line 3: RuntimeError: nope"]
    clash = tmp_path / "clash.py"
    clash.write_text("from openusage.providers.base import Provider\n"
                     "class D(Provider):\n    id='demo'\n    name='x'\n    source_modes=('api',)\n"
                     "    def fetch(self, a, c):\n        pass\n")
    assert "already used by a built-in" in plugins.load_file(str(clash), {"demo"}).errors[0]


def test_plugin_validate_command(capsys, tmp_path):
    assert main(["plugin", "validate", os.path.join(PLUGINS, "good_plugin.py")]) == 0
    assert "ok (team_quota: Team quota)" in capsys.readouterr().out
    assert main(["plugin", "validate", os.path.join(PLUGINS, "broken_plugin.py")]) == 1
    out = capsys.readouterr().out
    assert "Broken: id 'Broken-ID'" in out and "does not implement fetch" in out
    assert main(["plugin", "list", "--plugin-dir", PLUGINS, "--json"]) == 1  # one of them is broken
    listed = json.loads(capsys.readouterr().out)["plugins"]
    assert {os.path.basename(p["path"]): p["ok"] for p in listed} == {
        "broken_plugin.py": False, "good_plugin.py": True, "slow_plugin.py": True}
    assert main(["plugin", "validate", str(tmp_path / "missing.py")]) == 2
    assert main(["plugin", "list", "--plugin-dir", PLUGINS]) == 1
    assert "broken_plugin.py" in capsys.readouterr().out
    good = tmp_path / "good"
    good.mkdir()
    (good / "good_plugin.py").write_text(open(os.path.join(PLUGINS, "good_plugin.py")).read())
    assert main(["plugin", "list", "--plugin-dir", str(good)]) == 0


def test_plugins_end_to_end_through_the_daemon(daemon_factory, short_dir, isolated_home):
    plugin_dir = os.path.join(short_dir, "plugins")
    shutil.copytree(PLUGINS, plugin_dir)
    cfg = isolated_home / ".config" / "openusage" / "settings.json"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(json.dumps({"auto_detect": False, "accounts": [
        {"id": "team", "provider": "team_quota"}, {"id": "slow", "provider": "slow_plugin"},
        {"id": "broken", "provider": "broken"}]}))
    d = daemon_factory(["--plugin-dir", plugin_dir]).start()

    def snaps():
        return client.call_json(d.socket_path, "POST", "/v1/read-model", {"window": "1d"})["snapshots"]

    assert wait_for(lambda: snaps().get("slow", {}).get("status") == "ERR", 10)
    got = snaps()
    assert got["team"]["status"] == "OK"
    assert got["team"]["rate_limits"]["monthly"] == {"limit": 1000, "used": 250}
    assert "timed out" in got["slow"]["message"]
    assert got["broken"]["status"] == "ERR" and "unknown provider" in got["broken"]["message"]
    assert client.call_json(d.socket_path, "GET", "/healthz")["status"] == "ok"
    assert sys.modules  # the test process itself never imported the plugins


def test_a_stuck_plugin_does_not_hold_the_daemon_at_shutdown(daemon_factory, short_dir, isolated_home):
    import signal
    import time

    plugin_dir = os.path.join(short_dir, "plugins")
    shutil.copytree(PLUGINS, plugin_dir)
    cfg = isolated_home / ".config" / "openusage" / "settings.json"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(json.dumps({"auto_detect": False, "accounts": [{"id": "slow", "provider": "slow_plugin"}]}))
    d = daemon_factory(["--plugin-dir", plugin_dir]).start()
    assert wait_for(lambda: client.call_json(d.socket_path, "GET", "/healthz")["providers"]["slow_plugin:slow"]
                    .get("status") == "ERR", 10)
    started = time.monotonic()
    assert d.stop(signal.SIGTERM, timeout=15) == 0
    assert time.monotonic() - started < 10


def test_the_contrib_template_is_a_valid_plugin():
    template = os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "plugins", "example_provider.py")
    report = plugins.load_file(template, {"demo"})
    assert report.ok, report.errors


# A plugin that leaves a mark when anything imports it, so a test sees code ran that must not.
MARKING = ("import pathlib\n"
           "pathlib.Path({mark!r}).write_text('imported')\n"
           "from openusage.providers.base import FetchResult, Provider\n"
           "class Marked(Provider):\n    id = 'marked'\n    name = 'Marked'\n    source_modes = ('api',)\n"
           "    def fetch(self, account, ctx):\n        raise NotImplementedError\n")


def _marking_plugin(directory, mark):
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, "marked.py")
    with open(path, "w") as fh:
        fh.write(MARKING.format(mark=str(mark)))
    os.chmod(path, 0o600)
    return path


def _openusage(args, cwd):
    return subprocess.run([sys.executable, "-m", "openusage", *args], cwd=str(cwd), capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_plugins_in_the_current_directory_never_run(tmp_path, daemon_factory):
    repo = tmp_path / "cloned-repo"
    mark = tmp_path / "ran"
    _marking_plugin(str(repo / "plugins"), mark)
    for command in (["list"], ["detect"], ["usage"], ["status"], ["daily"], ["plugin", "list"]):
        done = _openusage(command, repo)
        assert "Traceback" not in done.stderr, (command, done.stderr)
        assert not mark.exists(), f"openusage {' '.join(command)} ran ./plugins/marked.py"
    d = daemon_factory(cwd=str(repo)).start()
    assert wait_for(lambda: client.call_json(d.socket_path, "GET", "/healthz")["status"] == "ok", 10)
    assert not mark.exists()
    assert os.readlink(f"/proc/{d.proc.pid}/cwd") == os.path.realpath(d.state_dir)
    assert d.stop() == 0


def test_a_plugin_dir_others_can_write_is_refused(tmp_path):
    plugin_dir = tmp_path / "shared"
    mark = tmp_path / "ran"
    _marking_plugin(str(plugin_dir), mark)
    os.chmod(plugin_dir, 0o777)
    done = _openusage(["list", "--plugin-dir", str(plugin_dir)], tmp_path)
    assert done.returncode == 0 and not mark.exists()
    reason = f"not loading plugins from {plugin_dir}: the directory is writable by others (mode 0777): chmod go-w it"
    assert done.stderr.strip() == reason
    done = _openusage(["plugin", "validate", "--plugin-dir", str(plugin_dir)], tmp_path)
    assert done.returncode == 1 and reason in done.stderr and not mark.exists()
    os.chmod(plugin_dir, 0o700)
    assert _openusage(["list", "--plugin-dir", str(plugin_dir)], tmp_path).stderr == ""
    assert mark.exists()  # the same directory, now private, loads


def test_a_plugin_dir_or_file_of_another_user_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    plugin_dir = tmp_path / "theirs"
    mark = tmp_path / "ran"
    path = _marking_plugin(str(plugin_dir), mark)
    os.chown(plugin_dir, 65534, -1)
    done = _openusage(["plugin", "list", "--plugin-dir", str(plugin_dir)], tmp_path)
    assert f"not loading plugins from {plugin_dir}: the directory is owned by uid 65534, not by you (uid 0)" \
        in done.stderr and not mark.exists()
    os.chown(plugin_dir, 0, -1)
    os.chown(path, 65534, -1)
    report = plugins.load_file(path)
    assert report.errors == ["not loaded: the file is owned by uid 65534, not by you (uid 0)"] and not mark.exists()
    os.chown(path, 0, -1)
    os.chmod(path, 0o620)
    assert plugins.load_file(path).errors == [
        "not loaded: the file is writable by others (mode 0620): chmod go-w it"] and not mark.exists()
    os.chmod(path, 0o644)
    assert plugins.load_file(path).ok and mark.exists()


def test_a_plugin_path_that_is_not_a_regular_file_is_refused(tmp_path):
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo, 0o600)
    assert plugins.load_file(str(fifo)).errors == ["not loaded: not a regular file"]
