"""Live plan quotas as a user meets them: Claude Code signed in, the real daemon polling a fake usage
endpoint, the read model with the pace projection, a restart that keeps the readings, and the dashboard
(pyte) showing the gauges with their reset countdowns and the pace line."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "providers"))

from fakeserver import FakeServer  # noqa: E402
from quota_helpers import digest, write_json  # noqa: E402
from support import wait_for  # noqa: E402
from test_agents_e2e import Screen  # noqa: E402

from openusage.core.timeutil import format_rfc3339, to_epoch  # noqa: E402
from openusage.daemon import client  # noqa: E402
from openusage.tui import state as st  # noqa: E402
from openusage.tui.source import DaemonSource  # noqa: E402


class Usage:
    """The fake endpoint's answer: the 5h window grows by one percent a poll, in a window that began 2h ago."""

    def __init__(self):
        self.lock = threading.Lock()
        self.used = 40.0
        self.resets = time.time() + 3 * 3600

    def __call__(self, request):
        with self.lock:
            self.used += 1.0
            body = {"five_hour": {"utilization": self.used, "resets_at": format_rfc3339(self.resets)},
                    "seven_day": {"utilization": 81.0, "resets_at": format_rfc3339(self.resets + 4 * 86400)},
                    "seven_day_opus": None, "extra_usage": None}
        return 200, {}, body


def settings(home, srv):
    path = home / ".config" / "openusage" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auto_detect": False, "ui": {"warn_threshold": 0.2}, "accounts": [
        {"id": "claude_code", "provider": "claude_code", "usage_api_base": srv.url, "interval_seconds": 1}]}))


def snapshot(d):
    return client.call_json(d.socket_path, "POST", "/v1/read-model", {"window": "7d"})["snapshots"].get("claude_code")


def test_daemon_polls_projects_the_pace_survives_a_restart_and_the_dashboard_shows_it(
        isolated_home, daemon_factory):
    (isolated_home / ".claude" / "projects").mkdir(parents=True)
    creds = write_json(str(isolated_home / ".claude" / ".credentials.json"), {"claudeAiOauth": {
        "accessToken": "sk-ant-oat01-e2e-token-0123456789", "refreshToken": "sk-ant-ort01-never",
        "expiresAt": int((time.time() + 86400) * 1000), "subscriptionType": "max"}})
    before = digest(creds)
    usage = Usage()
    with FakeServer() as srv:
        srv.route("GET", "/api/oauth/usage", handler=usage)
        settings(isolated_home, srv)
        d = daemon_factory().start()
        assert wait_for(lambda: len(srv.requests) >= 3, 20)

        def has_pace():
            snap = snapshot(d)
            return bool(snap and (snap.get("rate_limits") or {}).get("5h", {}).get("pace"))

        assert wait_for(has_pace, 10)
        snap = snapshot(d)
        five, weekly = snap["rate_limits"]["5h"], snap["rate_limits"]["weekly"]
        assert five["source"] == "oauth" and five["window_seconds"] == 18000
        assert abs(to_epoch(five["observed_at"]) - time.time()) < 10
        # About 41..45 % two hours into a five-hour window: ~21 %/h, full in ~2h40m, before the reset in 3h.
        assert 19 < five["pace"]["rate_percent_per_hour"] < 24 and five["pace"]["before_reset"] is True
        assert weekly["used_percent"] == 81.0 and snap["status"] == "WARN"
        assert snap["extras"]["plan"] == "max"
        assert len(snap["extras"]["limits_history"]["5h"]) >= 2

        # /metrics on the daemon's socket carries the pace.
        text = client.request(d.socket_path, "GET", "/metrics")[1].decode()
        assert 'openusage_rate_limit_pace_percent_per_hour{provider="claude_code",account="claude_code",limit="5h"}' \
            in text

        # A restart: the endpoint now fails; the last values stay, with their age, and so does the pace.
        assert d.stop() == 0
        srv.route("GET", "/api/oauth/usage", status=500, body={"error": "down"})
        d2 = daemon_factory().start()
        assert wait_for(lambda: (snapshot(d2) or {}).get("extras", {}).get("quota_error"), 20)
        again = snapshot(d2)
        assert again["rate_limits"]["5h"]["observed_at"] == snapshot_observed(snap)
        assert again["rate_limits"]["5h"]["pace"]["rate_percent_per_hour"] > 19
        assert len(again["extras"]["limits_history"]["5h"]) >= 2

        # The dashboard on that read model: gauges with reset countdowns, the pace line, source and age.
        source = DaemonSource(d2.socket_path, autostart=False)
        ui = Screen(source, 100, 30)
        try:
            ui.app.start()
            assert ui.app.poll_results(wait=10)
            text = ui.draw()
            lines = text.split("\n")
            gauge = next(line for line in lines if " 5h " in line and "%" in line)
            assert "↻2h5" in gauge or "↻2h4" in gauge  # resets in a little under 3h... minus the test's time
            assert any("weekly" in line and "81%" in line and "↻" in line for line in lines)
            assert any("plan max" in line and "oauth" in line and "ago" in line for line in lines)
            assert any("5h full in 2h" in line and "before reset" in line for line in lines)
            assert any("weekly plan window 81% used" in line for line in lines)
            text = ui.press("\r" + "]" * st.DETAIL_TABS.index("limits"))
            assert "at this pace: 100% in 2h" in text and "before the reset in 2h5" in text
            assert "oauth, " in text and " ago" in text
        finally:
            ui.app.stop()
            ui.app.fetcher.join(5)
            source.close()
        assert d2.stop() == 0
    assert digest(creds) == before


def snapshot_observed(snap):
    return snap["rate_limits"]["5h"]["observed_at"]
