"""Test isolation (no test sees the real home, config, state or colour settings) and daemon fixtures."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import tempfile
import threading
import time

import pytest
from support import DaemonProcess, wait_for

from openusage import agents
from openusage.daemon import client
from openusage.providers import REGISTRY
from openusage.store import db
from openusage.store.writer import Writer

_CLEARED_PREFIXES = ("OPENUSAGE_", "XDG_") + agents.env_prefixes()
_CLEARED = {"NO_COLOR", "FORCE_COLOR", "CLAUDE_CONFIG_DIR", "CODEX_HOME"}
_CLEARED |= {"GITHUB_TOKEN", "GH_TOKEN"}  # a real token would let detection add a Copilot account
# A developer's real keys must never make a test detect (and call) a real service: every variable a
# provider declares goes, and anything named like a credential.
_CLEARED |= {name for pid in REGISTRY for name in REGISTRY[pid].env_vars}
_CLEARED_SUFFIXES = ("_API_KEY", "_ADMIN_KEY", "_MANAGEMENT_KEY", "_TOKEN")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Point HOME and every XDG directory at tmp; clear our variables."""
    for name in list(os.environ):
        if name in _CLEARED or name.startswith(_CLEARED_PREFIXES) or name.endswith(_CLEARED_SUFFIXES):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    return home


FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture
def zone(monkeypatch):
    """Switch the process's local time zone for one test."""

    def use(name):
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.delenv("TZ", raising=False)
    time.tzset()


@pytest.fixture
def short_dir():
    path = tempfile.mkdtemp(prefix="ou", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def daemon_factory(short_dir, monkeypatch):
    state = os.path.join(short_dir, "state")
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", state)
    made = []

    def make(extra_args=(), cwd=None):
        d = DaemonProcess(state, os.path.join(short_dir, "d.sock"), extra_args, cwd)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop(signal.SIGKILL if d.proc and d.proc.poll() is None else signal.SIGTERM)
        for stream in (d.proc.stdout, d.proc.stderr) if d.proc else ():
            stream.close()


@pytest.fixture
def inprocess_daemon(short_dir, monkeypatch):
    """A Daemon running in a thread of the test process (for tests that register fake providers)."""
    from openusage.daemon.app import Daemon

    state = os.path.join(short_dir, "state")
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", state)
    started = []

    def start(settings=None):
        d = Daemon(socket_path=os.path.join(short_dir, "i.sock"), settings=settings)
        t = threading.Thread(target=d.run, daemon=True)
        t.start()
        assert wait_for(lambda: client.is_alive(d.socket_path), 10)
        started.append((d, t))
        return d

    yield start
    for d, t in started:
        d.stop_event.set()
        t.join(15)


@pytest.fixture
def store(tmp_path):
    """A running writer on a real database file, and a function opening read connections."""
    path = str(tmp_path / "telemetry.db")
    writer = Writer(path)
    writer.start()
    readers = []

    def reader() -> sqlite3.Connection:
        conn = db.connect(path, readonly=True)
        readers.append(conn)
        return conn

    yield writer, reader
    writer.stop()
    for conn in readers:
        conn.close()
