import json
import os
import stat

import pytest

from openusage import config, paths


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def test_missing_file_gives_defaults():
    settings = config.load()
    assert not settings.exists
    assert settings.get("data.time_window") == "30d"
    assert settings.get("ui.refresh_interval_seconds") == 30
    assert settings.provider_links["anthropic"] == "claude_code"


def test_paths_follow_xdg_and_overrides(isolated_home, monkeypatch):
    assert paths.config_path() == str(isolated_home / ".config" / "openusage" / "settings.json")
    assert paths.state_dir() == str(isolated_home / ".local" / "state" / "openusage")
    monkeypatch.setenv("OPENUSAGE_STATE_DIR", "/tmp/x-state")
    assert paths.socket_path() == "/tmp/x-state/telemetry.sock"
    monkeypatch.setenv("OPENUSAGE_TELEMETRY_SOCKET", "/tmp/s.sock")
    assert paths.socket_path() == "/tmp/s.sock"
    assert paths.socket_path("/tmp/o.sock") == "/tmp/o.sock"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"accounts": [{"id": "a", "provider": "openai"}, {"id": "b", "provider": "x", "base_url": "nope"}]},
         "accounts[1].base_url: not a URL"),
        ({"accounts": [{"id": "c", "provider": "claude_code", "usage_api_base": "localhost:8080"}]},
         "accounts[0].usage_api_base: not a URL"),
        ({"accounts": [{"id": "g", "provider": "gemini_cli", "oauth_api_base": "ftp://x"}]},
         "accounts[0].oauth_api_base: not a URL"),
        ({"accounts": [{"id": "a", "provider": "openai", "api_key_env": "sk-abc123"}]},
         "accounts[0].api_key_env: looks like a key itself"),
        ({"accounts": [{"id": "a", "provider": "p"}, {"id": "a", "provider": "q"}]},
         "accounts[1].id: duplicate of accounts[0].id"),
        ({"accounts": [{"provider": "p"}]}, "accounts[0].id: required"),
        ({"accounts": [{"id": "a", "provider": "p", "api_key": "secret"}]}, "accounts[0].api_key: keys are never"),
        ({"accounts": [{"id": "a", "provider": "codex", "paths": "~/.codex"}]}, "accounts[0].paths: expected a"),
        ({"accounts": [{"id": "a", "provider": "codex", "paths": ["~/w", " "]}]}, "accounts[0].paths: expected a"),
        ({"accounts": [{"id": "a", "provider": "codex", "paths": []}]}, "accounts[0].paths: expected a"),
        ({"ui": {"warn_threshold": 2}}, "ui.warn_threshold: must be between 0 and 1"),
        ({"data": {"time_window": "9d"}}, "data.time_window: must be one of"),
        ({"data": {"retention_days": "30"}}, "data.retention_days: expected an integer"),
        ({"hub": {"listen": "localhost"}}, "hub.listen: expected HOST:PORT"),
        ({"export": {"target": "ftp://x"}}, "export.target: not a URL"),
        ({"auto_detect": "yes"}, "auto_detect: expected true or false"),
        ([1, 2], "top level: expected a JSON object"),
    ],
)
def test_errors_name_the_key_path(data, message):
    errors = config.validate(data)
    assert any(e.startswith(message) for e in errors), errors


def test_account_paths_are_accepted():
    data = {"accounts": [{"id": "work", "provider": "claude_code", "paths": ["~/.claude-work"]}]}
    assert config.validate(data) == [] and config.warnings(data) == []


def test_load_raises_with_path_and_first_error(isolated_home):
    path = write(isolated_home / "s.json", {"accounts": [{"id": "a", "provider": "p", "base_url": "x"}]})
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    assert "accounts[0].base_url: not a URL" in str(info.value)
    assert path in str(info.value)


def test_invalid_json_is_reported_with_position(isolated_home):
    path = write(isolated_home / "s.json", '{"auto_detect": tru}')
    with pytest.raises(config.ConfigError, match="not valid JSON.*line 1"):
        config.load(path)


def test_unknown_keys_survive_a_rewrite(isolated_home):
    data = {"auto_detect": False, "my_own_key": {"keep": [1, 2]}, "ui": {"refresh_interval_seconds": 10,
                                                                          "future": True}}
    path = write(isolated_home / ".config" / "openusage" / "settings.json", data)
    settings = config.load()
    settings.raw["theme"] = "light"
    config.save(settings)
    again = json.loads(open(path).read())
    assert again["my_own_key"] == {"keep": [1, 2]}
    assert again["ui"]["future"] is True
    assert again["theme"] == "light"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert config.load().get("ui.refresh_interval_seconds") == 10
    assert config.load().get("ui.warn_threshold") == 0.20
