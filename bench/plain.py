"""A Python that imports this checkout as a regular install would, for the benches that time `openusage`.

The development venv has an editable install, whose import finder loads pathlib, urllib and more at
every start (30-40 ms here): not what a `pip install` or the wheelhouse gives a user. The plain venv
has the checkout as a path in its site-packages, and with_dependencies the development venv's
site-packages too (blessed, requests) as a bare path, whose .pth files are not run.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))


def plain_python(venv: str, with_dependencies: bool = False) -> str:
    """Create a venv at `venv` (no pip) with the `openusage` console script in its bin; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    lines = [os.path.abspath(os.path.join(HERE, ".."))]
    if with_dependencies:
        lines.append(sysconfig.get_paths()["purelib"])
    with open(os.path.join(purelib, "openusage-checkout.pth"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    # The console script as pip writes it for the entry point in setup.cfg (what a user runs).
    script = os.path.join(venv, "bin", "openusage")
    with open(script, "w") as fh:
        fh.write(f"#!{python}\nimport sys\nfrom openusage.cli.main import run\nif __name__ == '__main__':\n"
                 "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n    sys.exit(run())\n")
    os.chmod(script, 0o755)
    return python
