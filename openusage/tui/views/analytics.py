"""Analytics: a bar per day of the window, spend or tokens, stacked across accounts or for one account."""
from __future__ import annotations

import time
from collections import Counter
from typing import Dict, List, Optional, Tuple

from openusage.core.windows import days_between
from openusage.tui import widgets
from openusage.tui.state import Data, UIState, visible_keys
from openusage.tui.views.dashboard import first_visible
from openusage.tui.views.parts import costs_hidden, empty_message, name_of
from openusage.tui.widgets import Line

HEAD_ROWS = 4  # title, legend, column head, blank
SERIES_ROLES = 6
MONO_FILLS = "#=+%@*"

Series = Tuple[str, str, Dict[str, float]]  # key, name, date -> value


def page(height: int) -> int:
    return max(1, height - HEAD_ROWS - 1)


def collect(state: UIState, data: Data) -> Tuple[str, Optional[str], List[Series], str]:
    """(metric, currency, series, note): the per-day values of the accounts in scope."""
    keys = visible_keys(state, data.snapshots)
    if state.analytics_scope in keys:
        keys = [state.analytics_scope]
    metric = state.analytics_metric
    note = ""
    currency = None
    if metric == "cost":
        priced = [k for k in keys if not costs_hidden(state, k)]
        if len(priced) < len(keys):
            note = "accounts with hidden costs left out"
        found = Counter(data.snapshots[k].currency or "USD" for k in priced
                        if any(d.cost is not None for d in data.snapshots[k].daily or []))
        if found:
            currency = found.most_common(1)[0][0]
            if len(found) > 1:
                note = f"{currency} accounts only (spend is never converted)"
        keys = [k for k in priced if (data.snapshots[k].currency or "USD") == currency]
    series: List[Series] = []
    for key in keys:
        snap = data.snapshots[key]
        values: Dict[str, float] = {}
        for day in snap.daily or []:
            value = day.cost if metric == "cost" else day.tokens
            if value is not None and day.date:
                values[day.date] = values.get(day.date, 0.0) + float(value)
        if values:
            series.append((key, name_of(key, snap), values))
    return metric, currency, series, note


def all_days(series: List[Series], now: float) -> List[str]:
    dates = sorted({d for _, _, values in series for d in values})
    if not dates:
        return []
    last = max(dates[-1], time.strftime("%Y-%m-%d", time.localtime(now)))
    return list(days_between(dates[0], last))


def _fmt(value: float, metric: str, currency: Optional[str]) -> str:
    return widgets.money(value, currency) if metric == "cost" else widgets.compact(value)


def _label(date: str) -> str:
    try:
        weekday = time.strftime("%a", time.strptime(date, "%Y-%m-%d"))
    except ValueError:
        weekday = ""
    return f"{date[5:]} {weekday}"


def stacked_bar(parts: List[float], top: float, width: int, state: UIState) -> Line:
    """Segments in series colours (or series fill characters without colour), `width * sum / top` long."""
    g = widgets.glyphs_for(state.ascii)
    out: Line = []
    done = 0
    total = 0.0
    for i, value in enumerate(parts):
        total += value
        end = int(round(total / top * width)) if top > 0 else 0
        if value > 0 and end <= done:
            end = done + 1 if done < width else done
        cells = end - done
        if cells > 0:
            fill = g.bar if state.color or len(parts) == 1 else MONO_FILLS[i % len(MONO_FILLS)]
            role = f"series{i % SERIES_ROLES}" if len(parts) > 1 else "bar"
            out.append((fill * cells, role))
            done = end
    return out


def render(state: UIState, data: Data, width: int, height: int) -> List[Line]:
    if not visible_keys(state, data.snapshots):
        return [[], [("  " + empty_message(state, data), "dim")]]
    g = widgets.glyphs_for(state.ascii)
    metric, currency, series, note = collect(state, data)
    scope = "all accounts"
    if state.analytics_scope in data.snapshots:
        scope = name_of(state.analytics_scope, data.snapshots[state.analytics_scope])
    what = "spend" if metric == "cost" else "tokens"
    lines: List[Line] = [[(f"  Daily {what} {g.dot} {scope} {g.dot} window {data.window or state.window}", "title"),
                          ("   a: account  m: spend/tokens", "dim")]]
    legend: Line = [("  ", "text")]
    for i, (_key, name, values) in enumerate(series):
        role = f"series{i % SERIES_ROLES}" if len(series) > 1 else "bar"
        mark = g.bar if state.color or len(series) == 1 else MONO_FILLS[i % len(MONO_FILLS)]
        legend += [(mark + " ", role), (f"{name} {_fmt(sum(values.values()), metric, currency)}  ", "text")]
    if note:
        legend.append((f"({note})", "dim"))
    lines.append(legend)
    days = list(reversed(all_days(series, data.now)))
    if not days:
        return lines + [[], [(f"  no daily {what} in this window", "dim")]]
    totals = {d: [values.get(d, 0.0) for _, _, values in series] for d in days}
    top = max(sum(v) for v in totals.values()) or 1.0
    value_w = max(len(_fmt(sum(v), metric, currency)) for v in totals.values())
    label_w = 9
    bar_w = max(4, width - 2 - label_w - 1 - 1 - value_w - 2)
    grand = sum(sum(v) for v in totals.values())
    lines.append([(f"  {'day':<{label_w}} newest first {g.dot} total {_fmt(grand, metric, currency)} {g.dot} "
                   f"{len(days)} days {g.dot} avg {_fmt(grand / len(days), metric, currency)}/day", "table_head")])
    lines.append([])
    rows = page(height)
    first = first_visible(state.scroll.get("analytics", 0), state.scroll.get("analytics", 0), rows, len(days))
    for day in days[first:first + rows]:
        parts = totals[day]
        bar = stacked_bar(parts, top, bar_w, state)
        used = widgets.line_width(bar)
        value = _fmt(sum(parts), metric, currency).rjust(value_w)
        lines.append([("  " + _label(day).ljust(label_w) + " ", "label")] + bar
                     + [(" " * (bar_w - used + 1), "text"), (value, "value")])
    if len(days) > rows:
        lines.append([(f"  days {first + 1}-{min(len(days), first + rows)} of {len(days)}  (j/k, PgUp/PgDn)", "dim")])
    return lines
