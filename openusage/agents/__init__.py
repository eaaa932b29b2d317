"""Local coding agents: one row per agent, the single place an agent is declared.

Everything else that must know an agent is derived from its row, so adding one is its module plus
a row: the provider registry (openusage.providers.BUILTINS), the hook source names
(daemon.pipeline.SOURCE_PROVIDERS) and hook event names (daemon.pipeline._HOOK_EVENTS), the default
telemetry links (config.DEFAULT_LINKS) and the environment the tests clear (tests/conftest.py).

This module imports nothing of the agents themselves: the daemon reads the table at start-up and an
agent's module is imported only when the agent is looked up in the registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

# Claude Code's hook_event_name values (Codex uses the same names) -> event_type.
_CLAUDE_HOOK_EVENTS = (
    ("PreToolUse", "tool_usage"),
    ("PostToolUse", "tool_usage"),
    ("PostToolUseFailure", "tool_usage"),
    ("UserPromptSubmit", "prompt_submitted"),
    ("Stop", "turn_completed"),
    ("SubagentStop", "turn_completed"),
    ("SessionStart", "session_start"),
    ("SessionEnd", "session_end"),
    ("Notification", "notification"),
    ("PreCompact", "other"),
)


@dataclass(frozen=True)
class AgentRow:
    """How one local agent is known outside its module."""

    id: str  # the provider id (registry key, store provider_id)
    cls: str  # the provider class in openusage.agents.<module>
    module: str = ""  # the module: a name under openusage.agents (the id when empty) or a dotted path
    hook_sources: Tuple[str, ...] = ()  # names a hook delivery's source may give (POST /v1/hooks/<source>)
    hook_events: Tuple[Tuple[str, str], ...] = ()  # hook_event_name -> event_type, for agents with hooks
    links: Tuple[str, ...] = ()  # telemetry provider names linked to this agent by default
    env_prefixes: Tuple[str, ...] = ()  # prefixes of the agent's own variables, cleared in tests

    @property
    def import_path(self) -> str:
        if "." in self.module:
            return self.module
        return "openusage.agents." + (self.module or self.id)


# Order is the order agents are listed in (before the API providers).
AGENTS: Tuple[AgentRow, ...] = (
    AgentRow("claude_code", "ClaudeCodeProvider", hook_sources=("claude-code", "claude_code"),
             hook_events=_CLAUDE_HOOK_EVENTS, links=("anthropic",), env_prefixes=("CLAUDE_",)),
    AgentRow("codex", "CodexProvider", hook_sources=("codex", "codex-cli"), env_prefixes=("CODEX_",)),
    AgentRow("gemini_cli", "GeminiCLIProvider", hook_sources=("gemini", "gemini-cli", "gemini_cli"),
             env_prefixes=("GEMINI_",)),
    AgentRow("opencode", "OpenCodeProvider", hook_sources=("opencode",), env_prefixes=("OPENCODE_",)),
    AgentRow("amp", "AmpProvider", env_prefixes=("AMP_",)),
    AgentRow("droid", "DroidProvider"),
    AgentRow("cline", "ClineProvider", "cline_family"),
    AgentRow("roo_code", "RooCodeProvider", "cline_family"),
    AgentRow("kilo_code", "KiloCodeProvider", "cline_family"),
    AgentRow("copilot_cli", "CopilotCLIProvider", env_prefixes=("COPILOT_",)),
    AgentRow("pi", "PiProvider", env_prefixes=("PI_CODING_AGENT",)),
    AgentRow("qwen_code", "QwenCodeProvider"),
    AgentRow("kimi_cli", "KimiCLIProvider", env_prefixes=("KIMI_",)),
    AgentRow("goose", "GooseProvider", env_prefixes=("GOOSE_",)),
    AgentRow("crush", "CrushProvider", env_prefixes=("CRUSH_",)),
    AgentRow("openclaw", "OpenClawProvider"),
    AgentRow("hermes", "HermesProvider", env_prefixes=("HERMES_",)),
    AgentRow("zed", "ZedProvider"),
    AgentRow("codebuff", "CodebuffProvider", env_prefixes=("CODEBUFF_",)),
    AgentRow("mux", "MuxProvider", env_prefixes=("MUX_",)),
)


def builtins() -> Dict[str, Tuple[str, str, bool]]:
    """Registry rows of the agents: id -> (module, class, reads local agent logs)."""
    return {row.id: (row.import_path, row.cls, True) for row in AGENTS}


def hook_sources() -> Dict[str, str]:
    """Hook source name -> agent id."""
    return {name: row.id for row in AGENTS for name in row.hook_sources}


def hook_events() -> Dict[str, str]:
    """hook_event_name -> event_type, over every agent that sends hooks."""
    out: Dict[str, str] = {}
    for row in AGENTS:
        out.update(row.hook_events)
    return out


def default_links() -> Dict[str, str]:
    """Telemetry provider name -> agent id."""
    return {name: row.id for row in AGENTS for name in row.links}


def env_prefixes() -> Tuple[str, ...]:
    """Prefixes of every agent's own environment variables."""
    return tuple(p for row in AGENTS for p in row.env_prefixes)
