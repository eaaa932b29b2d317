"""The provider registry: one visible table of every built-in provider, by id.

A provider's module is imported the first time the provider is looked up, so a command that needs
one provider (a report of Claude Code, a hook) does not import the other nineteen.
"""
from __future__ import annotations

import importlib
import threading
from typing import Dict, Iterator, List, MutableMapping, Tuple

from openusage import agents
from openusage.providers.base import Provider

# id -> (module, class, reads local agent logs). Order is the order providers are listed in: the local
# agents (declared once, in openusage.agents.AGENTS), then the API and desktop providers.
BUILTINS: Dict[str, Tuple[str, str, bool]] = {
    **agents.builtins(),
    "openai": ("openusage.providers.openai", "OpenAIProvider", False),
    "anthropic": ("openusage.providers.anthropic", "AnthropicProvider", False),
    "openrouter": ("openusage.providers.openrouter", "OpenRouterProvider", False),
    "groq": ("openusage.providers.groq", "GroqProvider", False),
    "mistral": ("openusage.providers.mistral", "MistralProvider", False),
    "deepseek": ("openusage.providers.deepseek", "DeepSeekProvider", False),
    "moonshot": ("openusage.providers.moonshot", "MoonshotProvider", False),
    "xai": ("openusage.providers.xai", "XAIProvider", False),
    "gemini_api": ("openusage.providers.gemini_api", "GeminiAPIProvider", False),
    "zai": ("openusage.providers.zai", "ZAIProvider", False),
    "azure_openai": ("openusage.providers.azure_openai", "AzureOpenAIProvider", False),
    "ollama": ("openusage.providers.ollama", "OllamaProvider", False),
    "copilot": ("openusage.providers.copilot", "CopilotProvider", False),
    "cursor": ("openusage.providers.cursor", "CursorProvider", False),
    "demo": ("openusage.providers.demo", "DemoProvider", False),
    "custom": ("openusage.providers.custom", "CustomCommandProvider", False),
}


class Registry(MutableMapping):
    """Provider id -> provider instance, built on first lookup; plugins are added like dict items."""

    def __init__(self, builtins: Dict[str, Tuple[str, str, bool]]):
        self._specs = {pid: spec[:2] for pid, spec in builtins.items()}
        self._order: List[str] = list(builtins)
        self._made: Dict[str, Provider] = {}
        self._lock = threading.Lock()  # the daemon's worker threads may look up at once

    def __getitem__(self, pid: str) -> Provider:
        made = self._made.get(pid)
        if made is not None:
            return made
        if pid not in self._specs:
            raise KeyError(pid)
        with self._lock:
            if pid not in self._made:
                module, cls = self._specs[pid]
                self._made[pid] = getattr(importlib.import_module(module), cls)()
            return self._made[pid]

    def __setitem__(self, pid: str, provider: Provider) -> None:
        with self._lock:
            if pid not in self._specs and pid not in self._made:
                self._order.append(pid)
            self._specs.pop(pid, None)
            self._made[pid] = provider

    def __delitem__(self, pid: str) -> None:
        with self._lock:
            if pid not in self._specs and pid not in self._made:
                raise KeyError(pid)
            self._specs.pop(pid, None)
            self._made.pop(pid, None)
            self._order.remove(pid)

    def __contains__(self, pid: object) -> bool:  # without importing anything
        return pid in self._made or pid in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)


REGISTRY: Registry = Registry(BUILTINS)


def local_ids() -> List[str]:
    """Ids of the providers that read local agent logs (built-in and plugin), importing only those."""
    ids = [pid for pid, spec in BUILTINS.items() if spec[2] and pid in REGISTRY]
    for pid in REGISTRY:
        if pid not in BUILTINS:
            provider = REGISTRY[pid]
            if provider.emits_events and "local" in provider.source_modes:
                ids.append(pid)
    return ids


def load_plugins(extra_dirs=None):
    """Register the user's plugin providers (once per process); the load reports."""
    import os

    from openusage import paths

    global _PLUGINS_LOADED
    if _PLUGINS_LOADED is None:
        dirs = paths.plugin_dirs(extra_dirs)
        if any(os.path.isdir(d) for d in dirs):  # the loader's own imports are for those who have plugins
            from openusage.providers import plugins

            _PLUGINS_LOADED = plugins.load_all(dirs, REGISTRY)
        else:
            _PLUGINS_LOADED = []
    return _PLUGINS_LOADED


_PLUGINS_LOADED = None


def get(provider_id: str) -> Provider:
    """The provider with this id; KeyError when there is none."""
    return REGISTRY[provider_id]
