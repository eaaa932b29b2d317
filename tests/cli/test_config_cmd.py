"""openusage config validate: unknown keys warned with a did-you-mean, values outside their set rejected."""
import json

import pytest

from openusage import config
from openusage.cli.main import main


def write(tmp_path, doc):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_unknown_keys_are_warned_with_a_did_you_mean_and_kept(tmp_path, capsys):
    path = write(tmp_path, {"acounts": [], "ui": {"refresh_interval": 5},
                            "accounts": [{"id": "a", "provider": "claude_code", "name": "Mine", "comand": "x",
                                          "team_id": 1, "my_plugin_option": 2, "second_key_env": "X"}],
                            "dashboard": {"providers": [{"id": "a", "hidden": True}]}})
    assert main(["config", "validate", "--config", path]) == 0
    out, err = capsys.readouterr()
    assert "valid (1 account), 5 warnings" in out
    for warning in ("acounts: unknown key; did you mean accounts?",
                    "ui.refresh_interval: unknown key; did you mean refresh_interval_seconds?",
                    "accounts[0].name: unknown key; did you mean display_name?",
                    "accounts[0].comand: unknown key; did you mean command?",
                    "dashboard.providers[0].hidden: unknown key (kept, not used)"):
        assert f"{path}: warning: {warning}" in err
    assert "team_id" not in err and "my_plugin_option" not in err and "second_key_env" not in err
    assert main(["config", "validate", "--config", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] and len(report["warnings"]) == 5
    assert config.load(path).raw["acounts"] == []  # kept as it is


@pytest.mark.parametrize("doc, error", [
    ({"theme": "purple"}, "theme: must be one of dark, light, high-contrast, got 'purple'"),
    ({"data": {"time_window": "2w"}}, "data.time_window: must be one of 1d, 3d, 7d, 30d, all"),
    ({"accounts": [{"id": "a", "provider": "claude-code"}]},
     "accounts[0].provider: unknown provider 'claude-code'; did you mean claude_code?"),
])
def test_values_outside_their_set_are_rejected(tmp_path, capsys, doc, error):
    path = write(tmp_path, doc)
    assert main(["config", "validate", "--config", path]) == 2
    assert error in capsys.readouterr().err


def test_a_missing_file_named_by_config_is_an_error(tmp_path, capsys):
    missing = str(tmp_path / "nope.json")
    assert main(["config", "validate", "--config", missing]) == 2
    assert f"{missing}: no such file" in capsys.readouterr().err
    assert main(["config", "validate", "--config", missing, "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["valid"] is False
    assert main(["config", "validate"]) == 0  # no --config and no file: the defaults, as ever
    assert "the defaults are in use" in capsys.readouterr().out
