"""Which accounts to poll: configured accounts, plus detected ones when auto_detect is on.

Configured accounts win over detected ones with the same id. Detection is cheap (no network).
"""
from __future__ import annotations

import logging
import os
from typing import Dict, Iterable, List, Optional, Tuple

from openusage.config import Settings
from openusage.core import redact
from openusage.providers import REGISTRY
from openusage.providers.base import AccountConfig, Provider, account_key_names

log = logging.getLogger("openusage.accounts")


def detect_all(environ: Optional[Dict[str, str]] = None, home: Optional[str] = None,
               only: Optional[Iterable[str]] = None) -> List[AccountConfig]:
    """Accounts every registered provider (or those of `only`) finds on this machine."""
    env = dict(os.environ if environ is None else environ)
    home = home or os.path.expanduser("~")
    found: List[AccountConfig] = []
    for pid in list(REGISTRY) if only is None else [p for p in only if p in REGISTRY]:
        try:
            found.extend(REGISTRY[pid].detect(env, home, _which))
        except Exception as exc:  # detection must never stop the daemon
            log.warning("detection by %s failed: %s", pid, exc)
    return found


def resolve(
    settings: Settings, detected: Optional[List[AccountConfig]] = None
) -> List[Tuple[Optional[Provider], AccountConfig]]:
    """(provider, account) pairs to poll; provider is None when the account names an unknown one.

    The values of the variables holding their keys are registered for masking: whatever this process
    shows or stores, no key of an account is in it."""
    accounts: Dict[str, AccountConfig] = {}
    for raw in settings.accounts:
        acct = AccountConfig.from_dict(raw)
        accounts[acct.id] = acct
    if settings.get("auto_detect", True):
        for acct in detected if detected is not None else detect_all():
            accounts.setdefault(acct.id, acct)
    pairs = [(REGISTRY.get(a.provider), a) for a in accounts.values() if a.enabled]
    for provider, acct in pairs:
        redact.remember_env(account_key_names(provider, acct))
    return pairs


def _which(program: str) -> Optional[str]:
    """shutil.which, imported on first use (detecting local collectors runs no program)."""
    import shutil

    return shutil.which(program)
