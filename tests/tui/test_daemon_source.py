"""The dashboard's daemon source against a real daemon, a socket nobody answers, and a bad server."""
import json
import os
import socket
import threading

import pytest

from openusage.tui.source import DaemonSource, SourceError


def test_fetch_and_refresh_against_the_daemon(inprocess_daemon):
    d = inprocess_daemon()
    source = DaemonSource(d.socket_path, autostart=False)
    model = source.fetch("7d")
    assert isinstance(model["snapshots"], dict) and source.describe() == "daemon ok"
    assert model["alerts"] == []  # GET /v1/alerts answered: nothing fired
    source.mark_seen("demo", "demo")
    source.refresh()
    with pytest.raises(SourceError, match="daemon answered 400"):
        source.fetch("2w")  # an unknown window: the daemon's own error, said as it said it
    source.close()


def test_nobody_answers(short_dir):
    path = os.path.join(short_dir, "none.sock")
    source = DaemonSource(path, autostart=False, timeouts=(0.5, 1.0))
    with pytest.raises(SourceError, match=r"no daemon answers on .*none\.sock \((FileNotFoundError|no answer)\)"):
        source.fetch("30d")
    assert source.describe() == "daemon unreachable, retrying"


def _serve_once(path, response):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def answer():
        conn, _ = srv.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0].split(b":")[1])
            while len(body) < length:
                body += conn.recv(4096)
            conn.sendall(response)
        srv.close()

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("response, message", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", "not JSON"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]", "not a read model"),
    (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 27\r\nConnection: close\r\n\r\n"
     + json.dumps({"error": "shutting down"}).encode().ljust(27), "daemon answered 503: shutting down"),
])
def test_answers_that_are_not_a_read_model(short_dir, response, message):
    path = os.path.join(short_dir, "bad.sock")
    t = _serve_once(path, response)
    source = DaemonSource(path, autostart=False, timeouts=(1.0, 5.0))
    with pytest.raises(SourceError, match=message):
        source.fetch("30d")
    t.join(5)


def test_the_dashboard_path_never_imports_requests(short_dir):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from openusage.cli import dashboard_cmd\n"
        "from openusage.tui import run, source\n"
        f"s = source.DaemonSource({os.path.join(short_dir, 'x.sock')!r}, autostart=False, timeouts=(0.2, 0.2))\n"
        "try:\n    s.fetch('30d')\nexcept source.SourceError:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('requests', 'urllib3')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"  # its import alone is ~0.1 s of the dashboard's start


def test_widget_specs_import_only_the_providers_on_screen():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from openusage.tui.fetcher import widget_specs\n"
        "specs = widget_specs(['claude_code', 'no_such_provider'])\n"
        "assert specs['claude_code']['gauges'] == ['5h', 'weekly'] and specs['no_such_provider'] == {}, specs\n"
        "print(sorted(m for m in sys.modules if m.startswith(('openusage.providers.', 'openusage.agents.'))\n"
        "             and m.count('.') == 2))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = set(eval(done.stdout))
    assert "openusage.agents.claude_code" in loaded
    assert not loaded & {"openusage.providers.openai", "openusage.providers.cursor", "openusage.agents.codex"}


def test_the_fetcher_sends_specs_when_a_provider_first_appears():
    import queue

    from openusage.tui.fetcher import Fetcher

    class Source:
        models = [{"snapshots": {"a": {"provider_id": "claude_code"}}},
                  {"snapshots": {"a": {"provider_id": "claude_code"}}},
                  {"snapshots": {"a": {"provider_id": "claude_code"}, "b": {"provider_id": "codex"}}}]

        def fetch(self, window):
            return self.models.pop(0)

    results: queue.Queue = queue.Queue()
    f = Fetcher(Source(), results)
    f.start()
    for _ in range(3):
        f.submit("fetch", "30d")
    got = [results.get(timeout=10) for _ in range(3)]
    f.stop()
    assert [r[0] for r in got] == ["data"] * 3
    assert set(got[0][3]) == {"claude_code"} and got[1][3] is None and set(got[2][3]) == {"claude_code", "codex"}


def test_unseen_alerts_newest_first_with_their_messages():
    from openusage.tui.source import unseen_alerts

    row = {"rule": "r", "provider_id": "p", "account_id": "a", "limit": "5h", "seen": False,
           "fired_at": "2026-12-01T10:00:00.000Z"}
    view = {"alerts": [row, dict(row, limit="weekly", fired_at="2026-12-02T10:00:00.000Z"),
                       dict(row, account_id="b", seen=True)],
            "recent": [dict(row, message="5h at 91 %"), dict(row, message="5h at 85 %")]}
    assert [(a["limit"], a["message"]) for a in unseen_alerts(view)] == [("weekly", None), ("5h", "5h at 91 %")]
    assert unseen_alerts("not a view") == []
