"""Goose: its sessions database, read-only from an updated_at cursor (fixture: tests/fixtures/goose)."""
import os
import sqlite3

from agentcase import install, poller, store_events, totals
from support import usage

from openusage.agents import goose
from openusage.agents.files import Found

FOUND = Found("/g/sessions/sessions.db", "/g", ("sessions",), "sessions.db")


def db_path(home):
    return os.path.join(home, ".local", "share", "goose", "sessions", "sessions.db")


def test_rows_and_the_schema_probe():
    row = {"id": "s1", "created_at": "2026-11-30 23:58:00", "input": 1000, "output": 10,
           "accumulated_cache_read_tokens": 700, "accumulated_cache_write_tokens": 100,
           "model_config_json": '{"model_name": "gpt-4.1"}', "working_dir": "/w/ci", "accumulated_cost": 0.2}
    (u,) = goose.parse_session_row(row, FOUND)
    assert (u.key, u.input_tokens, u.cache_read_tokens, u.cache_write_tokens, u.cost_logged, u.project) == \
        ("s1", 200, 700, 100, 0.2, "ci")
    assert u.occurred_at == 1796083080.0  # CURRENT_TIMESTAMP text is UTC
    assert goose.parse_session_row(dict(row, input=0, output=0, accumulated_cache_read_tokens=0,
                                        accumulated_cache_write_tokens=0), FOUND) == []
    assert goose.select({"id", "updated_at", "name"}) is None
    assert goose.select({"id", "input_tokens", "output_tokens"}) == "t.input_tokens AS input, t.output_tokens AS output"


def test_a_session_row_that_moves_on_grows_and_nothing_is_written_beside_the_db(isolated_home, store, zone):
    zone("UTC")
    writer, reader = store
    home = install("goose", isolated_home)
    folder = os.path.dirname(db_path(home))
    before = sorted(os.listdir(folder))
    p = poller("goose", home)
    events, snap = p.poll()
    assert len(usage(events)) == 3 and snap.extras["dbs"] == 1
    store_events(writer, events)
    assert p.poll()[0] == []
    conn = sqlite3.connect(db_path(home))
    conn.execute("UPDATE sessions SET accumulated_input_tokens = accumulated_input_tokens + 5000, "
                 "accumulated_output_tokens = accumulated_output_tokens + 400, accumulated_cost = 0.2, "
                 "updated_at = '2026-12-01 10:00:00' WHERE id = '20261130_1'")
    conn.commit()
    conn.close()
    events, _ = p.poll()
    assert [e.message_id for e in usage(events)] == ["20261130_1"]
    store_events(writer, events)
    assert totals(reader(), "goose")[("2026-11-30", "claude-sonnet-4-5")] == (48000 + 5400, 0.2)
    assert sorted(os.listdir(folder)) == before  # opened read-only: no -wal or -shm left beside it


def test_goose_path_root_replaces_the_default(isolated_home, tmp_path):
    install("goose", tmp_path / "o")
    os.makedirs(tmp_path / "root" / "data")
    os.replace(str(tmp_path / "o" / ".local" / "share" / "goose" / "sessions"),
               str(tmp_path / "root" / "data" / "sessions"))
    events, snap = poller("goose", isolated_home, environ={"GOOSE_PATH_ROOT": str(tmp_path / "root")}).poll()
    assert snap.extras["roots"] == [str(tmp_path / "root" / "data")] and len(usage(events)) == 3
