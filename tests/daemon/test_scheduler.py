import threading
import time

import pytest
from support import wait_for

from openusage import config
from openusage.core.events import UsageEvent
from openusage.core.snapshot import RateLimit, Tokens, UsageSnapshot
from openusage.daemon import client
from openusage.providers import REGISTRY
from openusage.providers.base import FetchResult, Provider, ProviderError


class Scripted(Provider):
    """A provider whose next answers are scripted by the test."""

    source_modes = ("api",)
    default_interval = 3600.0
    fetch_timeout = 1.0

    def __init__(self, pid):
        self.id = pid
        self.name = pid
        self.calls = 0
        self.script = []
        self.release = threading.Event()

    def fetch(self, account, ctx):
        self.calls += 1
        step = self.script.pop(0) if self.script else "ok"
        if step == "hang":
            self.release.wait(10)
            raise ProviderError("ERR", "finally gave up")
        if isinstance(step, Exception):
            raise step
        ctx.state["n"] = self.calls
        snap = UsageSnapshot(provider_id=self.id, account_id=account.id, status="OK", currency="USD",
                             tokens=Tokens(input=self.calls), rate_limits={"rpm": RateLimit(limit=10, remaining=9)})
        events = (UsageEvent(source=self.id, provider_id=self.id, account_id=account.id,
                             event_type="message_usage", occurred_at=time.time(), message_id=f"m{self.calls}-{i}",
                             input_tokens=1, requests=1) for i in range(3))
        return FetchResult(snapshot=snap, events=events)


@pytest.fixture
def scripted(monkeypatch):
    made = {}

    def make(pid):
        p = Scripted(pid)
        monkeypatch.setitem(REGISTRY, pid, p)
        made[pid] = p
        return p

    yield make
    for p in made.values():
        p.release.set()


def settings_for(*ids):
    raw = {"auto_detect": False, "accounts": [{"id": i, "provider": i} for i in ids]}
    return config.Settings(raw=raw, path="x", merged=config._merge(config.DEFAULTS, raw))


def snapshot_of(d, account):
    return client.call_json(d.socket_path, "POST", "/v1/read-model", {"window": "1d"})["snapshots"].get(account, {})


def test_failures_become_statuses_and_keep_last_good_values(inprocess_daemon, scripted):
    p = scripted("fake_a")
    p.script = ["ok", ProviderError("AUTH", "set FAKE_KEY"), RuntimeError("boom")]
    d = inprocess_daemon(settings_for("fake_a"))
    # the poll's events commit before its snapshot: wait for the snapshot, not only for the events
    assert wait_for(lambda: snapshot_of(d, "fake_a").get("rate_limits"))
    first = snapshot_of(d, "fake_a")
    assert first["status"] == "OK"
    assert first["tokens"]["total"] == 3  # the window's events, not the provider's own figure
    client.call_json(d.socket_path, "POST", "/v1/refresh", {"provider": "fake_a"})
    assert wait_for(lambda: snapshot_of(d, "fake_a").get("status") == "AUTH")
    after = snapshot_of(d, "fake_a")
    assert after["message"] == "set FAKE_KEY"
    assert after["rate_limits"] == first["rate_limits"]  # the tile keeps its last good values
    client.call_json(d.socket_path, "POST", "/v1/refresh", {"provider": "fake_a"})
    assert wait_for(lambda: snapshot_of(d, "fake_a").get("status") == "ERR")
    assert "RuntimeError: boom" in snapshot_of(d, "fake_a")["message"]
    health = client.call_json(d.socket_path, "GET", "/healthz")
    assert health["providers"]["fake_a:fake_a"]["failures"] == 2
    assert client.request(d.socket_path, "POST", "/v1/refresh", b'{"provider": "nope"}')[0] == 404


def test_a_hanging_provider_times_out_and_does_not_delay_others(inprocess_daemon, scripted):
    slow, fast = scripted("fake_slow"), scripted("fake_fast")
    slow.script = ["hang"]
    d = inprocess_daemon(settings_for("fake_slow", "fake_fast"))
    assert wait_for(lambda: snapshot_of(d, "fake_fast").get("status") == "OK", 5)
    assert wait_for(lambda: snapshot_of(d, "fake_slow").get("status") == "ERR", 5)
    assert "timed out" in snapshot_of(d, "fake_slow")["message"]
    for _ in range(3):
        client.call_json(d.socket_path, "POST", "/v1/refresh", {"provider": "fake_fast"})
    assert wait_for(lambda: fast.calls >= 2, 5)
    assert slow.calls == 1  # not resubmitted while its first fetch still runs


def test_unknown_provider_in_config_is_an_err_tile(inprocess_daemon):
    d = inprocess_daemon(settings_for("no_such_provider"))
    assert wait_for(lambda: snapshot_of(d, "no_such_provider").get("status") == "ERR", 5)
    assert "unknown provider" in snapshot_of(d, "no_such_provider")["message"]


def test_provider_state_survives_a_restart(inprocess_daemon, scripted):
    p = scripted("fake_state")
    d = inprocess_daemon(settings_for("fake_state"))
    assert wait_for(lambda: snapshot_of(d, "fake_state").get("status") == "OK")
    # The snapshot is written before the state (a write of its own): wait for that one too.
    assert wait_for(lambda: d._load_state("fake_state", "fake_state") == {"n": 1})
    assert p.calls == 1


class Cursor(Provider):
    """A log reader: moves its cursor as it reads; its first read fails half-way through the write."""

    source_modes = ("local",)
    default_interval = 3600.0
    fetch_timeout = 5.0

    def __init__(self, pid):
        self.id = pid
        self.name = pid
        self.seen = []

    def fetch(self, account, ctx):
        self.seen.append(dict(ctx.state))
        offset = ctx.state.get("offset", 0)
        ctx.state["offset"] = 2  # both lines read

        def events():
            for i in range(offset, 2):
                if i == 1 and len(self.seen) == 1:
                    raise OSError("the disk went away")
                yield UsageEvent(source=self.id, provider_id=self.id, account_id=account.id,
                                 event_type="message_usage", occurred_at=time.time(), message_id=f"line{i}",
                                 input_tokens=10, requests=1)

        snap = UsageSnapshot(provider_id=self.id, account_id=account.id, status="OK")
        return FetchResult(snapshot=snap, events=events())


def test_a_poll_that_fails_half_way_reads_again_from_the_stored_cursor(inprocess_daemon, monkeypatch):
    p = Cursor("fake_cursor")
    monkeypatch.setitem(REGISTRY, p.id, p)
    d = inprocess_daemon(settings_for(p.id))
    # The failure's tile (not the UNKNOWN one the daemon shows before the first poll has run: a refresh
    # then would be taken by that first poll).
    assert wait_for(lambda: snapshot_of(d, p.id).get("status") == "ERR" and len(p.seen) == 1)
    client.call_json(d.socket_path, "POST", "/v1/refresh", {"provider": p.id})
    assert wait_for(lambda: snapshot_of(d, p.id).get("status") == "OK")
    # Not the cursor the failed read had moved on: the stored one, so the second line is read after all.
    assert p.seen[1] == {}
    assert wait_for(lambda: snapshot_of(d, p.id)["tokens"]["total"] == 20)
    assert wait_for(lambda: d._load_state(p.id, p.id) == {"offset": 2})
