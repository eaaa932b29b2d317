"""Dashboard benchmark: the cost of one frame, and the time from `openusage` to its first frames.

python bench/tui.py [--frames 200] [--starts 5]

Frame: 30 accounts with every section filled, built by the views and written by the painter to a
StringIO blessed Terminal (xterm-256color), at 200x50 and 80x24 - a full repaint (every row
written), an idle frame (nothing changed: built and compared, nothing written) and a frame after
the selection moved. Goal: <= 20 ms per full frame.

Startup: a real daemon with the demo provider runs in a temporary state dir; `openusage` is started
on a pseudo-terminal (100x30) that answers blessed's cursor-position queries like a terminal does;
measured until the first frame is on the screen and until the first frame with data. Goal: <= 0.5 s.
"""
from __future__ import annotations

import argparse
import fcntl
import io
import json
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from plain import plain_python  # noqa: E402

from openusage.core.snapshot import (  # noqa: E402
    Breakdown,
    DailyPoint,
    ModelUsage,
    RateLimit,
    Spend,
    SpendLimits,
    Tokens,
    UsageSnapshot,
)
from openusage.tui import state as st  # noqa: E402
from openusage.tui import views  # noqa: E402
from openusage.tui.painter import Painter  # noqa: E402

STATUSES = ("OK", "WARN", "LIMIT", "AUTH", "ERR", "UNKNOWN")


def accounts(n: int = 30) -> dict:
    now = time.time()
    out = {}
    for i in range(n):
        out[f"acct{i:02d}"] = UsageSnapshot(
            provider_id=f"prov{i % 7}", account_id=f"acct{i:02d}", display_name=f"Account number {i:02d}",
            status=STATUSES[i % len(STATUSES)], message="something to say" if i % 3 else None, currency="USD",
            spend=Spend(total=12.5 * i, limits=SpendLimits(hard=500.0)),
            tokens=Tokens(input=10**6 * i, output=10**5 * i, cache_read=10**7, cache_write=10**4).with_total(),
            tool_calls=100 * i,
            rate_limits={"5h": RateLimit(used_percent=(i * 7) % 100, resets_at=_iso(now + 3600 * (i % 5 + 1))),
                         "weekly": RateLimit(used_percent=(i * 13) % 100, resets_at=_iso(now + 86400 * 3)),
                         "rpm": RateLimit(limit=60, remaining=60 - i)},
            models=[ModelUsage(model=f"model-{k}", input=10**5 * k, output=10**4 * k, cost=1.5 * k) for k in range(6)],
            daily=[DailyPoint(date=time.strftime("%Y-%m-%d", time.localtime(now - 86400 * d)), cost=1.0 + (d * i) % 9,
                              tokens=10**5 * d) for d in range(30, -1, -1)],
            tools=[Breakdown(name=f"tool{k}", calls=k * 10) for k in range(10)],
            sessions=[Breakdown(name=f"s{k}", requests=k, cost=0.1 * k) for k in range(50)],
        )
    return out


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def frame_times(width: int, height: int, snaps: dict, frames: int, invalidate: bool, move: bool) -> list:
    """Milliseconds to build and write each of `frames` frames."""
    from blessed import Terminal

    term = Terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)
    painter = Painter(term)
    state = st.UIState(selected="acct00")
    data = st.Data(snapshots=snaps, window="30d", fetched_at=time.time(), loading=False, source="daemon ok",
                   widgets={f"prov{i}": {"gauges": ["5h", "weekly"]} for i in range(7)})
    keys = st.visible_keys(state, snaps)
    painter.paint(views.render_frame(state, data, width, height), width, height)
    times = []
    for i in range(frames):
        if move:
            state.selected = keys[i % 10]
        if invalidate:
            painter.invalidate()
        start = time.perf_counter()
        painter.paint(views.render_frame(state, data, width, height), width, height)
        times.append((time.perf_counter() - start) * 1000)
        term.stream.seek(0)
        term.stream.truncate()
    return times


def bench_frames(frames: int) -> dict:
    results = {}
    snaps = accounts(30)
    for width, height in ((200, 50), (80, 24)):
        for label, invalidate, move in (("full", True, False), ("idle", False, False), ("moved", False, True)):
            times = sorted(frame_times(width, height, snaps, frames, invalidate, move))
            results[f"{width}x{height} {label}"] = {"mean_ms": round(statistics.mean(times), 2),
                                                    "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 2)}
    return results


# --- startup ------------------------------------------------------------------------------------


def start_daemon(tmp: str) -> tuple:
    from openusage.daemon import client
    from openusage.daemon import control as daemon_ctl

    env = dict(os.environ, HOME=tmp, OPENUSAGE_STATE_DIR=os.path.join(tmp, "state"), XDG_CONFIG_HOME=tmp)
    config = os.path.join(tmp, "settings.json")
    with open(config, "w", encoding="utf-8") as fh:
        json.dump({"auto_detect": False, "accounts": [{"id": "demo", "provider": "demo",
                                                       "display_name": "Bench demo"}]}, fh)
    sock = os.path.join(tmp, "d.sock")
    proc = subprocess.Popen([sys.executable, "-m", "openusage", "telemetry", "daemon", "run", "--socket-path", sock,
                             "--config", config], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not client.is_alive(sock) and time.monotonic() < deadline:
        time.sleep(0.02)
    daemon_ctl.wait_first_poll(sock, timeout=20)
    return proc, env, config, sock


def one_start(python: str, env: dict, config: str, sock: str) -> tuple:
    """(seconds to the first frame, seconds to the first frame with data) of one `openusage`."""
    env = dict(env, LANG="C.UTF-8", TERM="xterm-256color")
    env.pop("TERM_PROGRAM", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    script = os.path.join(os.path.dirname(python), "openusage")  # the console script, as a user runs it
    argv = [script, "--socket-path", sock, "--config", config]
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes openusage on the pty
        os.execve(script, argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    out = b""
    first = with_data = None
    try:
        while with_data is None and time.perf_counter() - start < 20:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
            if b"\x1b[6n" in chunk:  # a terminal answers a cursor-position query at once
                os.write(fd, b"\x1b[1;1R" * chunk.count(b"\x1b[6n"))
            if first is None and b"\x1b[?1049h" in out and b"openusage" in out.split(b"\x1b[?1049h", 1)[1]:
                first = time.perf_counter() - start
            if b"Bench demo" in out:
                with_data = time.perf_counter() - start
        os.write(fd, b"q")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    os.read(fd, 65536)
                except OSError:
                    pass
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return first, with_data


def bench_startup(starts: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="oub", dir="/tmp") as tmp:
        python = plain_python(os.path.join(tmp, "venv"), with_dependencies=True)
        proc, env, config, sock = start_daemon(tmp)
        try:
            runs = [one_start(python, env, config, sock) for _ in range(starts)]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    firsts = [r[0] for r in runs if r[0] is not None]
    datas = [r[1] for r in runs if r[1] is not None]
    return {"runs": starts,
            "first_frame_s_median": round(statistics.median(firsts), 3) if firsts else None,
            "first_data_frame_s_median": round(statistics.median(datas), 3) if datas else None,
            "first_data_frame_s_max": round(max(datas), 3) if datas else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}")
    print("frame, 30 accounts (goal <= 20 ms per full frame):")
    for label, figures in bench_frames(args.frames).items():
        print(f"  {label:<16} mean {figures['mean_ms']:7.2f} ms   p95 {figures['p95_ms']:7.2f} ms")
    start = bench_startup(args.starts)
    print("startup with a running daemon (goal <= 0.5 s to the first frame with data):")
    print(f"  first frame            {start['first_frame_s_median']} s (median of {start['runs']})")
    print(f"  first frame with data  {start['first_data_frame_s_median']} s (median; max "
          f"{start['first_data_frame_s_max']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
