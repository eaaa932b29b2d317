import os
import shutil
import subprocess

import pytest

from openusage.cli import completions
from openusage.cli.main import build_parser

COMMITTED = os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "completions")


def test_committed_completions_match_the_parser(tmp_path):
    written = completions.write_all(str(tmp_path))
    for path in written:
        with open(path) as fresh, open(os.path.join(COMMITTED, os.path.basename(path))) as committed:
            assert fresh.read() == committed.read(), f"run `make completions`: {os.path.basename(path)} drifted"


def test_tree_has_every_command():
    tree = completions.command_tree(build_parser())
    assert "telemetry daemon" in tree
    words, options = tree["telemetry daemon"]
    assert {"run", "stop", "status", "install", "uninstall"} <= set(words)
    assert "--dry-run" in options


def bash_complete(line):
    script = os.path.join(COMMITTED, "openusage.bash")
    prog = (f'source {script}; COMP_WORDS=({line}); [[ "{line}" == *" " ]] && COMP_WORDS+=(""); '
            'COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _openusage; echo "${COMPREPLY[*]}"')
    return subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=10).stdout.split()


def test_bash_completes_commands_subcommands_and_choices():
    assert "telemetry" in bash_complete("openusage ")
    assert bash_complete("openusage tele") == ["telemetry"]
    assert bash_complete("openusage --json config va") == ["validate"]
    assert set(bash_complete("openusage telemetry daemon st")) == {"status", "stop"}


@pytest.mark.parametrize("shell, name", [("zsh", "_openusage"), ("fish", "openusage.fish")])
def test_zsh_and_fish_scripts_parse(shell, name):
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed")
    proc = subprocess.run([shell, "-n", os.path.join(COMMITTED, name)], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0, proc.stderr


def test_fish_completes_like_bash():
    if not shutil.which("fish"):
        pytest.skip("fish is not installed")
    script = os.path.join(COMMITTED, "openusage.fish")
    out = subprocess.run(["fish", "-c", f"source {script}; complete -C 'openusage telemetry daemon st'"],
                         capture_output=True, text=True, timeout=20).stdout.split()
    assert out == ["status", "stop"]
