import glob
import os
import re
import shutil
import subprocess

import pytest

from openusage.cli.completions import command_tree
from openusage.cli.main import build_parser

MAN = os.path.join(os.path.dirname(__file__), "..", "..", "man")


def man_text():
    text = ""
    for path in glob.glob(os.path.join(MAN, "*.[15]")):
        with open(path, encoding="utf-8") as fh:
            text += fh.read()
    # troff escapes hyphens as \- ; compare against plain text
    return text.replace("\\-", "-").replace("\\(bu", "")


def test_every_command_and_flag_is_in_a_man_page():
    text = man_text()
    missing = []
    for path, (_words, options) in command_tree(build_parser()).items():
        for name in path.split():
            if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
                missing.append(f"command {name!r}")
        for option in options:
            if option != "--help" and not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text):
                missing.append(f"{path or 'openusage'} {option}")
    assert not sorted(set(missing)), f"not in any man page: {sorted(set(missing))}"


@pytest.mark.parametrize("page", sorted(os.path.basename(p) for p in glob.glob(os.path.join(MAN, "*.[15]"))))
def test_man_pages_are_lint_clean(page):
    if not shutil.which("groff"):
        pytest.skip("groff is not installed")
    out = subprocess.run(["groff", "-man", "-ww", "-z", os.path.join(MAN, page)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0 and out.stderr == "", out.stderr


def test_man_pages_are_installed_with_the_package():
    with open(os.path.join(MAN, "..", "setup.cfg")) as fh:
        cfg = fh.read()
    for path in glob.glob(os.path.join(MAN, "*.[15]")):
        assert f"man/{os.path.basename(path)}" in cfg


@pytest.mark.parametrize("page", sorted(os.path.basename(p) for p in glob.glob(os.path.join(MAN, "*.[15]"))))
def test_no_tp_tag_is_broken_over_two_lines(page):
    """A .TP tag is the one line after it: a tag whose brackets do not close goes on in the body."""
    with open(os.path.join(MAN, page), encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    broken = []
    for i, line in enumerate(lines[:-1]):
        if line.strip() == ".TP":
            tag = re.sub(r"\\f[BIRP]|\\\(..|\\.", "", lines[i + 1])
            if tag.count("[") != tag.count("]") or tag.count("(") != tag.count(")"):
                broken.append(f"line {i + 2}: {lines[i + 1]}")
    assert not broken, broken
