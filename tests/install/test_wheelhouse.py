"""The locked-down install: wheels only, no index (`make wheelhouse` builds dist/wheelhouse)."""
import glob
import json
import os
import subprocess
import sys

import pytest
from support import wait_for

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
WHEELHOUSE = os.path.join(ROOT, "dist", "wheelhouse")


@pytest.fixture(scope="module")
def offline_venv(tmp_path_factory):
    if not glob.glob(os.path.join(WHEELHOUSE, "openusage-*.whl")):
        pytest.skip("no wheelhouse: run `make wheelhouse`")
    with open(os.path.join(WHEELHOUSE, "TARGET-PYTHON")) as fh:
        target = fh.read().strip()
    if target != "{}.{}".format(*sys.version_info[:2]):
        pytest.skip(f"the wheelhouse was built for Python {target}")
    venv = str(tmp_path_factory.mktemp("venv") / "v")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    pip = subprocess.run(
        [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--quiet", "--no-index", "--find-links",
         WHEELHOUSE, "openusage"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, PIP_CONFIG_FILE=os.devnull))
    assert pip.returncode == 0, pip.stderr
    return venv


def test_version_and_daemon_round_trip_from_wheels(offline_venv, short_dir):
    exe = os.path.join(offline_venv, "bin", "openusage")
    env = dict(os.environ, OPENUSAGE_STATE_DIR=os.path.join(short_dir, "state"))
    out = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0 and out.stdout.startswith("openusage 0.1.0")
    sock = os.path.join(short_dir, "w.sock")
    daemon = subprocess.Popen([exe, "telemetry", "daemon", "run", "--socket-path", sock], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from openusage.daemon import client

        assert wait_for(lambda: client.is_alive(sock), 15)
        hook = subprocess.run([exe, "telemetry", "hook", "claude-code", "--strict", "--socket-path", sock],
                              input=json.dumps({"hook_event_name": "PostToolUse", "tool_use_id": "t1",
                                                "tool_name": "Bash"}),
                              capture_output=True, text=True, timeout=60, env=env)
        assert hook.returncode == 0, hook.stderr
        status = subprocess.run([exe, "telemetry", "daemon", "status", "--json", "--socket-path", sock],
                                capture_output=True, text=True, timeout=60, env=env)
        assert json.loads(status.stdout)["events_stored"] == 1
        man = glob.glob(os.path.join(offline_venv, "share", "man", "man1", "openusage.1"))
        assert man, "man pages are installed with the package"
    finally:
        daemon.terminate()
        daemon.wait(15)
