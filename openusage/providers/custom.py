"""The custom provider: an account whose `command` prints a UsageSnapshot as JSON.

{"id": "team-llm", "provider": "custom", "command": ["/usr/local/bin/llm-usage", "--json"],
 "timeout_seconds": 10}
"""
from __future__ import annotations

import json
import shlex
import subprocess
from typing import List

from openusage.core import redact
from openusage.core.snapshot import UsageSnapshot
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, ProviderError

DEFAULT_TIMEOUT = 15.0
MAX_OUTPUT = 1024 * 1024


class CustomCommandProvider(Provider):
    id = "custom"
    name = "Custom command"
    source_modes = ("cli",)
    default_interval = 60.0
    widgets = {"figures": ["spend.total", "tokens.total"], "sections": ["models", "limits"]}

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        argv = command_argv(account)
        timeout = float(account.extra.get("timeout_seconds") or DEFAULT_TIMEOUT)
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise ProviderError("ERR", f"command timed out after {timeout:g}s") from exc
        except OSError as exc:
            raise ProviderError("ERR", f"command could not run: {exc.strerror or exc}") from exc
        if proc.returncode != 0:
            first = proc.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
            detail = f": {redact.clip(first[0], 160)}" if first else ""
            raise ProviderError("ERR", f"command exited {proc.returncode}{detail}")
        return FetchResult(snapshot=parse_output(proc.stdout, account))


def command_argv(account: AccountConfig) -> List[str]:
    command = account.extra.get("command")
    if isinstance(command, str) and command.strip():
        return shlex.split(command)
    if isinstance(command, list) and command and all(isinstance(c, str) for c in command):
        return list(command)
    raise ProviderError("ERR", "custom account needs \"command\": a string or a list of strings")


def parse_output(stdout: bytes, account: AccountConfig) -> UsageSnapshot:
    """The command's stdout as a snapshot; identity defaults to this account."""
    if len(stdout) > MAX_OUTPUT:
        raise ProviderError("ERR", "command printed more than 1 MiB")
    try:
        data = json.loads(stdout.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProviderError("ERR", "command printed invalid JSON") from exc
    if not isinstance(data, dict):
        raise ProviderError("ERR", "command printed JSON that is not an object")
    data.setdefault("provider_id", "custom")
    data["account_id"] = account.id
    data.setdefault("status", "OK")
    try:
        return UsageSnapshot.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise ProviderError("ERR", f"command printed a bad snapshot: {exc}") from exc
