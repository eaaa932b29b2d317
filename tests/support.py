"""Helpers shared by the test modules (tests/ is on sys.path through tests/conftest.py)."""
import os
import signal
import subprocess
import sys
import time

from openusage.daemon import client


def wait_for(predicate, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


class DaemonProcess:
    """The real daemon as a subprocess on a short temporary socket path."""

    def __init__(self, state_dir, socket_path, extra_args=(), cwd=None):
        self.state_dir = state_dir
        self.socket_path = socket_path
        self.extra_args = list(extra_args)
        self.cwd = cwd  # the directory it is started from (default: the test's)
        self.proc = None

    @property
    def env(self):
        env = dict(os.environ)
        env["OPENUSAGE_STATE_DIR"] = self.state_dir
        return env

    def start(self, wait=True, drained=True):
        """Start the daemon; with wait, until it answers, and with drained too, until its first spool drain is over."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openusage", "telemetry", "daemon", "run", "--socket-path", self.socket_path,
             *self.extra_args],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.cwd,
        )
        if wait:
            assert wait_for(lambda: client.is_alive(self.socket_path) or self.proc.poll() is not None, 15)
            assert self.proc.poll() is None, self.proc.stderr.read().decode()
            if drained:  # the first drain runs beside the first answers
                assert wait_for(lambda: self._health()["spool"].get("last_drain"), 60)
        return self

    def _health(self):
        try:
            return client.call_json(self.socket_path, "GET", "/healthz", timeout=5.0)
        except (client.DaemonUnreachable, RuntimeError):
            return {"spool": {}}

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode if self.proc else None


class Poller:
    """Fetches one provider account with one persistent state, as the scheduler does between polls."""

    def __init__(self, provider, account, home, environ=None):
        self.provider, self.account = provider, account
        self.home = str(home)
        self.environ = environ or {}
        self.state = {}

    def fetch(self, now=None):
        from openusage.providers.base import make_context

        ctx = make_context(self.provider, self.account, self.state, home=self.home, environ=self.environ, now=now)
        return self.provider.fetch(self.account, ctx)

    def poll(self, now=None):
        result = self.fetch(now)
        return list(result.events), result.snapshot


def usage(events):
    return [e for e in events if e.event_type == "message_usage"]


def tools(events):
    return [e for e in events if e.event_type == "tool_usage"]


SHOWCASE = os.path.join(os.path.dirname(__file__), "fixtures", "claude_code", "transcripts", "claude-code-log",
                        "minimal_showcase")


def claude_catch_up_dir(root, seed, now):
    """A Claude Code dir a catch-up reads on workers: 1.5 MB generated (bench/gen_claude.py), the showcase
    fixture (a subagent file, MCP tools), and a resumed session repeating the first file's messages and
    tool calls. Returns that first file."""
    import shutil

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
    import gen_claude

    gen_claude.generate(str(root), 1.5, seed=seed, now=now)
    shutil.copytree(SHOWCASE, root / "projects" / "showcase")
    first = sorted((root / "projects").rglob("*.jsonl"))[0]
    (root / "projects" / "showcase" / "resumed.jsonl").write_bytes(first.read_bytes())
    return first
