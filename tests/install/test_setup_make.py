"""A checkout's first `make run`: no setuptools warnings, no needless reinstall, man pages that `man` finds."""
import glob
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_a_wheel_build_prints_no_setuptools_warning_and_ships_the_price_table(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                          "--wheel-dir", str(tmp_path), ROOT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    noise = [line for line in out.stderr.splitlines() if "Location '" not in line]  # this host's pip.conf
    assert not [line for line in noise if "Warning" in line or "absent" in line], "\n".join(noise)
    with zipfile.ZipFile(glob.glob(str(tmp_path / "openusage-*.whl"))[0]) as whl:
        names = whl.namelist()
    assert "openusage/data/pricing.json" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "bench/"))]


@pytest.fixture
def checkout(tmp_path):
    """A copy of the build files with a venv whose python and openusage only record being run."""
    for name in ("Makefile", "setup.cfg", "setup.py"):
        shutil.copy(os.path.join(ROOT, name), tmp_path / name)
    shutil.copytree(os.path.join(ROOT, "man"), tmp_path / "man")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "activate").write_text("")
    for tool in ("python", "openusage"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/ran"\n')
        script.chmod(0o755)
    return tmp_path


def make(where, *targets):
    out = subprocess.run(["make", "-C", str(where), *targets], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    ran = (where / "ran").read_text() if (where / "ran").exists() else ""
    (where / "ran").unlink(missing_ok=True)
    return out.stdout, ran


@pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")
def test_make_run_installs_once_and_again_only_when_setup_changes(checkout):
    _, ran = make(checkout, "run")
    assert "python -m pip install --quiet -e ." in ran and "openusage" in ran.splitlines()[-1]
    _, ran = make(checkout, "run")
    assert "pip install" not in ran and ran.strip() == "openusage"
    os.utime(checkout / "setup.cfg", (os.path.getmtime(checkout / ".venv" / ".openusage-installed") + 5,) * 2)
    _, ran = make(checkout, "run")
    assert "pip install" in ran


@pytest.mark.skipif(not shutil.which("make") or not shutil.which("man"), reason="make or man is not installed")
def test_make_run_installs_the_man_pages_and_prints_the_manpath_line(checkout):
    stdout, _ = make(checkout, "run")
    line = [x for x in stdout.splitlines() if "MANPATH=" in x][0]
    manpath = line.split('MANPATH="', 1)[1].split('"', 1)[0].replace(":$MANPATH", ":")
    assert manpath == f"{checkout}/.venv/share/man:"
    for page in ("openusage", "openusage-reports", "openusage-settings"):
        found = subprocess.run(["man", "-w", page], capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, MANPATH=manpath))
        assert found.returncode == 0 and found.stdout.startswith(f"{checkout}/.venv/share/man/"), found.stderr
    (checkout / "man" / "openusage.1").write_text(".TH OPENUSAGE 1\n.SH NAME\nchanged\n")
    make(checkout, "run")
    assert "changed" in (checkout / ".venv" / "share" / "man" / "man1" / "openusage.1").read_text()
