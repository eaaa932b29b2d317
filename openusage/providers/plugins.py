"""User plugins: Python files in a plugin directory that define Provider subclasses.

A plugin is loaded with the same interface as the built-ins and validated before it is registered;
`openusage plugin validate` reports exactly what is wrong with one.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import logging
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from openusage.providers.base import SOURCE_MODES, Provider

log = logging.getLogger("openusage.plugins")

_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


@dataclass
class PluginReport:
    path: str
    providers: List[Provider] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.providers)


def discover(dirs: List[str]) -> List[str]:
    """Every *.py plugin file in the directories, in search order (files starting with _ skipped)."""
    found: List[str] = []
    for directory in dirs:
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            if name.endswith(".py") and not name.startswith("_"):
                found.append(os.path.join(directory, name))
    return found


def load_file(path: str, builtin_ids: Optional[set] = None) -> PluginReport:
    """Import one plugin file and check every provider it defines."""
    report = PluginReport(path=path)
    digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:10]
    module_name = f"openusage_plugin_{digest}"
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            report.errors.append("not a Python module")
            return report
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        report.errors.append(f"syntax error at line {exc.lineno}: {exc.msg}")
        return report
    except Exception as exc:
        line = _plugin_line(exc, path)
        report.errors.append(f"import failed{line}: {type(exc).__name__}: {exc}")
        return report
    classes = [obj for obj in vars(module).values()
               if inspect.isclass(obj) and issubclass(obj, Provider) and obj is not Provider
               and obj.__module__ == module_name]
    if not classes:
        report.errors.append("defines no subclass of openusage.providers.base.Provider")
    for cls in classes:
        problems = check_provider_class(cls, builtin_ids or set())
        if problems:
            report.errors.extend(f"{cls.__name__}: {p}" for p in problems)
            continue
        try:
            report.providers.append(cls())
        except Exception as exc:
            report.errors.append(f"{cls.__name__}: cannot be created: {type(exc).__name__}: {exc}")
    return report


def _plugin_line(exc: BaseException, path: str) -> str:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            return f" at line {frame.lineno}"
    return ""


def check_provider_class(cls: type, builtin_ids: set) -> List[str]:
    """What is wrong with a provider class, each problem one sentence."""
    problems = []
    pid = getattr(cls, "id", "")
    if not isinstance(pid, str) or not _ID.match(pid):
        problems.append(f"id {pid!r} must be 2-41 characters of a-z, 0-9 and _, starting with a letter")
    elif pid in builtin_ids:
        problems.append(f"id {pid!r} is already used by a built-in provider")
    if not isinstance(getattr(cls, "name", ""), str) or not cls.name:
        problems.append("name must be a non-empty string")
    modes = getattr(cls, "source_modes", ())
    if not modes or any(m not in SOURCE_MODES for m in modes):
        problems.append(f"source_modes must be a non-empty subset of {', '.join(SOURCE_MODES)}")
    if not isinstance(getattr(cls, "widgets", {}), dict):
        problems.append("widgets must be a dict")
    for attr in ("env_vars", "programs"):
        value = getattr(cls, attr, ())
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            problems.append(f"{attr} must be a list of strings")
    fetch = getattr(cls, "fetch", None)
    if fetch is None or fetch is Provider.fetch:
        problems.append("does not implement fetch(account, ctx)")
    else:
        params = list(inspect.signature(fetch).parameters)
        if len(params) < 3:
            problems.append("fetch must take (self, account, ctx)")
    interval = getattr(cls, "default_interval", 60.0)
    if not isinstance(interval, (int, float)) or interval < 5:
        problems.append("default_interval must be a number of seconds, at least 5")
    return problems


def load_all(dirs: List[str], registry: Dict[str, Provider]) -> List[PluginReport]:
    """Load every plugin in the directories into the registry; bad plugins are reported and skipped."""
    builtin = set(registry)
    reports = []
    for path in discover(dirs):
        report = load_file(path, builtin)
        for provider in report.providers:
            if provider.id in registry:
                report.errors.append(f"id {provider.id!r} is defined twice")
                continue
            registry[provider.id] = provider
        if report.errors:
            log.warning("plugin %s: %s", path, "; ".join(report.errors))
        reports.append(report)
    return reports
