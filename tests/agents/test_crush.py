"""Crush: sessions' running cost in each project's database (fixture: tests/fixtures/crush)."""
import json
import os
import sqlite3

from agentcase import install, poller, store_events, totals
from support import usage

from openusage.agents import crush
from openusage.agents.files import Found


def test_a_session_is_booked_by_its_cost_not_by_its_context_tokens():
    found = Found("/p/app/.crush/crush.db", "/p/app/.crush", (), "crush.db")
    (u,) = crush.parse_session_row({"id": "s", "cost": 0.5, "created_at": 1796083140, "prompt_tokens": 18200,
                                    "completion_tokens": 640, "model": "gpt-5"}, found)
    assert (u.total_tokens(), u.cost_logged, u.model, u.project) == (0, 0.5, "gpt-5", "app")
    assert u.raw["context_prompt_tokens"] == 18200
    assert crush.parse_session_row({"id": "z", "cost": 0.0, "created_at": 1}, found) == []


def test_projects_json_lists_the_databases_and_a_cost_that_grows_is_kept(isolated_home, store, zone):
    zone("UTC")
    writer, reader = store
    home = install("crush", isolated_home)
    p = poller("crush", home)
    events, snap = p.poll()
    assert snap.extras["roots"] == [os.path.join(home, "dev", "gosvc", ".crush")]  # the gone project is left out
    assert {e.project for e in usage(events)} == {"gosvc"}
    store_events(writer, events)
    conn = sqlite3.connect(os.path.join(home, "dev", "gosvc", ".crush", "crush.db"))
    conn.execute("UPDATE sessions SET cost = cost + 0.1, prompt_tokens = 900, updated_at = 1796090100 "
                 "WHERE id = 'sess-c1'")
    conn.commit()
    conn.close()
    events, _ = p.poll()
    assert [e.message_id for e in usage(events)] == ["sess-c1"]
    store_events(writer, events)
    assert totals(reader(), "crush")[("2026-11-30", "claude-sonnet-4-5-20250929")] == (0, 0.5312)


def test_without_projects_it_looked_in_the_data_dir(isolated_home):
    home = str(isolated_home)
    os.makedirs(os.path.join(home, ".local", "share", "crush"))
    with open(os.path.join(home, ".local", "share", "crush", "projects.json"), "w") as fh:
        json.dump({"projects": []}, fh)
    events, snap = poller("crush", home).poll()
    assert events == [] and snap.extras["roots"] == [os.path.join(home, ".local", "share", "crush")]
