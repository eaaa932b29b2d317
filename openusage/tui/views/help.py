"""Help: every key, grouped; two columns when the screen is 80 cells wide or more."""
from __future__ import annotations

from typing import List, Tuple

from openusage.tui.state import Data, UIState
from openusage.tui.views.dashboard import first_visible
from openusage.tui.widgets import Line, fit, fit_line

# (group, [(keys, what they do)]): the app's key handler implements exactly these
KEYS: List[Tuple[str, List[Tuple[str, str]]]] = [
    ("Screens", [
        ("Tab", "dashboard tiles / list"),
        ("Enter", "details of the account"),
        ("a", "analytics / next account"),
        ("?", "this help"),
        ("q Esc", "back, or quit"),
        ("Ctrl-C", "quit"),
    ]),
    ("Move", [
        ("j k DOWN UP", "next / previous row"),
        ("h l LEFT RIGHT", "previous / next tile"),
        ("PgUp PgDn", "a page up / down"),
        ("Home End", "first / last"),
    ]),
    ("Data", [
        ("w", "window 1d>3d>7d>30d>all"),
        ("r", "refresh (daemon polls)"),
        ("s", "start the daemon (STALE)"),
        ("/", "new filter by name"),
        ("c", "hide/show costs of tile"),
        ("J K", "move tile down/up (saved)"),
        ("t", "theme dark/light/contrast"),
    ]),
    ("Detail and analytics", [
        ("[ ]", "previous / next tab"),
        ("m", "analytics: spend/tokens"),
    ]),
]
ARROWS = {True: {"DOWN": "Dn", "UP": "Up", "LEFT": "Lt", "RIGHT": "Rt"},
          False: {"DOWN": "↓", "UP": "↑", "LEFT": "←", "RIGHT": "→"}}
KEY_WIDTH = 12


def all_lines(ascii_only: bool) -> List[Line]:
    lines: List[Line] = []
    for group, keys in KEYS:
        lines.append([(group, "table_head")])
        for key, what in keys:
            for word, glyph in ARROWS[ascii_only].items():
                key = key.replace(word, glyph)
            lines.append([(" " + fit(key, KEY_WIDTH), "key"), (what, "text")])
        lines.append([])
    return lines


def page(height: int) -> int:
    return max(1, height - 2)


def _two_columns(lines: List[Line], width: int) -> List[Line]:
    half = (len(lines) + 1) // 2
    while half < len(lines) and lines[half - 1]:  # split after a group's blank line
        half += 1
    left, right = lines[:half], lines[half:]
    col = width // 2 - 2
    merged: List[Line] = []
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else []
        b = right[i] if i < len(right) else []
        merged.append([("  ", "text")] + fit_line(a, col) + [("  ", "text")] + b)
    return merged


def render(state: UIState, data: Data, width: int, height: int) -> List[Line]:
    lines = all_lines(state.ascii)
    rows = page(height)
    if len(lines) > rows and width >= 80:
        lines = _two_columns(lines, width)
    else:
        lines = [[("  ", "text")] + line for line in lines]
    first = first_visible(state.scroll.get("help", 0), state.scroll.get("help", 0), rows, len(lines))
    head: Line = [("  Keys", "title"), ("   (Esc or q closes this help)", "dim")]
    return [head, []] + lines[first:first + rows]
