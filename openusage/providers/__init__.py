"""The provider registry: one visible dict of every built-in provider, by id."""
from __future__ import annotations

from typing import Dict

from openusage.providers.base import Provider
from openusage.providers.demo import DemoProvider

REGISTRY: Dict[str, Provider] = {
    p.id: p
    for p in (
        DemoProvider(),
    )
}


def get(provider_id: str) -> Provider:
    """The provider with this id; KeyError when there is none."""
    return REGISTRY[provider_id]
