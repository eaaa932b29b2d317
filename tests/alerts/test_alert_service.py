"""The alert service on a real store: snapshots and events written by the writer, state kept in it."""
import sqlite3
import threading
import time

import pytest

from openusage.alerts import state as state_mod
from openusage.alerts.rules import State
from openusage.alerts.service import AlertService
from openusage.core.events import UsageEvent
from openusage.core.snapshot import RateLimit, Spend, UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.store import db


def service(writer, reader, rules, cooldown=0):
    conn = reader()
    alerts = {"rules": rules, "notify": {"desktop": False, "cooldown_seconds": cooldown}}
    return AlertService(writer, lambda: conn, lambda c: None, alerts, threading.Event())


def put(writer, snap):
    writer.submit_snapshot(snap).wait(10)


def test_projected_exhaustion_from_a_stored_snapshot_with_pace(store):
    writer, reader = store
    now = time.time()
    pace = {"rate_percent_per_hour": 25.0, "exhausts_at": format_rfc3339(now + 3600), "before_reset": True}
    limit = RateLimit(used_percent=60.0, resets_at=format_rfc3339(now + 7200), pace=pace)
    put(writer, UsageSnapshot(provider_id="claude_code", account_id="me", rate_limits={"5h": limit}))
    svc = service(writer, reader, [{"id": "pace", "when": "projected_exhaustion", "provider": "claude_code",
                                    "before_reset": True}])
    [alert] = svc.evaluate(now=now)
    assert (alert["rule"], alert["limit"], alert["value"], alert["exhausts_at"]) == ("pace", "5h", 60.0,
                                                                                     pace["exhausts_at"])
    assert alert["message"].startswith("5h projected to run out ") and alert["message"].endswith("before its reset")
    assert svc.evaluate(now=now + 60) == []
    put(writer, UsageSnapshot(provider_id="claude_code", account_id="me",
                              rate_limits={"5h": RateLimit(used_percent=61.0)}))  # no pace: never fires
    assert svc.evaluate(now=now + 120) == []


def test_spend_comes_from_the_store_never_from_a_provider_figure(store):
    writer, reader = store
    now = time.time()
    put(writer, UsageSnapshot(provider_id="openai", account_id="o", currency="USD",
                              spend=Spend(total=900.0)))  # a month-to-date figure the provider reported
    svc = service(writer, reader, [{"id": "daily", "when": "spend", "window": "1d", "at_least_usd": 25}])
    assert svc.evaluate(now=now) == []
    events = [UsageEvent(source="openai", provider_id="openai", account_id="o", event_type="message_usage",
                         occurred_at=now - 10 - i, message_id=f"m{i}", model="gpt", input_tokens=10,
                         cost_usd=13.0) for i in range(2)]
    writer.submit_events(events).wait(10)
    [alert] = svc.evaluate({("openai", "o")}, now=now)
    assert alert["value"] == 26.0 and alert["threshold"] == 25.0 and alert["resets_at"]
    assert alert["message"] == "spend in 1d: 26.00 USD (budget 25 USD)"


def test_status_rule_and_state_kept_in_the_store(store):
    writer, reader = store
    now = time.time()
    put(writer, UsageSnapshot(provider_id="openai", account_id="o", status="AUTH", message="set OPENAI_API_KEY"))
    rules = [{"id": "broken", "when": "status", "status": ["AUTH", "ERR"], "for_seconds": 600}]
    svc = service(writer, reader, rules)
    assert svc.evaluate(now=now) == [] and svc.evaluate(now=now + 599) == []
    [alert] = svc.evaluate(now=now + 600)
    assert alert["message"] == "status AUTH: set OPENAI_API_KEY" and alert["status"] == "AUTH"
    again = service(writer, reader, rules)
    again.load()
    assert again.evaluate(now=now + 700) == []  # a new service (a restarted daemon) knows it fired
    assert again.firing() == [{"rule": "broken", "provider_id": "openai", "account_id": "o", "firing": True}]
    assert again.mark_seen() == 1 and again.view()["unseen"] == 0
    renamed = service(writer, reader, [dict(rules[0], id="renamed")])
    renamed.load()  # a rule gone from settings.json: its rows go
    assert state_mod.load(reader()) == {}


def test_migration_adds_the_alert_table_to_an_older_store(tmp_path):
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in db._split(db.MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    conn.close()
    conn = db.open_store(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    key = ("r", "p", "a", "5h")
    state_mod.save(conn, {key: State(armed=False, firing=True, fired_at=5.0, value=91.0, seen=False)}, now=6.0)
    assert state_mod.load(conn)[key] == State(armed=False, firing=True, fired_at=5.0, value=91.0, seen=False)
    assert state_mod.mark_seen(conn, "p", "other") == 0 and state_mod.mark_seen(conn, "p") == 1
    assert state_mod.forget_rules(conn, ["r"]) == 0 and state_mod.forget_rules(conn, []) == 1
    conn.close()


def test_unknown_test_rule(store):
    writer, reader = store
    svc = service(writer, reader, [])
    with pytest.raises(KeyError):
        svc.test("nope")
    sample = svc.test()
    assert sample["alert"]["test"] is True and [o["channel"] for o in sample["delivered"]] == ["log"]


def test_projected_exhaustion_from_the_pace_the_read_model_computes(store):
    writer, reader = store
    now = time.time()
    svc = service(writer, reader, [{"id": "pace", "when": "projected_exhaustion", "provider": "claude_code",
                                    "before_reset": True}])

    def reading(used, at):
        # a 5-hour window that began an hour before `now`: the rate is what was used since its start
        limit = RateLimit(used_percent=used, resets_at=format_rfc3339(now + 4 * 3600), source="oauth",
                          observed_at=format_rfc3339(at), window_seconds=18000)
        put(writer, UsageSnapshot(provider_id="claude_code", account_id="me", rate_limits={"5h": limit}))

    reading(10.0, now)  # 10 %/h: full in 9 h, after the reset
    assert svc.evaluate(now=now) == []
    reading(60.0, now + 60)  # ~60 %/h: full in about 40 min, before the reset in 4 h
    [alert] = svc.evaluate(now=now + 60)
    assert alert["rule"] == "pace" and alert["limit"] == "5h" and alert["rate_percent_per_hour"] > 50
    assert alert["exhausts_at"] < alert["resets_at"]
    assert svc.evaluate(now=now + 120) == []
