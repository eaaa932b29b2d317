"""Claude Code: command hooks in ~/.claude/settings.json that hand each event to the daemon.

Hooks carry no token counts (the transcript does); they add tool calls and session events and make
the daemon read the transcript tail at once instead of at the next poll.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
from typing import Any, Dict, List, Optional, Tuple

from openusage.integrations import artifact, jsonedit
from openusage.integrations.artifact import IntegrationError, Outcome, Status

ID = "claude_code"
NAME = "Claude Code"
SOURCE = "claude-code"
EVENTS = ("PostToolUse", "PostToolUseFailure", "UserPromptSubmit", "Stop", "SubagentStop", "SessionStart",
          "SessionEnd")
MATCHED_EVENTS = ("PostToolUse", "PostToolUseFailure")  # tool events filter on the tool name: "*" = all
TIMEOUT_SECONDS = 20


def _config_dirs() -> List[str]:
    value = os.environ.get("CLAUDE_CONFIG_DIR", "")
    return [os.path.abspath(os.path.expanduser(d.strip())) for d in value.split(",") if d.strip()]


def default_target() -> str:
    """$CLAUDE_SETTINGS_FILE, else settings.json in the first $CLAUDE_CONFIG_DIR, else ~/.claude/settings.json."""
    env = os.environ.get("CLAUDE_SETTINGS_FILE")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    dirs = _config_dirs()
    base = dirs[0] if dirs else os.path.join(os.path.expanduser("~"), ".claude")
    return os.path.join(base, "settings.json")


def detected() -> bool:
    dirs = _config_dirs() + [os.path.join(os.path.expanduser("~"), ".claude")]
    return any(os.path.isdir(d) for d in dirs) or shutil.which("claude") is not None


def _load(target: str) -> Tuple[Dict[str, Any], bool]:
    """The settings object and whether the file exists; IntegrationError when it cannot be edited safely."""
    text = artifact.read_text(target)
    if text is None:
        return {}, False
    if not text.strip():
        return {}, True
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except ValueError as exc:
        raise IntegrationError(f"{target} is not valid JSON ({exc}); left it untouched") from None
    if not isinstance(data, dict):
        raise IntegrationError(f"{target}: expected a JSON object at the top; left it untouched")
    hooks = data.get("hooks")
    if hooks is not None and not isinstance(hooks, dict):
        raise IntegrationError(f'{target}: "hooks" is not an object; left it untouched')
    for event, groups in (hooks or {}).items():
        if groups is not None and not isinstance(groups, list):
            raise IntegrationError(f'{target}: "hooks.{event}" is not an array; left it untouched')
    return data, True


def _handlers(group: Any) -> Optional[List[Any]]:
    if isinstance(group, dict) and isinstance(group.get("hooks"), list):
        return group["hooks"]
    return None


def _ours(handler: Any) -> bool:
    return isinstance(handler, dict) and artifact.is_ours(handler.get("command"))


def _new_group(event: str, command: str) -> Dict[str, Any]:
    group: Dict[str, Any] = {"matcher": "*"} if event in MATCHED_EVENTS else {}
    group["hooks"] = [{"type": "command", "command": command, "timeout": TIMEOUT_SECONDS}]
    return group


def _add(data: Dict[str, Any], command: str) -> None:
    """Our handler once under every event: updated where it is, appended where it is missing."""
    hooks = data.setdefault("hooks", {})
    for event in EVENTS:
        found = False
        kept_groups = []
        for group in hooks.get(event) or []:
            handlers = _handlers(group)
            if handlers and any(_ours(h) for h in handlers):
                kept = []
                for handler in handlers:
                    if _ours(handler):
                        if found:
                            continue  # a duplicate of ours
                        found = True
                        handler.update({"type": "command", "command": command, "timeout": TIMEOUT_SECONDS})
                    kept.append(handler)
                group["hooks"] = kept
                if not kept:
                    continue
            kept_groups.append(group)
        if not found:
            kept_groups.append(_new_group(event, command))
        hooks[event] = kept_groups


def _remove(data: Dict[str, Any]) -> None:
    """Drop our handlers under every event, and the groups, events and "hooks" that held only ours."""
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return
    removed = False
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept_groups = []
        for group in groups:
            handlers = _handlers(group)
            if handlers and any(_ours(h) for h in handlers):
                removed = True
                group["hooks"] = [h for h in handlers if not _ours(h)]
                if not group["hooks"]:
                    continue
            kept_groups.append(group)
        if groups and not kept_groups:
            del hooks[event]
        else:
            hooks[event] = kept_groups
    if removed and not hooks:
        del data["hooks"]


def _dump(data: Dict[str, Any], target: str) -> str:
    """The new file: the user's text with only our changes (their indentation and spelling kept)."""
    original = artifact.read_text(target)
    if original and original.strip():
        return jsonedit.update(original, data)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def installed_commands(data: Dict[str, Any]) -> Dict[str, List[str]]:
    """Our hook commands per event."""
    found: Dict[str, List[str]] = {}
    hooks = data.get("hooks") if isinstance(data.get("hooks"), dict) else {}
    for event, groups in hooks.items():
        for group in groups or []:
            for handler in _handlers(group) or []:
                if _ours(handler):
                    found.setdefault(event, []).append(handler.get("command"))
    return found


def inspect(target: str) -> Status:
    try:
        data, _ = _load(target)
    except IntegrationError as exc:
        return Status(installed=False, current=False, error=str(exc))
    commands = installed_commands(data)
    if not commands:
        return Status(installed=False, current=False)
    expected = artifact.hook_command(SOURCE)
    complete = all(commands.get(event) == [expected] for event in EVENTS)
    current = complete and set(commands) == set(EVENTS) and artifact.script_current()
    present = sum(1 for event in EVENTS if event in commands)
    return Status(installed=True, current=current, detail=f"hooks on {present}/{len(EVENTS)} events")


def install(target: str, chain: bool = False, state: Optional[Dict[str, Any]] = None) -> Outcome:
    data, existed = _load(target)
    updated = copy.deepcopy(data)
    _add(updated, artifact.hook_command(SOURCE))
    extra = {} if existed else {"created_file": True}
    if existed and updated == data:
        return Outcome(False, target, f"hooks already in {target}", extra)
    artifact.write_config(target, _dump(updated, target))
    return Outcome(True, target, f"hooks for {len(EVENTS)} events written to {target}", extra)


def uninstall(target: str, state: Optional[Dict[str, Any]] = None) -> Outcome:
    data, existed = _load(target)
    updated = copy.deepcopy(data)
    _remove(updated)
    if not existed or updated == data:
        return Outcome(False, target, f"no openusage hooks in {target}")
    if not updated and (state or {}).get("created_file"):
        os.unlink(target)
        return Outcome(True, target, f"removed {target} (openusage created it; it held only our hooks)")
    artifact.write_config(target, _dump(updated, target))
    return Outcome(True, target, f"hooks removed from {target}")
