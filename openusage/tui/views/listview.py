"""The list: one compact row per account (name, status, spend, tokens, tightest limit, reset, top model)."""
from __future__ import annotations

from typing import List, Tuple

from openusage.core.snapshot import UsageSnapshot
from openusage.tui import widgets
from openusage.tui.state import Data, UIState, selected_index, visible_keys
from openusage.tui.views.dashboard import first_visible, limit_items, top_models
from openusage.tui.views.parts import costs_hidden, empty_message, name_of, status_of
from openusage.tui.widgets import Line, fit

# (title, width, align); the NAME column takes what is left, TOP MODEL what is left after that
COLUMNS = (("STATUS", 9, "left"), ("SPEND", 10, "right"), ("TOKENS", 7, "right"), ("LIMIT", 18, "left"),
           ("RESET", 7, "right"))
NAME_MIN, MODEL_MIN = 14, 10


def page(height: int) -> int:
    return max(1, height - 1)


def _widths(width: int) -> Tuple[int, int, bool]:
    """(name width, top-model width or 0, whether the fixed columns fit)."""
    fixed = 2 + sum(w + 1 for _, w, _ in COLUMNS)
    room = width - fixed
    if room < NAME_MIN:
        return max(4, room), 0, False
    if room >= NAME_MIN + MODEL_MIN + 1:
        name_w = max(NAME_MIN, min(32, room - MODEL_MIN - 1))
        return name_w, room - name_w - 1, True
    return room, 0, True


def tightest(snap: UsageSnapshot, data: Data, hidden: bool):
    """The limit with the highest used share: (label, used, resets_at) or None."""
    items = [i for i in limit_items(snap, data.widgets.get(snap.provider_id, {}), hidden) if i[1] is not None]
    return max(items, key=lambda i: i[1]) if items else None


def row(key: str, snap: UsageSnapshot, state: UIState, data: Data, width: int, selected: bool) -> Line:
    g = widgets.glyphs_for(state.ascii)
    name_w, model_w, _ = _widths(width)
    hidden = costs_hidden(state, key)
    status = status_of(snap)
    base = "selected" if selected else "text"
    line: Line = [((g.pointer if selected else " ") + " ", base),
                  (fit(name_of(key, snap), name_w, ellipsis=g.ellipsis), base)]
    status_text = f"[{status}]" if not state.color else status
    line += [(" ", base), (fit(status_text, COLUMNS[0][1]), "badge_" + status)]
    spend = "***" if hidden else widgets.money(snap.window_spend(), snap.currency)
    line += [(" " + fit(spend, COLUMNS[1][1], "right"), base if selected else "money")]
    tokens = widgets.compact(snap.tokens.total if snap.tokens else None)
    line += [(" " + fit(tokens, COLUMNS[2][1], "right"), base)]
    worst = tightest(snap, data, hidden)
    line.append((" ", base))
    if worst:
        label, used, resets_at = worst
        line += widgets.gauge(label, used, COLUMNS[3][1], g, state.warn, state.crit, label_width=6)
        reset = widgets.countdown(resets_at, data.now)
    else:
        line.append((fit("-", COLUMNS[3][1]), "dim"))
        reset = ""
    line.append((" " + fit(reset or "-", COLUMNS[4][1], "right"), base))
    if model_w:
        models = top_models(snap, hidden, count=1)
        line.append((" " + fit(models[0][0] if models else "-", model_w, ellipsis=g.ellipsis), base))
    return widgets.fit_line(line, width, base)


def header(width: int) -> Line:
    name_w, model_w, _ = _widths(width)
    parts = ["  " + fit("NAME", name_w)]
    for title, w, align in COLUMNS:
        parts.append(fit(title, w, align))
    if model_w:
        parts.append(fit("TOP MODEL", model_w))
    return [(" ".join(parts), "table_head")]


def render(state: UIState, data: Data, width: int, height: int) -> List[Line]:
    keys = visible_keys(state, data.snapshots)
    if not keys:
        return [[], [("  " + empty_message(state, data), "dim")]]
    index = selected_index(state, keys)
    rows = page(height)
    first = first_visible(state.scroll.get("list", 0), index, rows, len(keys))
    lines: List[Line] = [header(width)]
    for i in range(first, min(len(keys), first + rows)):
        lines.append(row(keys[i], data.snapshots[keys[i]], state, data, width, i == index))
    return lines
