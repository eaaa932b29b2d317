"""The shared agent machinery, driven by a small agent declared here as an agent module would be."""
import functools
import json
import os
import sqlite3

import pytest
import support
from support import tools, usage

from openusage import agents
from openusage.agents import files, roots
from openusage.agents import sqlite as agent_sqlite
from openusage.agents.base import AgentProvider
from openusage.agents.records import Skip, ToolCall, Usage, count, project_name, text
from openusage.agents.roots import EnvRoot, Roots
from openusage.agents.sources import JsonlSource, JsonSource, SqliteSource
from openusage.core import pricing
from openusage.core.timeutil import parse_rfc3339
from openusage.providers.base import AccountConfig

# --- a sample agent: its roots and its pure parsers ---------------------------------------------


def parse_line(obj, ctx, found):
    if obj.get("type") == "session":
        ctx["sid"] = obj["id"]
        return []
    if obj.get("type") != "assistant":
        return []
    ts = parse_rfc3339(obj.get("ts"))
    if ts is None:
        raise Skip("bad_timestamp")
    out = [ToolCall(ts, c, "Read", session_id=ctx.get("sid")) for c in obj.get("tools", [])]
    u = obj.get("usage") or {}
    out.append(Usage(ts, f"{ctx.get('sid', found.stem)}:{obj['id']}", text(obj.get("model")),
                     input_tokens=count(u.get("in")), output_tokens=count(u.get("out")),
                     cache_read_tokens=count(u.get("cr")), cost_logged=obj.get("cost"),
                     session_id=ctx.get("sid"), project=project_name(obj.get("cwd"))))
    return out


def parse_doc(doc, found):
    for m in doc.get("messages", []):
        yield Usage(parse_rfc3339(m["ts"]), f"{found.stem}:{m['id']}", m.get("model"),
                    input_tokens=count(m.get("in")), output_tokens=count(m.get("out")), session_id=found.stem)


def parse_row(row, found):
    return [Usage(row["time_updated"] / 1000.0, f"db:{row['id']}", row["model"],
                  input_tokens=count(row["tokens_in"]), output_tokens=count(row["tokens_out"]),
                  cost_logged=row["cost"], session_id=row["id"])]


def select(columns):
    return "t.model, t.tokens_in, t.tokens_out, t.cost" if "tokens_in" in columns else None


class SampleProvider(AgentProvider):
    id = "sample"
    name = "Sample Agent"
    roots = Roots(defaults=("$XDG_DATA_HOME/sample", "~/.sample"), env=(EnvRoot("SAMPLE_HOME", "data"),))
    sources = (
        JsonlSource("sessions/**/*.jsonl", parse_line, markers=(b'"assistant"', b'"session"')),
        JsonSource("threads/*.json", parse_doc),
        SqliteSource("sample.db", "sessions", parse_row, select=select),
    )


PROVIDER = SampleProvider()
ACCOUNT = AccountConfig(id="sample", provider="sample")
Poller = functools.partial(support.Poller, PROVIDER, ACCOUNT)


def data_root(home):
    return os.path.join(str(home), ".local", "share", "sample")


def write_lines(path, records, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as fh:
        for r in records:
            fh.write(r if isinstance(r, str) else json.dumps(r) + "\n")


def msg(mid, inp=100, out=10, model="claude-sonnet-4-5", **extra):
    return dict({"type": "assistant", "id": mid, "ts": "2026-06-01T10:00:00Z", "model": model,
                 "usage": {"in": inp, "out": out}}, **extra)


# --- registry rows ------------------------------------------------------------------------------


def test_every_declaration_comes_from_the_agent_rows():
    from openusage import config
    from openusage.daemon import pipeline
    from openusage.providers import BUILTINS

    ids = [row.id for row in agents.AGENTS]
    assert list(BUILTINS)[:len(ids)] == ids and all(BUILTINS[i][2] for i in ids)
    for row in agents.AGENTS:
        assert all(pipeline.SOURCE_PROVIDERS[s] == row.id for s in row.hook_sources)
        assert all(config.DEFAULT_LINKS[name] == row.id for name in row.links)
    assert pipeline._HOOK_EVENTS["PostToolUse"] == "tool_usage"


def test_env_vars_come_from_the_roots():
    assert SampleProvider.env_vars == ("SAMPLE_HOME", "XDG_DATA_HOME")
    assert PROVIDER.nothing == "no Sample Agent data found"


# --- roots and files ----------------------------------------------------------------------------


def test_roots_defaults_xdg_and_overrides(tmp_path):
    home = str(tmp_path)
    spec = SampleProvider.roots
    assert spec.resolve({}.get, home) == [os.path.join(home, ".local/share/sample"), os.path.join(home, ".sample")]
    assert spec.resolve({"XDG_DATA_HOME": "/x/data"}.get, home)[0] == "/x/data/sample"
    assert spec.resolve({"XDG_DATA_HOME": "relative"}.get, home)[0] == os.path.join(home, ".local/share/sample")
    assert spec.resolve({"SAMPLE_HOME": "~/a, /b,"}.get, home) == [os.path.join(home, "a/data"), "/b/data"]
    mac = Roots(defaults=("~/.m",), darwin=("~/Library/Application Support/m",))
    assert mac.resolve({}.get, home, platform="darwin")[1] == os.path.join(home, "Library/Application Support/m")
    assert mac.resolve({}.get, home, platform="linux") == [os.path.join(home, ".m")]
    assert roots.account_paths({"paths": ["~/w", "", 3, "~/w"]}, home) == [os.path.join(home, "w")]
    assert roots.account_paths({}, home) == []


def test_find_matches_patterns_in_order_and_walks_a_root_once(tmp_path):
    root = tmp_path / "r"
    for rel in ("sessions/b/2.jsonl", "sessions/a/1.jsonl", "sessions/0.jsonl", "sessions/a/x.txt",
                "threads/t.json", "threads/deep/u.json"):
        os.makedirs(os.path.dirname(root / rel), exist_ok=True)
        (root / rel).write_text("{}\n")
    os.symlink(root, tmp_path / "link")
    found = list(files.find([str(root), str(tmp_path / "link")], "sessions/**/*.jsonl"))
    assert [f.path[len(str(root)) + 1:] for f in found] == ["sessions/0.jsonl", "sessions/a/1.jsonl",
                                                           "sessions/b/2.jsonl"]
    assert found[1].parts == ("sessions", "a") and found[1].stem == "1"
    assert [f.name for f in files.find([str(root)], "threads/*.json")] == ["t.json"]


# --- detection and fetch ------------------------------------------------------------------------


def test_missing_root_is_unknown_saying_where_it_looked(tmp_path):
    assert PROVIDER.detect({}, str(tmp_path), lambda _: None) == []
    events, snap = Poller(tmp_path).poll()
    assert events == [] and snap.status == "UNKNOWN"
    assert snap.message.startswith("no Sample Agent data found (looked in ") and data_root(tmp_path) in snap.message


def test_jsonl_grows_truncated_line_and_replacement(tmp_path):
    path = os.path.join(data_root(tmp_path), "sessions", "p", "s.jsonl")
    write_lines(path, [{"type": "session", "id": "S"}, msg("m1", tools=["c1"], cwd="/w/proj"),
                       msg("m1", 100, 50, tools=["c1"]), msg("m2", 5, 5), '{"type": "assistant", "id": "m3"'])
    assert PROVIDER.detect({}, str(tmp_path), lambda _: None)[0].detected_by == data_root(tmp_path)
    poller = Poller(tmp_path)
    events, snap = poller.poll()
    by_key = {e.message_id: e for e in usage(events)}
    assert sorted(by_key) == ["S:m1", "S:m2"] and by_key["S:m1"].output_tokens == 50  # the larger copy
    assert by_key["S:m1"].cost_computed_usd == pytest.approx(pricing.compute_cost("claude-sonnet-4-5", 100, 50))
    assert [e.tool_call_id for e in tools(events)] == ["c1"]
    assert snap.extras["messages_new"] == 2 and snap.extras["sessions_new"] == 1
    assert poller.poll()[0] == []  # nothing new
    write_lines(path, [', "ts": "2026-06-01T11:00:00Z", "usage": {"in": 7}}\n', msg("m4", ts="nope")], "a")
    events, snap = poller.poll()
    assert [e.message_id for e in usage(events)] == ["S:m3"] and usage(events)[0].input_tokens == 7
    assert snap.extras["skipped_reasons"] == {"bad_timestamp": 1} and snap.extras["messages_total"] == 3
    os.replace(path, path + ".old")
    write_lines(path, [msg("m9", 1, 1)])
    os.unlink(path + ".old")
    events, _ = poller.poll()
    assert [e.message_id for e in usage(events)] == ["s:m9"]  # read from the start, carry-over reset
    assert list(poller.state["files"]) == [path]


def test_logged_cost_wins_and_unknown_models_are_unpriced(tmp_path):
    path = os.path.join(data_root(tmp_path), "sessions", "s.jsonl")
    write_lines(path, [msg("a", cost=0.5), msg("b", model="no-such-model-anywhere")])
    by_key = {e.message_id: e for e in usage(Poller(tmp_path).poll()[0])}
    assert by_key["s:a"].cost_usd == 0.5 and by_key["s:a"].cost_logged_usd == 0.5
    assert by_key["s:b"].cost_usd is None and by_key["s:b"].cost_computed_usd is None


def test_whole_json_documents_are_read_again_when_they_change(tmp_path):
    path = os.path.join(data_root(tmp_path), "threads", "T.json")
    os.makedirs(os.path.dirname(path))
    doc = {"messages": [{"id": "1", "ts": "2026-06-01T10:00:00Z", "model": "gpt-5", "in": 10, "out": 1}]}
    with open(path, "w") as fh:
        json.dump(doc, fh)
    poller = Poller(tmp_path)
    assert [e.message_id for e in usage(poller.poll()[0])] == ["T:1"]
    assert poller.poll()[0] == []
    doc["messages"].append({"id": "2", "ts": "2026-06-01T10:01:00Z", "model": "gpt-5", "in": 20, "out": 2})
    with open(path, "w") as fh:
        json.dump(doc, fh)
    events, snap = poller.poll()
    assert [e.message_id for e in usage(events)] == ["T:1", "T:2"]  # the store keeps one of each key
    assert snap.extras["messages_total"] == 2
    with open(path, "w") as fh:
        fh.write('{"messages": [')
    assert poller.poll()[1].extras["skipped_reasons"] == {"bad_json": 1}


def make_db(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    conn.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY, model TEXT, tokens_in INT, tokens_out INT, "
                 "cost REAL, time_updated INT)")
    return conn


def test_sqlite_rows_from_a_time_cursor_without_files_beside_the_db(tmp_path):
    path = os.path.join(data_root(tmp_path), "sample.db")
    conn = make_db(path)
    conn.execute("INSERT INTO sessions VALUES ('a', 'gpt-5', 100, 10, NULL, 1000), ('b', 'gpt-5', 5, 5, 0.25, 1000)")
    poller = Poller(tmp_path)
    events, snap = poller.poll()
    assert sorted(e.message_id for e in usage(events)) == ["db:a", "db:b"] and snap.extras["dbs"] == 1
    assert poller.poll()[0] == []
    conn.execute("UPDATE sessions SET tokens_in = 300, time_updated = 2000 WHERE id = 'a'")
    conn.execute("INSERT INTO sessions VALUES ('c', 'gpt-5', 1, 1, NULL, 2000)")
    events, _ = poller.poll()
    assert sorted((e.message_id, e.input_tokens) for e in usage(events)) == [("db:a", 300), ("db:c", 1)]
    conn.close()  # the WAL is checkpointed away: the next read opens the file immutable
    before = sorted(os.listdir(os.path.dirname(path)))
    assert poller.poll()[0] == []
    assert sorted(os.listdir(os.path.dirname(path))) == before == ["sample.db"]


def test_sqlite_unknown_schema_is_skipped(tmp_path):
    path = os.path.join(data_root(tmp_path), "sample.db")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE sessions (id TEXT, other INT, time_updated INT)")
    conn.commit()
    conn.close()
    events, snap = Poller(tmp_path).poll()
    assert events == [] and snap.extras["skipped_reasons"] == {"unknown_schema": 1}


def test_changed_rows_cursor_keeps_ids_at_the_newest_time(tmp_path):
    path = str(tmp_path / "t.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE m (id TEXT, time_updated INT)")
    conn.execute("INSERT INTO m VALUES ('a', 1), ('b', 2)")
    cursor = {"t": None, "ids": []}
    read = [r[0] for chunk in agent_sqlite.ChangedRows(conn, "m", "", cursor) for r in chunk]
    assert read == ["a", "b"] and cursor == {"t": 2, "ids": ["b"]}
    conn.execute("INSERT INTO m VALUES ('c', 2)")
    assert [r[0] for chunk in agent_sqlite.ChangedRows(conn, "m", "", cursor) for r in chunk] == ["c"]
    assert cursor == {"t": 2, "ids": ["b", "c"]}


def test_two_accounts_of_one_agent_read_their_own_paths(tmp_path):
    for name, n in (("work", 1), ("personal", 2)):
        write_lines(str(tmp_path / name / "sessions" / "s.jsonl"), [msg(f"m{i}") for i in range(n)])
    got = {}
    for name in ("work", "personal"):
        account = AccountConfig(id=name, provider="sample", extra={"paths": [str(tmp_path / name)]})
        events, snap = support.Poller(PROVIDER, account, tmp_path).poll()
        got[name] = sorted((e.account_id, e.message_id) for e in usage(events))
        assert snap.extras["roots"] == [str(tmp_path / name)]
    assert got == {"work": [("work", "s:m0")], "personal": [("personal", "s:m0"), ("personal", "s:m1")]}


def test_a_large_read_on_workers_equals_a_read_in_process(tmp_path, monkeypatch):
    from openusage.agents import workers

    results, pools = [], []
    real = workers.in_order
    monkeypatch.setattr(workers, "in_order", lambda *a: pools.append(1) or real(*a))
    for name, threshold in (("one", 1 << 40), ("two", 0)):  # in process, then on a worker process
        home = tmp_path / name
        for s in range(3):
            write_lines(os.path.join(data_root(home), "sessions", f"p{s}", "s.jsonl"),
                        [{"type": "session", "id": f"S{s}"}] + [msg(f"m{i}", 10 + i, i, tools=[f"c{s}{i}"])
                                                                for i in range(5)] + ['{"type": "assis'])
        os.makedirs(os.path.join(data_root(home), "threads"))
        with open(os.path.join(data_root(home), "threads", "T.json"), "w") as fh:
            json.dump({"messages": [{"id": "1", "ts": "2026-06-01T10:00:00Z", "model": "gpt-5", "in": 3}]}, fh)
        monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", threshold)
        monkeypatch.setattr(workers, "worker_count", lambda: 1)
        poller = Poller(home)
        events, snap = poller.poll()
        assert len(pools) == (threshold == 0)  # the pool read the second home only
        state = json.loads(json.dumps(poller.state).replace(str(home), "HOME"))
        for cursor in state["files"].values():
            del cursor["dev"], cursor["ino"]
            cursor.pop("mtime", None)
        extras = {k: v for k, v in snap.extras.items() if k != "roots"}
        results.append(([e.to_dict() for e in events], extras, state))
        assert poller.poll()[0] == []
    assert results[0] == results[1]
    assert len(usage(events)) == 16 and len(tools(events)) == 15 and results[1][1]["files_read"] == 4


def test_an_abandoned_poll_reads_the_unfinished_file_again(tmp_path):
    for s in ("a", "b"):
        write_lines(os.path.join(data_root(tmp_path), "sessions", s + ".jsonl"), [msg("m1"), msg("m2")])
    poller = Poller(tmp_path)
    stream = poller.fetch().events
    assert next(stream).message_id == "a:m1"
    stream.close()  # the consumer went away mid-file: nothing of it was committed
    assert [e.message_id for e in usage(poller.poll()[0])] == ["a:m1", "a:m2", "b:m1", "b:m2"]
    assert poller.poll()[0] == []


def test_a_subclass_of_an_agent_says_its_own_name():
    class Other(SampleProvider):
        id = "other"
        name = "Other Agent"

    assert Other.nothing == "no Other Agent data found" and Other.env_vars == SampleProvider.env_vars


def test_copies_of_one_request_keep_the_most_tokens_then_the_most_cost(tmp_path):
    from openusage.agents.collect import keep_larger

    a, b = Usage(1.0, "k", input_tokens=10, cost_logged=0.1), Usage(2.0, "k", input_tokens=10, cost_logged=0.3)
    assert keep_larger(a, b) is b and keep_larger(b, a) is b
    assert keep_larger(Usage(1.0, "k", input_tokens=11), b).input_tokens == 11
    path = os.path.join(data_root(tmp_path), "sessions", "s.jsonl")
    write_lines(path, [msg("m1", 10, 0, cost=0.1), msg("m1", 10, 0, cost=0.3), msg("m1", 10, 0, cost=0.2)])
    assert [e.cost_usd for e in usage(Poller(tmp_path).poll()[0])] == [0.3]
