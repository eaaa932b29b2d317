"""Paths and stores that cannot be used: one line naming the path and what to do, exit 2 (a path to change)
or 1 (a store to upgrade), never a traceback; the daemon writes the same line to its log before it exits.

The real CLI as a subprocess, real files. Run as root, file modes stop nothing: the unwritable cases use
a path through a regular file, and the one case that needs a mode is skipped for root.
"""
import os
import sqlite3
import subprocess
import sys

import pytest

from openusage.console import CliError
from openusage.daemon import control as daemon_ctl


def run(env, *argv, timeout=60):
    proc = subprocess.run([sys.executable, "-m", "openusage", *argv], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)
    return proc.returncode, proc.stderr


def one_line(err):
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("openusage: ")
    return err.strip()


@pytest.fixture
def env(short_dir):
    state = os.path.join(short_dir, "state")
    os.makedirs(state, mode=0o700)
    environ = dict(os.environ, OPENUSAGE_STATE_DIR=state)
    environ["OU_TEST_DIR"] = short_dir
    return environ


def logged(env):
    with open(os.path.join(env["OPENUSAGE_STATE_DIR"], "daemon.log"), encoding="utf-8") as fh:
        return fh.read()


def daemon(env, sock):
    return run(env, "telemetry", "daemon", "run", "--socket-path", sock)


def test_a_state_dir_through_a_regular_file(env):
    blocker = os.path.join(env["OU_TEST_DIR"], "a-file")
    open(blocker, "w").close()
    env = dict(env, OPENUSAGE_STATE_DIR=os.path.join(blocker, "state"))
    sock = os.path.join(env["OU_TEST_DIR"], "d.sock")
    for argv in (("telemetry", "daemon", "run", "--socket-path", sock), ("--json", "--socket-path", sock),
                 ("daily", "--source", "direct")):
        code, err = run(env, *argv)
        line = one_line(err)
        assert code == 2, (argv, err)
        assert f"{blocker}/state" in line and f"{blocker} is not a directory" in line
        assert "OPENUSAGE_STATE_DIR" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any mode: the file-in-the-way case covers it")
def test_a_state_dir_that_cannot_be_created(env):
    parent = os.path.join(env["OU_TEST_DIR"], "locked")
    os.makedirs(parent, mode=0o500)
    env = dict(env, OPENUSAGE_STATE_DIR=os.path.join(parent, "state"))
    code, err = daemon(env, os.path.join(env["OU_TEST_DIR"], "d.sock"))
    assert code == 2 and "Permission denied" in one_line(err)


def test_export_into_a_missing_directory(env):
    target = os.path.join(env["OU_TEST_DIR"], "no", "such", "out.csv")
    code, err = run(env, "export", "--format", "csv", "--output", target)
    line = one_line(err)
    assert code == 2 and target in line and "does not exist" in line


@pytest.mark.parametrize("case", ["through-a-file", "too-long", "a-directory", "a-regular-file", "open-dir"])
def test_socket_paths_a_daemon_cannot_bind(env, case):
    base = env["OU_TEST_DIR"]
    if case == "through-a-file":
        open(os.path.join(base, "f"), "w").close()
        sock, expect = os.path.join(base, "f", "d.sock"), "which is not a directory"
    elif case == "too-long":
        sock, expect = os.path.join(base, "x" * 110 + ".sock"), "over the 107-byte limit of a Unix socket"
    elif case == "a-directory":
        sock, expect = os.path.join(base, "d.sock"), "is a directory"
        os.mkdir(sock)
    elif case == "a-regular-file":
        sock, expect = os.path.join(base, "d.sock"), "is a file, not a socket"
        with open(sock, "w") as fh:
            fh.write("keep me")
    else:
        os.mkdir(os.path.join(base, "shared"))
        os.chmod(os.path.join(base, "shared"), 0o777)
        sock, expect = os.path.join(base, "shared", "d.sock"), "is writable by others (mode 0777)"
    code, err = daemon(env, sock)
    line = one_line(err)
    assert code == 2 and sock[:60] in line and expect in line and "--socket-path" in line
    assert line in logged(env)  # the same line in the log
    code, err = run(env, "--json", "--socket-path", sock)  # the dashboard, which would start a daemon
    assert code == 2 and one_line(err) == line
    if case == "a-regular-file":
        with open(sock) as fh:
            assert fh.read() == "keep me"  # never deleted as a stale socket


def test_a_store_newer_than_this_version(env):
    db_file = os.path.join(env["OPENUSAGE_STATE_DIR"], "telemetry.db")
    conn = sqlite3.connect(db_file)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    sock = os.path.join(env["OU_TEST_DIR"], "d.sock")
    code, err = daemon(env, sock)
    line = one_line(err)
    assert code == 1 and db_file in line and "schema version 99" in line and "upgrade openusage" in line
    assert line in logged(env)
    code, err = run(env, "cache", "clear")
    assert code == 1 and one_line(err) == line
    assert not os.path.exists(sock)


def test_a_daemon_started_in_the_background_reports_why_it_exited(env, monkeypatch):
    """What the daemon logged before exiting reaches the command that started it (not 'see daemon.log')."""
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", env["OPENUSAGE_STATE_DIR"])
    db_file = os.path.join(env["OPENUSAGE_STATE_DIR"], "telemetry.db")
    conn = sqlite3.connect(db_file)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(CliError) as caught:
        daemon_ctl.ensure_running(os.path.join(env["OU_TEST_DIR"], "d.sock"), timeout=20)
    assert caught.value.code == 1
    assert "schema version 99" in str(caught.value) and db_file in str(caught.value)
