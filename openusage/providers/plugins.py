"""User plugins: Python files in a plugin directory that define Provider subclasses.

A plugin is loaded with the same interface as the built-ins and validated before it is registered;
`openusage plugin validate` reports exactly what is wrong with one.

Loading a plugin runs its code, so only code the user put there runs: a plugin directory and a plugin
file must be owned by the user and writable by no one else (group or others), or nothing in them is
imported. The file is checked on the open descriptor it is read from, so it cannot be swapped between
the check and the import.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import logging
import os
import re
import stat
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


class Untrusted(Exception):
    """A plugin file someone besides the user could have written."""


def untrusted(st: os.stat_result, what: str) -> Optional[str]:
    """Why a plugin directory or file may not be loaded (its stat), or None when the user alone controls it."""
    if st.st_uid != os.geteuid():
        return f"{what} is owned by uid {st.st_uid}, not by you (uid {os.geteuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{what} is writable by others (mode {stat.S_IMODE(st.st_mode):04o}): chmod go-w it"
    return None


def refused_dirs(dirs: List[str]) -> Dict[str, str]:
    """Existing plugin directories that may not be loaded -> the one-line reason."""
    refused = {}
    for directory in dirs:
        try:
            st = os.stat(directory)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            reason = untrusted(st, "the directory")
            if reason:
                refused[directory] = f"not loading plugins from {directory}: {reason}"
    return refused


def discover(dirs: List[str]) -> List[str]:
    """Every *.py plugin file in the trusted directories, in search order (files starting with _ skipped)."""
    refused = refused_dirs(dirs)
    found: List[str] = []
    for directory in dirs:
        if not os.path.isdir(directory) or directory in refused:
            continue
        for name in sorted(os.listdir(directory)):
            if name.endswith(".py") and not name.startswith("_"):
                found.append(os.path.join(directory, name))
    return found


def _read_trusted(path: str) -> str:
    """The source of a plugin file the user alone controls; Untrusted saying why not."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Untrusted("not loaded: not a regular file")
        reason = untrusted(st, "the file")
        if reason:
            raise Untrusted(f"not loaded: {reason}")
        return fh.read().decode("utf-8")


def load_file(path: str, builtin_ids: Optional[set] = None) -> PluginReport:
    """Import one plugin file and check every provider it defines."""
    report = PluginReport(path=path)
    digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:10]
    module_name = f"openusage_plugin_{digest}"
    try:
        source = _read_trusted(path)
    except Untrusted as exc:
        report.errors.append(str(exc))
        return report
    except (OSError, UnicodeDecodeError) as exc:
        report.errors.append(f"cannot read: {exc}")
        return report
    try:
        spec = importlib.util.spec_from_loader(module_name, loader=None, origin=path)
        module = importlib.util.module_from_spec(spec)
        module.__file__ = path
        sys.modules[module_name] = module
        exec(compile(source, path, "exec"), module.__dict__)  # the checked bytes, not a second read of the path
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
    for reason in refused_dirs(dirs).values():
        log.warning("%s", reason)
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
