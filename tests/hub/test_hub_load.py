"""Load: 50 simulated machines push to one hub for a bounded time (loopback only)."""
import os
import threading
import time

import requests

from openusage.core.snapshot import RateLimit, Tokens, UsageSnapshot
from openusage.hub import server

MACHINES = 50
SECONDS = float(os.environ.get("OPENUSAGE_HUB_LOAD_SECONDS", "30"))


def batch(machine, n):
    snaps = [UsageSnapshot(provider_id=p, account_id=p, status="OK", tokens=Tokens(input=n, total=n),
                           rate_limits={"5h": RateLimit(used_percent=n % 100)}).to_dict()
             for p in ("claude_code", "codex", "openai")]
    return {"machine": machine, "snapshots": snaps}


def test_fifty_machines_push_and_the_hub_stays_responsive():
    hub = server.start("127.0.0.1:0", "tok", False, 300)
    stop = threading.Event()
    errors = []
    pushes = [0] * MACHINES
    latencies = []

    def machine(i):
        session = requests.Session()
        n = 0
        while not stop.is_set():
            n += 1
            try:
                r = session.post(hub.url + "/v1/push", json=batch(f"m{i:02d}", n),
                                 headers={"Authorization": "Bearer tok"}, timeout=10)
                if r.status_code != 200:
                    errors.append(r.status_code)
                pushes[i] += 1
            except requests.RequestException as exc:
                errors.append(repr(exc))
            stop.wait(0.2)

    threads = [threading.Thread(target=machine, args=(i,)) for i in range(MACHINES)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            started = time.monotonic()
            r = requests.get(hub.url + "/healthz", timeout=5)
            latencies.append(time.monotonic() - started)
            assert r.status_code == 200
            time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    try:
        view = requests.get(hub.url + "/v1/snapshots", headers={"Authorization": "Bearer tok"}, timeout=10).json()
        assert errors == []
        assert len(view["machines"]) == MACHINES
        assert len(view["snapshots"]) == 3 * MACHINES
        assert min(pushes) > 0
        assert max(latencies) < 2.0, f"hub slow to answer /healthz: {max(latencies):.2f}s"
    finally:
        hub.shutdown()
        hub.server_close()
