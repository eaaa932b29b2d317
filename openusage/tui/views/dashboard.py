"""The dashboard: a grid of tiles, one per account.

A tile shows the name and a status badge on its border, then the window's spend, tokens and tool calls,
the provider's own figures with their periods (cycle, lifetime, balances) and any unpriced models, gauges
for rate limits and quotas with reset countdowns (for plan windows, the most urgent pace projection
and where and when the readings were taken), the top models, a sparkline of the window's daily
spend (or tokens), the token split, the status message and balances, as many as its height holds.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

from openusage.core.snapshot import UsageSnapshot
from openusage.core.windows import days_between, local_date
from openusage.tui import widgets
from openusage.tui.state import Data, UIState, selected_index, visible_keys
from openusage.tui.views import plan
from openusage.tui.views.parts import alert_mark, badge, costs_hidden, empty_message, name_of, status_of
from openusage.tui.widgets import Glyphs, Line

TILE_MIN_WIDTH = 38
TILE_HEIGHT = 10
TILE_MAX_HEIGHT = 14
MAX_GAUGES = 3  # in a tile of TILE_HEIGHT; a taller tile shows more

LimitItem = Tuple[str, Optional[float], Optional[str]]  # label, used share, resets_at


def geometry(width: int, height: int, count: int = 0) -> Tuple[int, int, int, int]:
    """(columns, tile width, tile rows that fit, tile height) for a body of width x height.

    As many columns as fit, but no more than there are tiles, so a few tiles share the whole width
    (tile_widths spreads the remainder). When every one of `count` tiles fits, the tiles grow taller
    (up to TILE_MAX_HEIGHT) to use the room.
    """
    cols = max(1, width // TILE_MIN_WIDTH)
    if count:
        cols = min(cols, count)
    tile_w = width // cols
    tile_h = min(TILE_HEIGHT, max(4, height))
    needed = (count + cols - 1) // cols
    if needed and needed * tile_h < height:
        tile_h = max(tile_h, min(TILE_MAX_HEIGHT, height // needed))
    return cols, tile_w, max(1, height // tile_h), tile_h


def tile_widths(width: int, cols: int) -> List[int]:
    """The width of each column of tiles: the screen's width shared out, the first ones a cell wider."""
    base, extra = divmod(width, cols)
    return [base + (1 if c < extra else 0) for c in range(cols)]


def first_visible(scroll: int, index: int, page: int, total: int) -> int:
    """The first row to show so that row `index` is on a page of `page` rows, moving as little as can be."""
    first = min(scroll, index)
    first = max(first, index - page + 1)
    return max(0, min(first, max(0, total - page)))


# --- what a snapshot shows ----------------------------------------------------------------------


def limit_items(snap: UsageSnapshot, spec: Dict[str, Any], hide_costs: bool = False) -> List[LimitItem]:
    """Rate limits (the provider's chosen gauges first) and the spend quota, as gauge items."""
    limits = snap.rate_limits or {}
    chosen = [n for n in spec.get("gauges", []) if n in limits]
    names = chosen + sorted(n for n in limits if n not in chosen)
    items: List[LimitItem] = [(n, limits[n].fraction_used(), limits[n].resets_at) for n in names]
    spend = snap.spend
    # The spend cap as a gauge, unless a window of the provider's carries that cap already: it knows the
    # cap's own period and what counts against it (OpenRouter's key limit may be daily or lifetime,
    # Cursor's on-demand budget leaves the plan out), where the cycle's spend would be the wrong figure.
    hard = spend.limits.hard if spend and spend.limits else None
    if not hide_costs and hard and not any(w.limit == hard for w in limits.values()):
        spent = spend.cycle if spend.cycle is not None else spend.total
        if spent is not None:
            items.append(("budget", spent / hard, None))
    return items


WINDOW_DAYS = {"1d": 1, "3d": 3, "7d": 7, "30d": 30}


def daily_series(snap: UsageSnapshot, hide_costs: bool, window: Optional[str] = None,
                 now: Optional[float] = None) -> Tuple[str, List[Optional[float]]]:
    """('spend' or 'tokens', values per day): spend unless hidden or absent.

    With the window and the time, every day of the window is there (up to today, local), a day
    without usage as 0: a 30d window has 30 values.
    """
    days = snap.daily or []
    kind = "spend" if not hide_costs and any(d.cost is not None for d in days) else "tokens"
    by_date = {d.date: (d.cost if kind == "spend" else None if d.tokens is None else float(d.tokens)) for d in days}
    if window is None or now is None or not days:
        return kind, list(by_date.values())
    today = local_date(now)
    count = WINDOW_DAYS.get(window)
    if count is None:  # all: from the first day with usage
        first = min(by_date)
    else:  # by dates, not seconds: a DST day is 23 or 25 hours
        first = (datetime.strptime(today, "%Y-%m-%d") - timedelta(days=count - 1)).strftime("%Y-%m-%d")
    return kind, [by_date[d] if d in by_date else 0.0 for d in days_between(min(first, today), today)]


def top_models(snap: UsageSnapshot, hide_costs: bool, count: int = 3) -> List[Tuple[str, float]]:
    """(model, share) of the biggest models by cost (or tokens when costs are hidden or absent)."""
    models = snap.models or []
    incomplete = snap.spend is not None and snap.spend.incomplete  # unpriced models would weigh nothing
    use_cost = not hide_costs and not incomplete and any(m.cost for m in models)
    weights = [(m.model, float(m.cost or 0) if use_cost else float(m.total_tokens())) for m in models]
    total = sum(w for _, w in weights)
    if total <= 0:
        return [(name, 0.0) for name, _ in weights[:count]]
    weights.sort(key=lambda item: -item[1])
    return [(name, w / total) for name, w in weights[:count]]


def money_text(snap: UsageSnapshot, amount: Optional[float], g: Glyphs) -> str:
    """An amount; marked 'at least' when the cost leaves out models without a price."""
    text = widgets.money(amount, snap.currency)
    if snap.spend is not None and snap.spend.incomplete:
        return (">=" if g.ellipsis == "~" else "≥") + text
    return text


def figures(snap: UsageSnapshot, hidden: bool, g: Glyphs) -> Line:
    """The window's spend, tokens and tool calls; a spend of whole provider days says which."""
    spend = snap.spend.total if snap.spend else None
    tokens = snap.tokens.total if snap.tokens and snap.period_of("tokens") is None else None
    parts: Line = []
    if hidden:
        parts.append(("cost hidden", "dim"))
    elif spend is not None:
        parts.append((money_text(snap, spend, g), "money"))
        period = snap.period_of("spend.total")
        if period is not None:
            parts.append((" " + period.label(), "dim"))
    if tokens is not None:
        parts += [(widgets.compact(tokens), "value"), (" tok", "dim")]
    if snap.tool_calls is not None:
        parts += [(widgets.compact(snap.tool_calls), "value"), (" call" if snap.tool_calls == 1 else " calls", "dim")]
    return _dotted(parts, g)


def _dotted(parts: Line, g: Glyphs) -> Line:
    out: Line = []
    for i, seg in enumerate(parts):
        if i and seg[1] != "dim":
            out.append((f" {g.dot} ", "dim"))
        out.append(seg)
    return out


# How a widget spec's figure is named on a tile when its period does not say it already.
FIGURE_NAMES = {"spend.balance.cash": "cash", "spend.balance.voucher": "voucher",
                "spend.balance.granted": "granted", "tokens.total": "tok", "tool_calls": "calls"}
WINDOW_FIGURES = ("spend.total", "tokens.total", "tool_calls")  # what figures() shows


def figure_value(snap: UsageSnapshot, path: str) -> Any:
    """The value at a widget spec's figure path ('spend.cycle', 'extras.models_available'), or None."""
    head, _, rest = path.partition(".")
    value: Any = getattr(snap, head, None)
    for name in rest.split(".") if rest else ():
        value = value.get(name) if isinstance(value, dict) else getattr(value, name, None)
    return value


def headline(snap: UsageSnapshot, spec: Dict[str, Any], hidden: bool, g: Glyphs, width: int = 0) -> List[Line]:
    """The provider's own figures (its widget spec's) that are not the window's: cycle and lifetime
    spend with their periods, balances, counts; as many to a line as `width` holds (0: one line)."""
    lines: List[Line] = []
    parts: Line = []
    for path in spec.get("figures", []):
        if path in WINDOW_FIGURES and (path != "tokens.total" or snap.period_of("tokens") is None):
            continue
        value = figure_value(snap, path)
        if value is None or isinstance(value, (dict, list)):
            continue
        money = path.startswith("spend.")
        if money and hidden:
            continue
        figure = path.rsplit(".", 1)[0] if path == "tokens.total" else path
        period = snap.period_of(figure)
        kind = FIGURE_NAMES.get(path)  # 'tok', 'cash': what the number is, where its period does not say
        if period is not None:
            name = f"{kind} {period.label()}" if kind else period.label()
        else:
            name = kind or path.rsplit(".", 1)[-1]
        text = widgets.money(value, snap.currency) if money else (
            widgets.compact(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value))
        item: Line = [(text, "money" if money else "value"), (" " + name.replace("_", " "), "dim")]
        if parts and width and widgets.line_width(_dotted(parts + item, g)) > width:
            lines.append(_dotted(parts, g))
            parts = []
        parts += item
    if parts:
        lines.append(_dotted(parts, g))
    return lines


def _period_note(snap: UsageSnapshot, figure: str) -> Line:
    """'(month to date) ' before a figure that is not the window's; nothing for the window's."""
    period = snap.period_of(figure)
    return [(f"({period.label()}) ", "dim")] if period is not None else []


def unpriced_line(snap: UsageSnapshot) -> Line:
    """'unpriced: glm-4.6 12.4k tok' when the cost leaves models out; empty otherwise."""
    if not snap.unpriced:
        return []
    text = ", ".join(f"{u.model} {widgets.compact(u.tokens)} tok" for u in snap.unpriced)
    return [("unpriced: ", "stale"), (text, "text")]


def message_role(status: str) -> str:
    return {"WARN": "stale", "LIMIT": "error", "AUTH": "error", "ERR": "error"}.get(status, "dim")


MIN_BAR = 10  # cells of gauge bar a tile keeps before it shortens limit names


def gauge_lines(items: List[LimitItem], width: int, state: UIState, now: float) -> List[Line]:
    g = widgets.glyphs_for(state.ascii)
    if not items:
        return []
    suffixes = []
    for _, _, resets_at in items:
        left = widgets.countdown(resets_at, now)
        suffixes.append(f"{g.reset}{left}" if left else "")
    suffix_w = max(widgets.text_width(s) for s in suffixes)
    # Long limit names (Copilot's premium_interactions) keep what the tile can spare beside a bar of
    # MIN_BAR cells, the percent and the reset countdown; short ones line up at their own width.
    spare = width - 1 - MIN_BAR - len(" 100%") - (suffix_w + 1 if suffix_w else 0)
    label_w = min(max(widgets.text_width(label) for label, _, _ in items), max(7, spare))
    out = []
    for (label, used, _), suffix in zip(items, suffixes):
        out.append(widgets.gauge(label, used, width, g, state.warn, state.crit, label_width=label_w,
                                 suffix=widgets.fit(suffix, suffix_w) if suffix_w else ""))
    return out


def tile_body(key: str, snap: UsageSnapshot, state: UIState, data: Data, width: int, rows: int) -> List[Line]:
    """The lines inside a tile, most important first, cut to `rows`."""
    g = widgets.glyphs_for(state.ascii)
    hidden = costs_hidden(state, key)
    status = status_of(snap)
    spec = data.widgets.get(snap.provider_id, {})
    window = figures(snap, hidden, g)
    lines: List[Line] = ([window] if window else []) + headline(snap, spec, hidden, g, width)
    if not lines and not snap.rate_limits:
        lines.append([("no usage in this window", "dim")])
    if snap.unpriced:
        lines.append(unpriced_line(snap))
    if status != "OK" and snap.message:
        lines.append([(snap.message, message_role(status))])
    room = MAX_GAUGES + max(0, rows - (TILE_HEIGHT - 2))
    items = limit_items(snap, spec, hidden)[:room]
    lines += gauge_lines(items, width, state, data.now)
    lines += [[(text, role)] for text, role in plan.tile_lines(snap, [i[0] for i in items], data.now)]
    models = top_models(snap, hidden)
    if models:
        text = f" {g.dot} ".join(f"{name} {share * 100:.0f}%" for name, share in models)
        lines.append([("top ", "dim")] + _period_note(snap, "models") + [(text, "text")])
    kind, values = daily_series(snap, hidden, data.window, data.now)
    if any(v for v in values):
        label = f" daily {kind}"
        spark_w = max(1, min(len(values), width - len(label)))
        lines.append([(widgets.sparkline(values, spark_w, g), "spark"), (label, "dim")])
    tok = snap.tokens
    if tok and (tok.input is not None or tok.output is not None):
        cache = (tok.cache_read or 0) + (tok.cache_write or 0)
        # the period first: a tile cuts a long line at its end, and the numbers must never lose their label
        lines.append(_period_note(snap, "tokens") + [
            ("in ", "dim"), (widgets.compact(tok.input), "text"), ("  out ", "dim"),
            (widgets.compact(tok.output), "text"), ("  cache ", "dim"), (widgets.compact(cache), "text")])
    if status == "OK" and snap.message:
        lines.append([(snap.message, "dim")])
    balance = snap.spend.balance if snap.spend else None
    shown = any(p.startswith("spend.balance.") for p in spec.get("figures", []))  # in the headline
    if balance and not hidden and not shown and any(
            v is not None for v in (balance.cash, balance.voucher, balance.granted)):
        parts = [f"{widgets.money(v, snap.currency)} {n}" for n, v in
                 (("cash", balance.cash), ("voucher", balance.voucher), ("granted", balance.granted)) if v is not None]
        lines.append([("balance ", "dim"), (", ".join(parts), "text")])
    return lines[:rows]


def tile(key: str, snap: UsageSnapshot, state: UIState, data: Data, width: int, height: int,
         selected: bool) -> List[Line]:
    g = widgets.glyphs_for(state.ascii)
    inner = width - 4  # border and one space each side
    body = [[(" ", "text")] + line for line in tile_body(key, snap, state, data, inner, height - 2)]
    title: Line = [(name_of(key, snap), "title" if not selected else "border_sel")]
    border = "border_sel" if selected else "border"
    if selected:
        title = [(g.pointer + " ", "border_sel")] + title
    if data.alerts_of(snap):
        title.append((" " + alert_mark(state), "error"))
    return widgets.box(body, width, height, g, title=title, badge=badge(status_of(snap), state), border=border)


# --- the screen ---------------------------------------------------------------------------------


def render(state: UIState, data: Data, width: int, height: int) -> List[Line]:
    keys = visible_keys(state, data.snapshots)
    if not keys:
        return [[], [("  " + empty_message(state, data), "dim")]]
    cols, _, rows_fit, tile_h = geometry(width, height, len(keys))
    widths = tile_widths(width, cols)
    total_rows = (len(keys) + cols - 1) // cols
    index = selected_index(state, keys)
    first = first_visible(state.scroll.get("dashboard", 0), index // cols, rows_fit, total_rows)
    lines: List[Line] = []
    for row in range(first, min(total_rows, first + rows_fit)):
        tiles = []
        for col in range(cols):
            i = row * cols + col
            if i >= len(keys):
                break
            key = keys[i]
            tiles.append(tile(key, data.snapshots[key], state, data, widths[col], tile_h, i == index))
        for y in range(tile_h):
            line: Line = []
            for t in tiles:
                line += t[y]
            lines.append(line)
    hidden_below = total_rows - (first + rows_fit)
    notes = []
    if first > 0:
        notes.append(f"{first} row{'s' if first != 1 else ''} above")
    if hidden_below > 0:
        notes.append(f"{hidden_below} row{'s' if hidden_below != 1 else ''} below")
    if notes and len(lines) < height:
        lines.append([("  " + ", ".join(notes) + " (j/k, PgUp/PgDn)", "dim")])
    return lines
