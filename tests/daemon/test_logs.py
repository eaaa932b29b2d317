import json
import logging
import os
import sys

from support import wait_for

from openusage.daemon import client, logs

SECRETS = ["sk-proj-abcdefghijklmnop1234567890", "sk-ant-admin01-ZZZZZZZZZZZZZZZZ", "ghp_1234567890abcdefghij",
           "xai-abcdefghijklmnopqrst", "AIzaSyA1234567890abcdefghijklmno"]


def test_log_lines_never_carry_a_key(tmp_path):
    path = str(tmp_path / "daemon.log")
    logs.configure(path, foreground=False, debug=True)
    log = logging.getLogger("openusage.test")
    for secret in SECRETS:
        log.warning("request with key %s failed", secret)
        log.info("Authorization: Bearer %s", secret)
    try:
        raise RuntimeError(f"provider said: invalid key {SECRETS[0]}")
    except RuntimeError:
        log.exception("fetch failed")
    for handler in logging.getLogger("openusage").handlers:
        handler.flush()
    text = open(path).read()
    assert "request with key [masked] failed" in text and "Authorization: Bearer [masked]" in text
    assert "RuntimeError" in text
    for secret in SECRETS:
        assert secret not in text
    logs.configure(None, foreground=False)


def test_daemon_log_and_tiles_mask_keys(daemon_factory, isolated_home):
    cfg = isolated_home / ".config" / "openusage" / "settings.json"
    cfg.parent.mkdir(parents=True)
    leak = f"import sys; sys.stderr.write('invalid api key {SECRETS[0]}\\n'); sys.exit(1)"
    account = {"id": "c", "provider": "custom", "command": [sys.executable, "-c", leak]}
    cfg.write_text(json.dumps({"auto_detect": False, "accounts": [account]}))
    d = daemon_factory().start()

    def snap():
        return client.call_json(d.socket_path, "POST", "/v1/read-model", {"window": "1d"})["snapshots"].get("c", {})

    assert wait_for(lambda: snap().get("status") == "ERR", 10)
    assert SECRETS[0] not in json.dumps(snap())
    assert "invalid api key [masked]" in snap()["message"]
    d.stop()
    log_text = open(os.path.join(d.state_dir, "daemon.log")).read()
    assert SECRETS[0] not in log_text
