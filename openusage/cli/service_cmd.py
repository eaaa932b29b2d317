"""openusage telemetry daemon install|uninstall [--dry-run]"""
from __future__ import annotations

import argparse
from typing import List

from openusage import accounts as accounts_mod
from openusage import config
from openusage.console import CliError
from openusage.core import redact
from openusage.daemon import service


def _key_variables(settings: config.Settings) -> List[str]:
    """Every variable an account reads its key from (configured or detected)."""
    names = []
    for provider, acct in accounts_mod.resolve(settings):
        if acct.api_key_env:
            names.append(acct.api_key_env)
        names.extend(getattr(provider, "env_vars", ()) or ())
    return names


def run(args: argparse.Namespace) -> int:
    if args.action == "uninstall":
        removed = service.uninstall()
        print("removed " + ", ".join(removed) if removed else "no service was installed")
        return 0
    settings = config.load(args.config)
    plan = service.plan_install(_key_variables(settings))
    if args.dry_run:
        for path, content in plan.files.items():
            mode = "0600" if path in plan.secret_files else "0644"
            shown = content if path not in plan.secret_files else _masked(content)
            print(f"would write {path} (mode {mode}):\n{shown}")
        for cmd in plan.commands:
            print("would run: " + " ".join(cmd))
        return 0
    try:
        service.install(plan)
    except service.ServiceError as exc:
        raise CliError(str(exc)) from exc
    print(f"installed and started the {plan.kind} user service; keys are in {', '.join(plan.secret_files)} (0600)")
    return 0


def _masked(content: str) -> str:
    """The file as --dry-run shows it: every secret masked whole, the variables that name paths as they are."""
    lines = []
    for line in content.splitlines():
        if "=" in line and not line.startswith("#") and not line.lstrip().startswith("<"):
            name, _, value = line.partition("=")
            line = f"{name}={_shown(name.strip(), value)}"
        elif "<string>" in line and "<key>" in line:
            key, _, rest = line.partition("</key><string>")
            shown = _shown(key.strip().replace("<key>", ""), rest.replace("</string>", ""))
            line = f"{key}</key><string>{shown}</string>"
        lines.append(line)
    return redact.mask("\n".join(lines))


def _shown(name: str, value: str) -> str:
    if name in service.PATH_VARIABLES or not value.strip(chr(34)):
        return value
    return redact.PLACEHOLDER
