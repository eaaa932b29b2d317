"""Rewriting a hand-kept JSON file: only what changed changes."""
import json

import pytest

from openusage.integrations import claude_code, jsonedit
from openusage.integrations.artifact import hook_command

USER_FILE = """{
    "model": "opus",
    "cleanupPeriodDays": 30,
    "costAlert": 2.50,
    "env": {"FOO": "1", "BAR": "naïve"},
    "permissions": {
        "allow": [
            "Bash(git diff:*)",
            "Read"
        ]
    },
    "hooks": {
        "PreToolUse": [
            {
                "matcher": "Bash",
                "hooks": [
                    {"type": "command", "command": "/usr/local/bin/other-tool --log", "timeout": 5}
                ]
            }
        ]
    }
}
"""


def added_lines_only(before: str, after: str) -> list:
    """The lines of `after` not in `before`, checking every line of `before` is kept in order
    (a trailing comma added to one, where JSON needs it before a new member, is allowed)."""
    old = before.splitlines()
    new = after.splitlines()
    added, i = [], 0
    for line in new:
        if i < len(old) and line in (old[i], old[i] + ","):
            i += 1
        else:
            added.append(line)
    assert i == len(old), f"line {i + 1} of the original is gone: {old[i]!r}"
    return added


def test_a_changed_document_keeps_the_rest_of_the_text():
    data = json.loads(USER_FILE)
    data["statusLine"] = {"type": "command", "command": "openusage statusline", "padding": 0}
    data["permissions"]["allow"].append("Edit")
    out = jsonedit.update(USER_FILE, data)
    assert json.loads(out) == data
    assert '"costAlert": 2.50,' in out and '"BAR": "naïve"' in out
    assert added_lines_only(USER_FILE, out) == [
        '            "Edit"', '    "statusLine": {', '        "type": "command",',
        '        "command": "openusage statusline",', '        "padding": 0', "    }"]


def test_claude_code_install_and_uninstall_change_only_their_own_lines(isolated_home):
    target = str(isolated_home / ".claude" / "settings.json")
    (isolated_home / ".claude").mkdir()
    with open(target, "w", encoding="utf-8") as fh:
        fh.write(USER_FILE)
    claude_code.install(target)
    with open(target, encoding="utf-8") as fh:
        after = fh.read()
    added = added_lines_only(USER_FILE, after)
    assert added and all(line.startswith("        ") or line.startswith("            ") for line in added)
    command = json.dumps(hook_command(claude_code.SOURCE))
    assert sum(command in line for line in added) == len(claude_code.EVENTS)
    assert '"costAlert": 2.50,' in after and '    "model": "opus",' in after  # 4 spaces, 2.50 as written
    claude_code.uninstall(target)
    with open(target, encoding="utf-8") as fh:
        assert fh.read() == USER_FILE


@pytest.mark.parametrize("text, new", [
    ('{"a": true}', {"a": 1}),        # 1 is not true: the old text must not be reused
    ('{"a": 1}', {"a": True}),
    ('[1, 2, 3]', [3, 1]),
    ('{"a": {"b": [1, {"c": null}]}}', {"a": {"b": [1, {"c": None, "d": "x"}]}}),
    ('\ufeff {"a": 1}\n\n', {"a": 1, "b": []}),
    ('{\n\t"a": 1\n}', {"a": 1, "b": {"c": 2}}),
])
def test_the_result_always_parses_to_the_new_document(text, new):
    out = jsonedit.update(text, new)
    assert json.loads(out.lstrip("\ufeff")) == new
    assert [type(v) for v in (json.loads(out.lstrip("\ufeff")).values() if isinstance(new, dict) else [])] == [
        type(v) for v in (new.values() if isinstance(new, dict) else [])]


def test_tabs_stay_tabs():
    out = jsonedit.update('{\n\t"a": 1\n}', {"a": 1, "b": {"c": 2}})
    assert out == '{\n\t"a": 1,\n\t"b": {\n\t\t"c": 2\n\t}\n}'
