"""A collector's saved state says which form it is in; an older form is brought up to date once, on load.

The state is the JSON a collector keeps between polls (its cursors and carry-over). A collector names
its current form with a version number and, for each older form, the step that rewrites it into the
next; state saved before versions existed is version 1.
"""
from __future__ import annotations

from typing import Any, Callable, Dict

VERSION_KEY = "version"


def upgrade(state: Dict[str, Any], version: int, steps: Dict[int, Callable[[Dict[str, Any]], None]]) -> None:
    """Rewrite `state` in place into form `version`, running steps[n] for each older form n it passes.

    State of a newer form than this openusage knows is dropped: the files are read again from the
    start and the store drops the events it already holds.
    """
    have = state.get(VERSION_KEY, 1) if state else version
    if not isinstance(have, int) or have > version:
        state.clear()
        have = version
    for step in range(have, version):
        steps[step](state)
    state[VERSION_KEY] = version
