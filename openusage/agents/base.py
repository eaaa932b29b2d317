"""The provider every declarative agent is: roots, detection and fetch written once.

An agent module subclasses AgentProvider with its id, name, Roots and sources (and, if its records
need it, a merge of two copies of one request); it holds nothing else but its pure parsers.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Sequence

from openusage.agents import roots as roots_mod
from openusage.agents.collect import Collector, Merge, keep_larger
from openusage.agents.roots import EnvGet, Roots
from openusage.agents.sources import Source
from openusage.providers.base import AccountConfig, FetchContext, FetchResult, Provider, local_snapshot

DEFAULT_WIDGETS: Dict[str, Any] = {
    "figures": ["spend.total", "tokens.total", "tool_calls"],
    "sections": ["models", "tools", "projects", "sessions"],
}


class AgentProvider(Provider):
    """A local agent read from files or databases under its roots."""

    source_modes = ("local",)
    default_interval = 30.0
    emits_events = True
    widgets = DEFAULT_WIDGETS
    roots: Roots = Roots()
    sources: Sequence[Source] = ()
    # Paths under a root whose presence means the agent is there (none: the root itself).
    markers: Sequence[str] = ()
    nothing: str = ""  # the UNKNOWN message when no root exists ("no Amp data found")
    merge: Merge = staticmethod(keep_larger)  # type: ignore[assignment]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "env_vars" not in cls.__dict__:
            cls.env_vars = cls.roots.env_vars()
        if "nothing" not in cls.__dict__:  # a subclass of another agent says its own name
            cls.nothing = f"no {cls.name} data found"

    def root_dirs(self, env_get: EnvGet, home: str, account: Optional[AccountConfig] = None) -> List[str]:
        """The account's `paths` when it names some, else the environment's or the default roots."""
        if account is not None:
            named = roots_mod.account_paths(account.extra, home)
            if named:
                return named
        return self.roots.resolve(env_get, home)

    def describe(self) -> Dict[str, Any]:
        """The provider's description plus where it looks: default paths and the variables that replace them."""
        info = super().describe()
        info["paths"] = list(self.roots.defaults + self.roots.darwin)
        info["path_env"] = [e.name for e in self.roots.env]
        return info

    def detect(self, env: Dict[str, str], home: str,
               which: Callable[[str], Optional[str]]) -> List[AccountConfig]:
        """One account when a root (or a marker under it) exists."""
        for root in self.root_dirs(env.get, home):
            places = [os.path.join(root, m) for m in self.markers] or [root]
            if any(os.path.exists(p) for p in places):
                return [AccountConfig(id=self.id, provider=self.id, detected_by=root)]
        return []

    def fetch(self, account: AccountConfig, ctx: FetchContext) -> FetchResult:
        """A snapshot plus a lazy stream of events; the stream fills in the snapshot's counters."""
        dirs = self.root_dirs(ctx.env.get, ctx.fs.home, account)
        snapshot = local_snapshot(self, account, {"roots": dirs}, dirs, self.nothing)
        if snapshot.status != "OK":
            return FetchResult(snapshot=snapshot, events=[])
        collector = Collector(self, account.id, ctx.state, ctx.log, keep_raw=ctx.keep_raw)
        return FetchResult(snapshot=snapshot, events=collector.run(dirs, snapshot),  # type: ignore[arg-type]
                           state_changed=lambda: collector.state_changed)
