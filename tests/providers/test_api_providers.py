"""What every HTTP API provider module promises, checked together."""
import pytest

from openusage.providers.anthropic import AnthropicProvider
from openusage.providers.azure_openai import AzureOpenAIProvider
from openusage.providers.base import SOURCE_MODES, Provider
from openusage.providers.deepseek import DeepSeekProvider
from openusage.providers.gemini_api import GeminiAPIProvider
from openusage.providers.groq import GroqProvider
from openusage.providers.mistral import MistralProvider
from openusage.providers.moonshot import MoonshotProvider
from openusage.providers.ollama import OllamaProvider
from openusage.providers.openai import OpenAIProvider
from openusage.providers.openrouter import OpenRouterProvider
from openusage.providers.xai import XAIProvider
from openusage.providers.zai import ZAIProvider

PROVIDERS = [OpenAIProvider, AnthropicProvider, OpenRouterProvider, GroqProvider, MistralProvider, XAIProvider,
             DeepSeekProvider, MoonshotProvider, ZAIProvider, GeminiAPIProvider, AzureOpenAIProvider, OllamaProvider]
IDS = ["openai", "anthropic", "openrouter", "groq", "mistral", "xai", "deepseek", "moonshot", "zai", "gemini_api",
       "azure_openai", "ollama"]


def test_ids_are_the_contracts_and_unique():
    assert [cls.id for cls in PROVIDERS] == IDS
    for cls in PROVIDERS:
        assert cls.__module__ == f"openusage.providers.{cls.id}"


@pytest.mark.parametrize("cls", PROVIDERS, ids=IDS)
def test_class_attributes(cls):
    provider = cls()
    assert isinstance(provider, Provider) and provider.name
    assert tuple(provider.source_modes) == ("api",) and set(provider.source_modes) <= set(SOURCE_MODES)
    assert provider.default_interval >= 30
    assert provider.widgets and set(provider.widgets) <= {"gauges", "figures", "sections"}
    assert all(name.isupper() for name in provider.env_vars)
    described = provider.describe()
    assert described["id"] == cls.id and described["env_vars"] == list(provider.env_vars)


@pytest.mark.parametrize("cls", PROVIDERS, ids=IDS)
def test_nothing_is_detected_on_an_empty_machine(cls):
    assert cls().detect({}, "/nonexistent", lambda name: None) == []


@pytest.mark.parametrize("cls", [c for c in PROVIDERS if c is not OllamaProvider],
                         ids=[i for i in IDS if i != "ollama"])
def test_the_usual_variable_is_detected_without_network(cls):
    provider = cls()
    name = provider.env_vars[0]
    found = provider.detect({name: "secret-value-123456"}, "/nonexistent", lambda n: None)
    assert len(found) == 1
    acct = found[0]
    assert (acct.id, acct.provider, acct.api_key_env, acct.detected_by) == (cls.id, cls.id, name, f"env:{name}")
    assert "secret-value-123456" not in repr(acct.to_dict())
