"""Test isolation: no test sees the real home, config, state or colour settings."""
from __future__ import annotations

import os
import time

import pytest

_CLEARED_PREFIXES = ("OPENUSAGE_", "XDG_", "CLAUDE_", "CODEX_", "GEMINI_", "OPENCODE_")
_CLEARED = {"NO_COLOR", "FORCE_COLOR", "CLAUDE_CONFIG_DIR", "CODEX_HOME"}


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Point HOME and every XDG directory at tmp; clear our variables."""
    for name in list(os.environ):
        if name in _CLEARED or name.startswith(_CLEARED_PREFIXES):
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
