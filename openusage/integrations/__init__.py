"""Agent integrations: the hooks and plugins that make AI coding agents push events to the daemon.

Each integration is a module with ID, NAME, SOURCE, default_target(), detected(), inspect(target),
install(target, chain, state) and uninstall(target, state); `openusage integrations` drives them.
"""
from types import ModuleType
from typing import Dict

from openusage.integrations import claude_code, codex, opencode

REGISTRY: Dict[str, ModuleType] = {
    claude_code.ID: claude_code,
    codex.ID: codex,
    opencode.ID: opencode,
}
