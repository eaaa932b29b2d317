"""The provider registry: one visible dict of every built-in provider, by id."""
from __future__ import annotations

from typing import Dict

from openusage.providers.anthropic import AnthropicProvider
from openusage.providers.azure_openai import AzureOpenAIProvider
from openusage.providers.base import Provider
from openusage.providers.claude_code import ClaudeCodeProvider
from openusage.providers.custom import CustomCommandProvider
from openusage.providers.deepseek import DeepSeekProvider
from openusage.providers.demo import DemoProvider
from openusage.providers.gemini_api import GeminiAPIProvider
from openusage.providers.groq import GroqProvider
from openusage.providers.mistral import MistralProvider
from openusage.providers.moonshot import MoonshotProvider
from openusage.providers.ollama import OllamaProvider
from openusage.providers.openai import OpenAIProvider
from openusage.providers.openrouter import OpenRouterProvider
from openusage.providers.xai import XAIProvider
from openusage.providers.zai import ZAIProvider

REGISTRY: Dict[str, Provider] = {
    p.id: p
    for p in (
        ClaudeCodeProvider(),
        OpenAIProvider(),
        AnthropicProvider(),
        OpenRouterProvider(),
        GroqProvider(),
        MistralProvider(),
        DeepSeekProvider(),
        MoonshotProvider(),
        XAIProvider(),
        GeminiAPIProvider(),
        ZAIProvider(),
        AzureOpenAIProvider(),
        OllamaProvider(),
        DemoProvider(),
        CustomCommandProvider(),
    )
}


def load_plugins(extra_dirs=None):
    """Register the user's plugin providers (once per process); the load reports."""
    from openusage import paths
    from openusage.providers import plugins

    global _PLUGINS_LOADED
    if _PLUGINS_LOADED is None:
        _PLUGINS_LOADED = plugins.load_all(paths.plugin_dirs(extra_dirs), REGISTRY)
    return _PLUGINS_LOADED


_PLUGINS_LOADED = None


def get(provider_id: str) -> Provider:
    """The provider with this id; KeyError when there is none."""
    return REGISTRY[provider_id]
