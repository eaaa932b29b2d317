"""History past retention is never counted twice (issue 13.1), with the real daemon and its store.

Sixty days of Claude Code transcripts and Codex rollouts, in the formats of tests/fixtures (see
their PROVENANCE.md): the daemon reads them, a restart prunes the event rows older than
data.retention_days (30) + 1 day, and then each way a user makes the same lines be read again must
leave every stored total per day and model as it was.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest
from support import wait_for

from openusage.core.timeutil import format_rfc3339
from openusage.daemon import client

DAY = 86400
DAYS = 60
NOON = (int(time.time()) // DAY) * DAY + DAY // 2  # today, 12:00 UTC (the tests run in UTC)


def _claude_line(sid, mid, at, out, model):
    return json.dumps({
        "type": "assistant", "sessionId": sid, "cwd": "/home/u/app", "timestamp": format_rfc3339(at),
        "requestId": f"req-{mid}", "uuid": f"u-{mid}-{out}",
        "message": {"id": mid, "model": model, "role": "assistant", "content": [{"type": "text", "text": "ok"}],
                    "usage": {"input_tokens": 7, "output_tokens": out, "cache_read_input_tokens": 1000,
                              "cache_creation_input_tokens": 30}}})


def _codex_lines(sid, at, n):
    def line(kind, payload, t):
        return json.dumps({"timestamp": format_rfc3339(t), "type": kind, "payload": payload})

    out = [line("session_meta", {"id": sid, "timestamp": format_rfc3339(at), "cwd": "/home/u/app",
                                 "originator": "codex_cli_rs", "cli_version": "0.120.0", "source": "cli"}, at),
           line("turn_context", {"cwd": "/home/u/app", "model": "gpt-5.3-codex", "effort": "medium"}, at)]
    total = [0, 0, 0, 0]
    for i in range(n):
        step = [1200 + i, 800, 90 + i, 10]
        total = [a + b for a, b in zip(total, step)]
        usage = lambda v: {"input_tokens": v[0], "cached_input_tokens": v[1], "output_tokens": v[2],  # noqa: E731
                           "reasoning_output_tokens": v[3], "total_tokens": v[0] + v[2]}
        out.append(line("event_msg", {"type": "token_count", "info": {"total_token_usage": usage(total),
                                                                      "last_token_usage": usage(step)},
                                      "rate_limits": None}, at + 60 * (i + 1)))
    return out


def _write(path, lines, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode, encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))


def _claude_file(home, k):
    return os.path.join(home, ".claude", "projects", "-home-u-app", f"s{k:02d}.jsonl")


def _codex_file(home, k, archived=False):
    day = time.strftime("%Y/%m/%d", time.gmtime(NOON - k * DAY))
    sid = f"019c9000-0000-7000-8000-{k:012d}"
    name = f"rollout-{time.strftime('%Y-%m-%dT12-00-00', time.gmtime(NOON - k * DAY))}-{sid}.jsonl"
    if archived:
        return os.path.join(home, ".codex", "archived_sessions", name)
    return os.path.join(home, ".codex", "sessions", *day.split("/"), name)


def _sixty_days(home):
    for k in range(DAYS):
        at = NOON - k * DAY
        sid = f"sess-{k:02d}"
        lines = []
        for j in range(3):
            mid = f"msg_{k:02d}_{j}"
            model = "claude-sonnet-4-5" if j % 2 else "claude-opus-4-1"
            lines.append(_claude_line(sid, mid, at + 30 * j, 3, model))  # the streaming copy
            lines.append(_claude_line(sid, mid, at + 30 * j + 2, 100 + k + j, model))  # the final copy
        _write(_claude_file(home, k), lines)
        old = NOON - (DAYS + 5) * DAY  # every file's mtime is old: idle files cool on their first read
        os.utime(_claude_file(home, k), (old, old))
        _write(_codex_file(home, k), _codex_lines(f"019c9000-0000-7000-8000-{k:012d}", at, 2 + k % 3))


def totals(db_path):
    """Every stored total per provider, day and model (and per quarter-hour), rounded costs."""
    conn = sqlite3.connect(db_path)
    try:
        days = conn.execute(
            "SELECT provider_id, day, model, SUM(input), SUM(output), SUM(cache_read), SUM(cache_write), "
            "SUM(reasoning), ROUND(SUM(cost), 9), SUM(requests), SUM(events) FROM rollup_d "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3").fetchall()
        quarters = conn.execute(
            "SELECT provider_id, bucket, model, session_id, SUM(input), SUM(output), SUM(cache_read), "
            "SUM(requests), SUM(events) FROM rollup_q GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4").fetchall()
        events = conn.execute("SELECT MIN(occurred_at) FROM event_detail").fetchone()[0]
    finally:
        conn.close()
    return {"days": days, "quarters": quarters, "oldest_event": events}


class History:
    """A daemon over sixty days of logs, restarted once so that retention has pruned."""

    def __init__(self, daemon_factory, home, zone):
        zone("UTC")
        self.home = home
        _sixty_days(home)
        self.daemon_factory = daemon_factory
        self.daemon = daemon_factory().start()
        self.db = os.path.join(self.daemon.state_dir, "telemetry.db")
        self.wait_polled()
        self.daemon.stop()
        self.daemon = daemon_factory().start()  # the maintenance pass at start prunes
        assert wait_for(lambda: (totals(self.db)["oldest_event"] or 0) > NOON - 33 * DAY, 20), "not pruned"
        self.wait_polled()
        self.before = totals(self.db)
        assert len({d[1] for d in self.before["days"]}) == DAYS  # sixty days, of which ~29 pruned
        assert self.before["oldest_event"] > NOON - 33 * DAY

    def health(self):
        return client.call_json(self.daemon.socket_path, "GET", "/healthz", timeout=5)

    def wait_polled(self, since=0.0):
        """Until the Claude Code and Codex accounts have each finished a poll that began after `since`."""
        stamp = format_rfc3339(since)

        def done():
            providers = self.health().get("providers", {})
            polled = [p for p in providers.values() if p["provider"] in ("claude_code", "codex")]
            return len(polled) == 2 and all(not p["running"] and (p.get("last_success") or "") > stamp
                                            for p in polled)

        assert wait_for(done, 30), self.health()

    def refresh(self):
        time.sleep(1.05)  # poll stamps have whole seconds: the next one must be later than this
        since = time.time()
        client.call_json(self.daemon.socket_path, "POST", "/v1/refresh", {}, timeout=5)
        self.wait_polled(since)

    def cli(self, *args):
        env = dict(os.environ, OPENUSAGE_STATE_DIR=self.daemon.state_dir)
        return subprocess.run([sys.executable, "-m", "openusage", "--socket-path", self.daemon.socket_path, *args],
                              env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def history(daemon_factory, isolated_home, zone):
    return History(daemon_factory, str(isolated_home), zone)


def test_cache_clear_after_pruning_counts_nothing_again(history):
    done = history.cli("cache", "clear")
    assert done.returncode == 0, done.stderr
    history.wait_polled(time.time() - 0.5)
    history.refresh()
    assert totals(history.db)["days"] == history.before["days"]
    assert totals(history.db)["quarters"] == history.before["quarters"]


def test_an_old_session_resumed_into_a_new_file_adds_only_what_is_new(history):
    old = _claude_file(history.home, 40)
    with open(old, encoding="utf-8") as fh:
        copied = fh.read().splitlines()
    resumed = os.path.join(os.path.dirname(old), "resumed.jsonl")
    new_line = _claude_line("sess-40", "msg_new", NOON, 55, "claude-sonnet-4-5")
    _write(resumed, copied + [new_line])  # Claude Code copies the resumed conversation into the new file
    history.refresh()
    after = totals(history.db)
    today = time.strftime("%Y-%m-%d", time.gmtime(NOON))
    grown = [d for d in after["days"] if d not in history.before["days"]]
    assert [(d[0], d[1], d[2]) for d in grown] == [("claude_code", today, "claude-sonnet-4-5")]
    assert [d for d in after["days"] if d[1] != today] == [d for d in history.before["days"] if d[1] != today]


def test_an_idle_file_that_grows_again_is_not_counted_twice(history):
    old = _claude_file(history.home, 45)
    _write(old, [_claude_line("sess-45", "msg_late", NOON, 9, "claude-opus-4-1")], mode="a")
    history.refresh()
    after = totals(history.db)
    today = time.strftime("%Y-%m-%d", time.gmtime(NOON))
    assert [d for d in after["days"] if d[1] != today] == [d for d in history.before["days"] if d[1] != today]
    before_today = {d[2]: d for d in history.before["days"] if d[1] == today and d[0] == "claude_code"}
    after_today = {d[2]: d for d in after["days"] if d[1] == today and d[0] == "claude_code"}
    assert after_today["claude-opus-4-1"][4] == before_today["claude-opus-4-1"][4] + 9


def test_an_old_file_restored_with_a_new_inode_counts_nothing_again(history, tmp_path):
    old = _claude_file(history.home, 45)
    saved = str(tmp_path / "backup.jsonl")
    shutil.copy2(old, saved)
    os.remove(old)
    history.refresh()
    shutil.copy2(saved, old)  # a restore: same bytes, another inode
    history.refresh()
    assert totals(history.db)["days"] == history.before["days"]


def test_a_codex_rollout_moved_to_the_archive_counts_nothing_again(history):
    for k in (2, 44):
        src, dst = _codex_file(history.home, k), _codex_file(history.home, k, archived=True)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.replace(src, dst)
    history.refresh()
    assert totals(history.db)["days"] == history.before["days"]


def test_usage_save_with_an_empty_state_changes_no_stored_total(history):
    history.daemon.stop()  # --save writes the store itself, so never beside a daemon (it is refused then)
    done = history.cli("usage", "--save", "--provider", "claude_code", "--provider", "codex", "--json")
    assert done.returncode == 0, done.stderr
    assert totals(history.db)["days"] == history.before["days"]
    assert totals(history.db)["quarters"] == history.before["quarters"]


def test_a_streaming_copy_split_by_midnight_moves_wholly_to_the_kept_copys_day(daemon_factory, isolated_home,
                                                                                  zone):
    """Issue 13.2 through the daemon: the first copy read before local midnight, the final one after."""
    zone("Asia/Kathmandu")  # +05:45: local midnight is 18:15 UTC
    midnight = NOON - DAY // 2 - 5 * 3600 - 45 * 60  # today's local midnight: 18:15 UTC the day before
    transcript = _claude_file(str(isolated_home), 0)
    _write(transcript, [_claude_line("s-mid", "msg_mid", midnight - 2, 1, "claude-sonnet-4-5")])
    daemon = daemon_factory().start()
    db_path = os.path.join(daemon.state_dir, "telemetry.db")
    assert wait_for(lambda: totals(db_path)["days"], 20)
    _write(transcript, [_claude_line("s-mid", "msg_mid", midnight + 3, 250, "claude-sonnet-4-5")], mode="a")
    time.sleep(1.05)
    client.call_json(daemon.socket_path, "POST", "/v1/refresh", {}, timeout=5)
    assert wait_for(lambda: [d[4] for d in totals(db_path)["days"]] == [250], 20), totals(db_path)
    day = totals(db_path)["days"][0]
    assert day[1] == time.strftime("%Y-%m-%d", time.localtime(midnight + 3))
    assert day[3:6] == (7, 250, 1000) and day[9:] == (1, 1)  # input, output, cache read; one request, one event
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT bucket FROM rollup_q").fetchall() == [((midnight + 3) // 900,)]
        assert {r[0] for r in conn.execute("SELECT day FROM dim_d")} == {day[1]}
        assert conn.execute("SELECT occurred_at FROM event_detail WHERE event_type='message_usage'").fetchall() == [
            (float(midnight + 3),)]
    finally:
        conn.close()
