"""The lazy provider registry: the table agrees with the providers, and lookups import only what they need."""
import subprocess
import sys

from openusage.providers import BUILTINS, REGISTRY, Registry, local_ids
from openusage.providers.base import Provider


def test_every_builtin_matches_its_table_row():
    for pid, (_module, cls, local) in BUILTINS.items():
        provider = REGISTRY[pid]
        assert provider.id == pid and type(provider).__name__ == cls
        # demo makes its events up: it reads no logs
        assert local == (provider.emits_events and "local" in provider.source_modes and pid != "demo"), pid
    assert list(REGISTRY) == list(BUILTINS)


def test_a_lookup_imports_only_that_provider():
    code = ("import sys; from openusage.providers import REGISTRY, local_ids; REGISTRY['claude_code']; "
            "'openai' in REGISTRY; local_ids(); "
            "print(sorted(m for m in sys.modules if m.startswith(('openusage.providers.', 'openusage.agents.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out)  # a printed list of module names
    assert "openusage.agents.claude_code" in loaded
    assert "openusage.providers.openai" not in loaded and "openusage.providers.anthropic" not in loaded


def test_plugins_are_added_removed_and_listed_in_order():
    reg = Registry({"claude_code": BUILTINS["claude_code"]})

    class Plugin(Provider):
        id = "mine"
        name = "Mine"
        source_modes = ("local",)
        emits_events = True

    reg["mine"] = Plugin()
    assert list(reg) == ["claude_code", "mine"] and "mine" in reg and len(reg) == 2
    assert reg.get("nope") is None
    del reg["mine"]
    assert list(reg) == ["claude_code"] and "mine" not in reg


def test_local_ids_are_the_log_collectors():
    assert local_ids()[:4] == ["claude_code", "codex", "gemini_cli", "opencode"]
