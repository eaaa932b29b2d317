"""The real program in tmux against a real daemon: keys with send-keys, the screen with capture-pane."""
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest
from support import wait_for

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One private tmux server (its own -L socket), one session, one pane."""

    def __init__(self):
        self.name = "ou-" + uuid.uuid4().hex[:10]

    def cmd(self, *args, check=True):
        out = subprocess.run(["tmux", "-L", self.name, "-f", "/dev/null", *args], capture_output=True, text=True,
                             timeout=10)
        if check and out.returncode != 0:
            raise AssertionError(f"tmux {args[0]}: {out.stderr.strip()}")
        return out.stdout

    def start(self, command, width=100, height=30):
        self.cmd("-u", "new-session", "-d", "-x", str(width), "-y", str(height), command)

    def screen(self):
        return self.cmd("capture-pane", "-p", check=False)

    def keys(self, *keys):
        self.cmd("send-keys", *keys)

    def wait(self, *texts, timeout=10.0, absent=()):
        """Poll the pane until every text shows (and none of `absent`); the screen."""
        seen = {}

        def ready():
            seen["screen"] = self.screen()
            return all(t in seen["screen"] for t in texts) and not any(t in seen["screen"] for t in absent)

        assert wait_for(ready, timeout, interval=0.05), f"waited for {texts}; the pane shows:\n{seen.get('screen')}"
        return seen["screen"]

    def press(self, key, *texts, timeout=10.0, absent=()):
        self.keys(key)
        return self.wait(*texts, timeout=timeout, absent=absent)

    def info(self, fmt):
        return self.cmd("display-message", "-p", fmt).strip()

    def kill(self):
        self.cmd("kill-server", check=False)


def shell(env, *argv, tail="echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-*icanon'; sleep 60"):
    """A pane command: the program with its environment, then its exit code and the tty mode it left."""
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f"env {assigns} {' '.join(shlex.quote(a) for a in argv)}; {tail}"


@pytest.fixture
def tmux():
    t = Tmux()
    yield t
    t.kill()


@pytest.fixture
def demo_state(short_dir):
    """OPENUSAGE_STATE_DIR for `openusage demo`; the demo daemon is stopped afterwards."""
    state = os.path.join(short_dir, "s")
    yield state
    env = dict(os.environ, OPENUSAGE_STATE_DIR=state)
    subprocess.run([sys.executable, "-m", "openusage", "demo", "--stop"], env=env, capture_output=True, timeout=60)
    assert not os.path.exists(os.path.join(state, "demo", "telemetry.sock"))


def ui_env(**extra):
    env = {"LANG": "C.UTF-8", "TERM": "tmux-256color", "HOME": os.environ["HOME"],
           "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"], "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"]}
    env.update(extra)
    return env


def pane_program_pid(tmux):
    """The pid of the program the pane's shell runs."""
    shell_pid = tmux.info("#{pane_pid}")
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", shell_pid], capture_output=True, text=True, timeout=10)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 1, out.stdout
    return pids[0]


def test_demo_dashboard_keys(tmux, demo_state):
    tmux.start(shell(ui_env(OPENUSAGE_STATE_DIR=demo_state), sys.executable, "-m", "openusage", "demo"))
    screen = tmux.wait("Demo (sample data)", "daemon ok", timeout=30)
    assert "started by openusage" in screen  # it started the daemon, and says so
    lines = screen.splitlines()
    assert lines[0].startswith(" openusage") and "1 account" in lines[0]
    # The demo's 5-hour window follows the clock (WARN from 80 % used): any status word will do.
    assert "┌─ ▶ Demo (sample data)" in screen and "5h" in screen and "weekly" in screen
    assert any(f" {word} " in screen for word in ("OK", "WARN", "LIMIT"))
    assert "window 30d" in lines[-1]

    tmux.press("w", "window all")
    tmux.press("Tab", "NAME", "STATUS", "SPEND")
    tmux.press("Tab", "┌─ ▶ Demo")
    tmux.press("Enter", "Detail: Demo (sample data)", "spend (window)")
    tmux.press("]", "MODEL", "demo-large")
    tmux.press("?", "Keys", "window 1d>3d>7d>30d>all")
    tmux.press("q", "MODEL", absent=("Keys",))  # q leaves the help for the screen it came from
    tmux.press("Escape", "┌─ ▶ Demo", absent=("MODEL",))
    screen = tmux.press("q", "EXIT=0", "icanon", absent=("┌─",))
    assert "icanon" in screen.split() and "-icanon" not in screen.split()  # cooked mode again
    assert tmux.info("#{alternate_on} #{cursor_flag}") == "0 1"  # main screen, cursor shown


def test_sigterm_restores_the_terminal(tmux, demo_state):
    tmux.start(shell(ui_env(OPENUSAGE_STATE_DIR=demo_state), sys.executable, "-m", "openusage", "demo"))
    tmux.wait("Demo (sample data)", "daemon ok", timeout=30)
    assert tmux.info("#{alternate_on} #{cursor_flag}") == "1 0"
    os.kill(pane_program_pid(tmux), signal.SIGTERM)
    screen = tmux.wait(f"EXIT={128 + signal.SIGTERM}", "icanon")
    assert "Demo (sample data)" not in screen and "Traceback" not in screen
    assert "icanon" in screen.split()
    assert tmux.info("#{alternate_on} #{cursor_flag}") == "0 1"


def demo_one_settings(home):
    """One demo account polled every second, and no alert rules: the demo's 5-hour window follows the
    clock, and an alert would take the status line these tests read."""
    settings = home / ".config" / "openusage" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"auto_detect": False, "ui": {"refresh_interval_seconds": 1},
                                    "alerts": {"rules": []},
                                    "accounts": [{"id": "demo", "provider": "demo", "display_name": "Demo one"}]}))


def test_unreachable_daemon_keeps_tiles_and_reconnects(tmux, daemon_factory, isolated_home, short_dir):
    demo_one_settings(isolated_home)
    first = daemon_factory().start()
    env = ui_env(OPENUSAGE_STATE_DIR=os.environ["OPENUSAGE_STATE_DIR"])
    tmux.start(shell(env, sys.executable, "-m", "openusage", "--socket-path", first.socket_path))
    tmux.wait("Demo one", "daemon ok", "$", timeout=30)  # polled: spend is in
    first.stop()
    screen = tmux.wait("STALE", "no daemon answers", "s starts the daemon", timeout=10)
    assert "Demo one" in screen and "$" in screen  # the last data stays
    daemon_factory().start()
    screen = tmux.wait("daemon ok", absent=("STALE",), timeout=15)
    assert "Demo one" in screen and "started by openusage" not in screen and "s starts" not in screen
    tmux.press("q", "EXIT=0")


def test_on_stale_s_starts_the_daemon_and_the_screen_says_so(tmux, daemon_factory, isolated_home, short_dir):
    from openusage.daemon import control as daemon_ctl

    demo_one_settings(isolated_home)
    first = daemon_factory().start()
    env = ui_env(OPENUSAGE_STATE_DIR=os.environ["OPENUSAGE_STATE_DIR"])
    tmux.start(shell(env, sys.executable, "-m", "openusage", "--socket-path", first.socket_path), 80, 24)
    try:
        tmux.wait("Demo one", "daemon ok", "$", timeout=30)
        first.stop()
        tmux.wait("STALE", "s starts the daemon", timeout=10)
        screen = tmux.press("s", "daemon ok, started by openusage", absent=("STALE",), timeout=30)
        assert "Demo one" in screen
        tmux.press("q", "EXIT=0")
    finally:
        if daemon_ctl.client.is_alive(first.socket_path):
            daemon_ctl.stop(first.socket_path)


def test_on_stale_a_daemon_run_by_a_service_manager_is_left_to_it(tmux, daemon_factory, isolated_home):
    from openusage.daemon import service

    unit = service.systemd_unit_path()
    os.makedirs(os.path.dirname(unit))
    with open(unit, "w") as fh:
        fh.write("[Service]\n")
    demo_one_settings(isolated_home)
    first = daemon_factory()
    first.socket_path = os.path.join(os.environ["OPENUSAGE_STATE_DIR"], "telemetry.sock")  # the service's socket
    first.start()
    env = ui_env(OPENUSAGE_STATE_DIR=os.environ["OPENUSAGE_STATE_DIR"])
    tmux.start(shell(env, sys.executable, "-m", "openusage"), 80, 24)
    tmux.wait("Demo one", "daemon ok", "$", timeout=30)
    first.stop()
    tmux.wait("STALE", "systemd restarts the daemon", timeout=10)
    tmux.keys("s")
    time.sleep(1.5)  # what must not happen: a daemon started, the screen going back to "daemon ok"
    screen = tmux.wait("STALE", "systemd restarts the daemon")
    assert "daemon ok" not in screen and not os.path.exists(first.socket_path)
    tmux.press("q", "EXIT=0")


def test_plain_table_when_not_a_terminal(daemon_factory, isolated_home):
    settings = isolated_home / ".config" / "openusage" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"auto_detect": False, "accounts": [{"id": "demo", "provider": "demo"}]}))
    d = daemon_factory().start()
    assert wait_for(lambda: b"demo" in subprocess.run(
        [sys.executable, "-m", "openusage", "--socket-path", d.socket_path, "--json"],
        capture_output=True, timeout=30).stdout, 10)
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "openusage", "--socket-path", d.socket_path],
                         capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert out.returncode == 0 and "PROVIDER" in out.stdout and "\x1b[" not in out.stdout
    assert time.monotonic() - start < 15
    data = json.loads(subprocess.run([sys.executable, "-m", "openusage", "--socket-path", d.socket_path, "--json"],
                                     capture_output=True, text=True, timeout=30).stdout)
    assert "demo" in data["snapshots"]


def test_esc_acts_at_once_and_the_tile_fills_a_wide_terminal(tmux, demo_state):
    tmux.start(shell(ui_env(OPENUSAGE_STATE_DIR=demo_state), sys.executable, "-m", "openusage", "demo"), 200, 50)
    screen = tmux.wait("Demo (sample data)", "daemon ok", timeout=30)
    top = [line for line in screen.splitlines() if "┌" in line][0]
    assert top.startswith("┌") and top.endswith("┐") and len(top) == 200  # one account: the whole width
    assert "? help  q quit" in screen.splitlines()[-1]
    tmux.press("?", "Keys")
    # Esc, then q a fifth of a second later: within blessed's default escape delay (0.35 s) the two
    # would be read as Alt-q and nothing would happen; now Esc closes the help and q quits.
    tmux.keys("Escape")
    time.sleep(0.2)
    tmux.keys("q")
    tmux.wait("EXIT=0", timeout=10)
