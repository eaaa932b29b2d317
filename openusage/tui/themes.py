"""Themes: a colour for every role the views use, in RGB and as a 16-colour index.

A terminal with 256 colours or truecolor gets the RGB value (blessed approximates it for 256); one
with 8 or 16 colours gets the index chosen here, because approximating RGB to 16 colours picks odd
neighbours. Without colour (NO_COLOR, --no-color) only bold and reverse remain: the views always
say a status in words too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from openusage.settings_check import THEME_NAMES

DEFAULT_THEME = "dark"


@dataclass(frozen=True)
class Style:
    fg: Optional[Tuple[str, int]] = None  # ("#rrggbb", 16-colour index)
    bg: Optional[Tuple[str, int]] = None
    bold: bool = False
    reverse: bool = False


# 16-colour indices
BLACK, RED, GREEN, YELLOW, BLUE, MAGENTA, CYAN, WHITE = range(8)
GREY, BRED, BGREEN, BYELLOW, BBLUE, BMAGENTA, BCYAN, BWHITE = range(8, 16)


def _s(fg=None, bg=None, bold=False, reverse=False) -> Style:
    return Style(fg, bg, bold, reverse)


_DARK: Dict[str, Style] = {
    "text": _s(),
    "dim": _s(("#8a8f98", GREY)),
    "label": _s(("#a8b0bc", WHITE)),
    "title": _s(("#e6e9ef", BWHITE), bold=True),
    "value": _s(("#e6e9ef", BWHITE), bold=True),
    "money": _s(("#7dd3a8", BGREEN), bold=True),
    "border": _s(("#4b5263", GREY)),
    "border_sel": _s(("#61afef", BBLUE), bold=True),
    "header": _s(("#e6e9ef", BWHITE), ("#283040", BLUE), bold=True),
    "header_dim": _s(("#a8b0bc", WHITE), ("#283040", BLUE)),
    "tab": _s(("#a8b0bc", WHITE)),
    "tab_active": _s(("#10141c", BLACK), ("#61afef", BBLUE), bold=True),
    "status": _s(("#c8ccd4", WHITE), ("#1e2430", BLACK)),
    "status_ok": _s(("#98c379", BGREEN), ("#1e2430", BLACK), bold=True),
    "status_err": _s(("#ff6b6b", BRED), ("#1e2430", BLACK), bold=True),
    "key": _s(("#e5c07b", BYELLOW), bold=True),
    "selected": _s(("#10141c", BLACK), ("#61afef", BBLUE)),
    "table_head": _s(("#61afef", BBLUE), bold=True),
    "badge_OK": _s(("#10141c", BLACK), ("#98c379", GREEN), bold=True),
    "badge_WARN": _s(("#10141c", BLACK), ("#e5c07b", YELLOW), bold=True),
    "badge_LIMIT": _s(("#ffffff", BWHITE), ("#d9534f", RED), bold=True),
    "badge_AUTH": _s(("#ffffff", BWHITE), ("#a86fd9", MAGENTA), bold=True),
    "badge_ERR": _s(("#ffffff", BWHITE), ("#be3a3a", RED), bold=True),
    "badge_UNKNOWN": _s(("#10141c", BLACK), ("#8a8f98", WHITE), bold=True),
    "gauge_ok": _s(("#98c379", GREEN)),
    "gauge_warn": _s(("#e5c07b", YELLOW)),
    "gauge_crit": _s(("#ff6b6b", BRED), bold=True),
    "gauge_empty": _s(("#3b4252", GREY)),
    "spark": _s(("#56b6c2", CYAN)),
    "bar": _s(("#61afef", BLUE)),
    "error": _s(("#ff6b6b", BRED), bold=True),
    "stale": _s(("#e5c07b", YELLOW), bold=True),
    "series0": _s(("#61afef", BLUE)),
    "series1": _s(("#98c379", GREEN)),
    "series2": _s(("#e5c07b", YELLOW)),
    "series3": _s(("#c678dd", MAGENTA)),
    "series4": _s(("#56b6c2", CYAN)),
    "series5": _s(("#e06c75", RED)),
}

_LIGHT: Dict[str, Style] = dict(
    _DARK,
    text=_s(),
    dim=_s(("#6a717c", GREY)),
    label=_s(("#4a515c", BLACK)),
    title=_s(("#1b1f27", BLACK), bold=True),
    value=_s(("#1b1f27", BLACK), bold=True),
    money=_s(("#1d7a4c", GREEN), bold=True),
    border=_s(("#a0a7b4", GREY)),
    border_sel=_s(("#1e66c8", BLUE), bold=True),
    header=_s(("#ffffff", BWHITE), ("#3b5b8c", BLUE), bold=True),
    header_dim=_s(("#dfe6f1", WHITE), ("#3b5b8c", BLUE)),
    tab=_s(("#4a515c", BLACK)),
    tab_active=_s(("#ffffff", BWHITE), ("#1e66c8", BLUE), bold=True),
    status=_s(("#1b1f27", BLACK), ("#dfe3ea", WHITE)),
    status_ok=_s(("#1d7a4c", GREEN), ("#dfe3ea", WHITE), bold=True),
    status_err=_s(("#b42318", RED), ("#dfe3ea", WHITE), bold=True),
    key=_s(("#9a5b00", YELLOW), bold=True),
    selected=_s(("#ffffff", BWHITE), ("#1e66c8", BLUE)),
    table_head=_s(("#1e66c8", BLUE), bold=True),
    gauge_ok=_s(("#2f8f46", GREEN)),
    gauge_warn=_s(("#c27c00", YELLOW)),
    gauge_crit=_s(("#c62828", RED), bold=True),
    gauge_empty=_s(("#d3d8e0", WHITE)),
    spark=_s(("#0f7c8a", CYAN)),
    bar=_s(("#1e66c8", BLUE)),
    error=_s(("#c62828", RED), bold=True),
    stale=_s(("#9a5b00", YELLOW), bold=True),
)

_HIGH_CONTRAST: Dict[str, Style] = dict(
    _DARK,
    text=_s(("#ffffff", BWHITE)),
    dim=_s(("#d0d0d0", WHITE)),
    label=_s(("#ffffff", BWHITE)),
    title=_s(("#ffffff", BWHITE), bold=True),
    value=_s(("#ffffff", BWHITE), bold=True),
    money=_s(("#00ff00", BGREEN), bold=True),
    border=_s(("#ffffff", BWHITE)),
    border_sel=_s(("#ffff00", BYELLOW), bold=True),
    header=_s(("#000000", BLACK), ("#ffffff", BWHITE), bold=True),
    header_dim=_s(("#000000", BLACK), ("#ffffff", BWHITE)),
    tab=_s(("#ffffff", BWHITE)),
    tab_active=_s(("#000000", BLACK), ("#ffff00", BYELLOW), bold=True),
    status=_s(("#000000", BLACK), ("#ffffff", BWHITE)),
    status_ok=_s(("#000000", BLACK), ("#00ff00", BGREEN), bold=True),
    status_err=_s(("#ffffff", BWHITE), ("#ff0000", BRED), bold=True),
    key=_s(("#ffff00", BYELLOW), bold=True),
    selected=_s(reverse=True, bold=True),
    table_head=_s(("#ffff00", BYELLOW), bold=True),
    badge_OK=_s(("#000000", BLACK), ("#00ff00", BGREEN), bold=True),
    badge_WARN=_s(("#000000", BLACK), ("#ffff00", BYELLOW), bold=True),
    badge_LIMIT=_s(("#ffffff", BWHITE), ("#ff0000", BRED), bold=True),
    badge_AUTH=_s(("#000000", BLACK), ("#ff00ff", BMAGENTA), bold=True),
    badge_ERR=_s(("#ffffff", BWHITE), ("#ff0000", BRED), bold=True),
    badge_UNKNOWN=_s(("#000000", BLACK), ("#ffffff", BWHITE), bold=True),
    gauge_ok=_s(("#00ff00", BGREEN)),
    gauge_warn=_s(("#ffff00", BYELLOW), bold=True),
    gauge_crit=_s(("#ff0000", BRED), bold=True),
    gauge_empty=_s(("#808080", GREY)),
    spark=_s(("#00ffff", BCYAN)),
    bar=_s(("#00ffff", BCYAN)),
    error=_s(("#ff0000", BRED), bold=True),
    stale=_s(("#ffff00", BYELLOW), bold=True),
)

# No colour at all: structure by bold and reverse only.
_MONO: Dict[str, Style] = {
    "title": _s(bold=True),
    "value": _s(bold=True),
    "money": _s(bold=True),
    "border_sel": _s(bold=True),
    "header": _s(reverse=True, bold=True),
    "header_dim": _s(reverse=True),
    "tab_active": _s(reverse=True, bold=True),
    "status": _s(reverse=True),
    "status_ok": _s(reverse=True, bold=True),
    "status_err": _s(reverse=True, bold=True),
    "key": _s(bold=True),
    "selected": _s(reverse=True),
    "table_head": _s(bold=True),
    "badge_OK": _s(bold=True),
    "badge_WARN": _s(bold=True),
    "badge_LIMIT": _s(reverse=True, bold=True),
    "badge_AUTH": _s(reverse=True, bold=True),
    "badge_ERR": _s(reverse=True, bold=True),
    "badge_UNKNOWN": _s(bold=True),
    "gauge_crit": _s(bold=True),
    "error": _s(bold=True),
    "stale": _s(bold=True),
}

THEMES: Dict[str, Dict[str, Style]] = {"dark": _DARK, "light": _LIGHT, "high-contrast": _HIGH_CONTRAST}
PLAIN = Style()


def names() -> List[str]:
    return list(THEME_NAMES)


def normalize(name: Optional[str]) -> str:
    return name if name in THEMES else DEFAULT_THEME


def next_theme(name: str) -> str:
    order = list(THEME_NAMES)
    return order[(order.index(normalize(name)) + 1) % len(order)]


def style(theme: str, role: str, color: bool = True) -> Style:
    """The style of a role; unknown roles draw as plain text."""
    if not color:
        return _MONO.get(role, PLAIN)
    return THEMES[normalize(theme)].get(role, PLAIN)
