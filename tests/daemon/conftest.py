import os
import shutil
import signal
import tempfile
import threading

import pytest
from support import DaemonProcess, wait_for

from openusage.daemon import client


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

    def make(extra_args=()):
        d = DaemonProcess(state, os.path.join(short_dir, "d.sock"), extra_args)
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
