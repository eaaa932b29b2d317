"""The daemon's malloc parameters (daemon/heap.py): set on glibc, nothing elsewhere; an idle writer trims."""
import sys
import time

import pytest

from openusage.daemon import heap
from openusage.store import writer as writer_mod
from openusage.store.writer import Writer


def test_tune_sets_the_parameters_on_glibc_and_nothing_elsewhere():
    assert heap.tune() is (heap._glibc() is not None)
    if sys.platform.startswith("linux") and heap._glibc() is None:
        pytest.skip("not glibc")
    heap.trim()  # callable at any time


def test_an_idle_writer_gives_its_memory_back(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_mod, "IDLE_RELEASE", 0.05)
    calls = []
    writer = Writer(str(tmp_path / "telemetry.db"))
    writer.on_idle = lambda: calls.append(time.monotonic())
    writer.start()
    try:
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        assert calls  # the idle writer called its hook (the daemon's heap.trim)
    finally:
        writer.stop()


def test_the_daemon_trims_when_its_writer_is_idle(inprocess_daemon):
    d = inprocess_daemon()
    assert d.writer.on_idle is heap.trim
