"""openusage integrations list [--all] | install ID [--chain] | uninstall ID | upgrade ID|--all"""
from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import Any, Dict, List, Optional, Tuple

from openusage import __version__, config
from openusage.console import EXIT_RUNTIME, EXIT_USAGE, CliError, print_json, render_table
from openusage.core.timeutil import now_rfc3339
from openusage.integrations import REGISTRY, artifact
from openusage.integrations.artifact import IntegrationError, Outcome


def register(sub, parents) -> None:
    p = sub.add_parser("integrations", parents=parents, help="install the agent hooks that feed the daemon",
                       description="Install, refresh or remove what makes each agent hand its events to the "
                       "daemon: command hooks in Claude Code's settings.json, the notify program in Codex's "
                       "config.toml, a plugin for OpenCode. With no action: list.")
    p.set_defaults(func=run, action=None, all=False, chain=False, id=None)
    actions = p.add_subparsers(title="integrations commands", metavar="ACTION", dest="action")
    ids = ", ".join(REGISTRY)

    lst = actions.add_parser("list", parents=parents, help="show each integration and its state",
                             description="Each integration: its tool detected or not, installed or not, the "
                             "file it edits, and whether the installed hook is current.")
    lst.add_argument("--all", action="store_true", help="also list integrations whose tool is not detected")

    ins = actions.add_parser("install", parents=parents, help="install one integration",
                             description="Add openusage's hook to the agent's config (idempotent; the file is "
                             "backed up to FILE.bak first).")
    ins.add_argument("id", metavar="ID", help=ids)
    ins.add_argument("--chain", action="store_true",
                     help="codex: keep an existing notify program; openusage starts it with the same payload")

    uni = actions.add_parser("uninstall", parents=parents, help="remove one integration",
                             description="Remove openusage's hook from the agent's config, leaving everything "
                             "else as it was (a chained Codex notify program is restored).")
    uni.add_argument("id", metavar="ID", help=ids)

    upg = actions.add_parser("upgrade", parents=parents, help="rewrite installed hooks for this openusage",
                             description="Rewrite the hook script and the installed commands, e.g. after an "
                             "upgrade of Python or openusage.")
    upg.add_argument("id", metavar="ID", nargs="?", help=ids)
    upg.add_argument("--all", action="store_true", help="every installed integration")


def run(args: argparse.Namespace) -> int:
    settings = config.load(args.config, create=True)
    action = args.action or "list"
    try:
        if action == "list":
            return _list(args, settings)
        if action == "install":
            return _install(args, settings)
        if action == "uninstall":
            return _uninstall(args, settings)
        return _upgrade(args, settings)
    except IntegrationError as exc:
        raise CliError(str(exc), EXIT_RUNTIME) from None
    except OSError as exc:
        raise CliError(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc), EXIT_RUNTIME) from None


# --- install state in settings.json ----------------------------------------------------------------


def _states(settings: config.Settings) -> Dict[str, Any]:
    value = settings.raw.get("integrations")
    return value if isinstance(value, dict) else {}


def _state(settings: config.Settings, iid: str) -> Dict[str, Any]:
    value = _states(settings).get(iid)
    return dict(value) if isinstance(value, dict) else {}


def _put_state(settings: config.Settings, iid: str, state: Optional[Dict[str, Any]]) -> None:
    """Record (or with None, forget) one integration's state; settings.json is rewritten only on a change."""
    states = _states(settings)
    if (iid not in states) if state is None else (states.get(iid) == state):
        return
    states = dict(states)
    if state is None:
        del states[iid]
    else:
        states[iid] = state
    settings.raw["integrations"] = states
    config.save(settings)


def _recorded(state: Dict[str, Any], outcome: Outcome, command: Any) -> Dict[str, Any]:
    keep_time = not outcome.changed and state.get("installed") and state.get("installed_at")
    new = {"installed": True, "version": __version__,
           "installed_at": state["installed_at"] if keep_time else now_rfc3339(),
           "target": outcome.target, "command": command}
    for key, value in list(state.items()) + list(outcome.state.items()):
        if key not in ("installed", "version", "installed_at", "target", "command"):
            new[key] = value
    return new


# --- actions ---------------------------------------------------------------------------------------


def _resolve(raw: Optional[str]) -> Tuple[str, ModuleType]:
    iid = (raw or "").strip().lower().replace("-", "_")
    if iid not in REGISTRY:
        raise CliError(f"unknown integration {raw!r}; choose from {', '.join(REGISTRY)}", EXIT_USAGE)
    return iid, REGISTRY[iid]


def _installed_target(module: ModuleType, state: Dict[str, Any]) -> str:
    """Where the integration is installed: the recorded target, else where it would go now."""
    target = state.get("target")
    return target if state.get("installed") and isinstance(target, str) and target else module.default_target()


def _command(module: ModuleType, state: Dict[str, Any]) -> Any:
    """What the agent runs, as recorded in settings.json."""
    if module.ID == "claude_code":
        return artifact.hook_command(module.SOURCE)
    if module.ID == "codex":
        return module.notify_argv(state.get("previous_notify"))
    return artifact.hook_argv(module.SOURCE)


def _list(args: argparse.Namespace, settings: config.Settings) -> int:
    entries = []
    for iid, module in REGISTRY.items():
        state = _state(settings, iid)
        target = _installed_target(module, state)
        status = module.inspect(target)
        detected = module.detected()
        if not (args.all or detected or status.installed or state.get("installed")):
            continue
        entries.append({"id": iid, "name": module.NAME, "detected": detected, "installed": status.installed,
                        "current": status.current if status.installed else None, "target": target,
                        "detail": status.detail or None, "error": status.error, "state": state or None})
    if args.json:
        print_json({"integrations": entries})
        return 0
    if not entries:
        print("no supported agent found here (openusage integrations list --all shows every integration)")
        return 0
    rows = []
    for e in entries:
        installed = "error" if e["error"] else ("yes" if e["installed"] else "no")
        current = "-" if e["current"] is None else ("yes" if e["current"] else "no: run upgrade")
        rows.append([e["id"], "detected" if e["detected"] else "not found", installed, current, e["target"]])
    print(render_table(["ID", "TOOL", "INSTALLED", "CURRENT", "TARGET"], rows))
    for e in entries:
        if e["error"]:
            print(f"{e['id']}: {e['error']}")
    return 0


def _report(args: argparse.Namespace, iid: str, outcome: Outcome, extra: Optional[Dict[str, Any]] = None) -> None:
    if args.json:
        print_json({"id": iid, "changed": outcome.changed, "target": outcome.target, "message": outcome.message,
                    **(extra or {})})
    else:
        print(f"{iid}: {outcome.message}")


def _install(args: argparse.Namespace, settings: config.Settings) -> int:
    iid, module = _resolve(args.id)
    if args.chain and iid != "codex":
        raise CliError("--chain applies to codex only", EXIT_USAGE)
    state = _state(settings, iid)
    target = module.default_target()
    script_written = artifact.write_script()
    try:
        outcome = module.install(target, chain=args.chain, state=state)
    except IntegrationError:
        if script_written and not _any_installed(settings):
            artifact.remove_script()
        raise
    recorded = _recorded(state, outcome, None)
    recorded["command"] = _command(module, recorded)
    _put_state(settings, iid, recorded)
    if not module.detected() and not args.json:
        print(f"note: {module.NAME} was not found on this machine; installed anyway", file=sys.stderr)
    _report(args, iid, outcome, {"command": recorded["command"]})
    return 0


def _any_installed(settings: config.Settings, skip: str = "") -> bool:
    for iid, module in REGISTRY.items():
        if iid == skip:
            continue
        state = _state(settings, iid)
        if state.get("installed") or module.inspect(_installed_target(module, state)).installed:
            return True
    return False


def _uninstall(args: argparse.Namespace, settings: config.Settings) -> int:
    iid, module = _resolve(args.id)
    state = _state(settings, iid)
    outcome = module.uninstall(_installed_target(module, state), state=state)
    _put_state(settings, iid, None)
    if not _any_installed(settings, skip=iid):
        artifact.remove_script()
    _report(args, iid, outcome)
    return 0


def _upgrade(args: argparse.Namespace, settings: config.Settings) -> int:
    if bool(args.id) == bool(args.all):
        raise CliError("name one integration, or give --all", EXIT_USAGE)
    chosen: List[Tuple[str, ModuleType]] = [_resolve(args.id)] if args.id else list(REGISTRY.items())
    todo = []
    failed = []
    for iid, module in chosen:
        state = _state(settings, iid)
        target = _installed_target(module, state)
        status = module.inspect(target)
        if status.error:
            if args.id:
                raise IntegrationError(status.error)
            failed.append({"id": iid, "error": status.error})
        elif status.installed:
            todo.append((iid, module, state, target))
        elif args.id:
            raise CliError(f"{iid} is not installed (in {target}); use: openusage integrations install {iid}",
                           EXIT_RUNTIME)
    if not todo and not failed:
        if args.json:
            print_json({"upgraded": [], "failed": []})
        else:
            print("no integration is installed")
        return 0
    script_written = artifact.write_script() if todo else False
    results = []
    for iid, module, state, target in todo:
        outcome = module.install(target, chain=False, state=state)
        recorded = _recorded(state, outcome, None)
        recorded["command"] = _command(module, recorded)
        _put_state(settings, iid, recorded)
        changed = outcome.changed or script_written
        message = outcome.message if outcome.changed else ("hook script rewritten" if script_written else
                                                           "already current")
        results.append({"id": iid, "changed": changed, "target": target, "message": message})
    if args.json:
        print_json({"upgraded": results, "failed": failed})
    else:
        for r in results:
            print(f"{r['id']}: {r['message']}")
        for f in failed:
            print(f"{f['id']}: not upgraded: {f['error']}", file=sys.stderr)
    return EXIT_RUNTIME if failed else 0
