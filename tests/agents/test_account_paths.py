"""Two accounts of one agent, told apart by the `paths` each names in settings.json."""
import json
import os

from openusage.cli.main import main


def _claude_line(mid, out):
    return json.dumps({"type": "assistant", "sessionId": "s1", "cwd": "/home/u/app",
                       "timestamp": "2026-03-01T10:00:00.000Z", "requestId": f"r-{mid}",
                       "message": {"id": mid, "model": "claude-sonnet-4-5", "role": "assistant", "content": [],
                                   "usage": {"input_tokens": 5, "output_tokens": out}}})


def _write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))


def test_each_account_reads_only_its_own_paths(isolated_home, capsys):
    work, personal = str(isolated_home / "claude-work"), str(isolated_home / "claude-personal")
    _write(os.path.join(work, "projects", "-w", "a.jsonl"), [_claude_line("m1", 10)])
    _write(os.path.join(personal, "projects", "-p", "b.jsonl"), [_claude_line("m2", 20), _claude_line("m3", 1)])
    _write(str(isolated_home / ".claude" / "projects" / "-d" / "c.jsonl"), [_claude_line("m4", 1)])
    settings = {"auto_detect": False, "accounts": [
        {"id": "work", "provider": "claude_code", "paths": ["~/claude-work"]},
        {"id": "personal", "provider": "claude_code", "paths": [personal]},
        {"id": "empty", "provider": "codex", "paths": ["~/no-such-codex-home"]},
    ]}
    _write(str(isolated_home / ".config" / "openusage" / "settings.json"), [json.dumps(settings)])
    assert main(["usage", "--json"]) == 0
    snapshots = json.loads(capsys.readouterr().out)["snapshots"]
    assert snapshots["work"]["extras"]["roots"] == [work]
    assert snapshots["work"]["extras"]["messages_total"] == 1
    assert snapshots["personal"]["extras"]["roots"] == [personal]
    assert snapshots["personal"]["extras"]["messages_total"] == 2
    assert snapshots["empty"]["status"] == "UNKNOWN"
    assert snapshots["empty"]["message"] == (
        f"no Codex sessions found (looked in {isolated_home / 'no-such-codex-home'})")


def test_list_names_where_each_agent_looks(capsys):
    assert main(["list", "--json"]) == 0
    providers = {p["id"]: p for p in json.loads(capsys.readouterr().out)["providers"]}
    assert providers["claude_code"]["paths"] == ["~/.claude", "~/.config/claude"]
    assert providers["claude_code"]["path_env"] == ["CLAUDE_CONFIG_DIR"]
    assert "paths" not in providers["openai"]
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "PATHS" in out.splitlines()[0]
    assert "~/.codex (or $CODEX_HOME)" in out
