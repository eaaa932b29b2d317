"""Detail of one account: tabs for overview, models, tools, projects, sessions, MCP servers and limits,
each a table that scrolls."""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

from openusage.core.snapshot import Breakdown, UsageSnapshot
from openusage.core.timeutil import to_epoch
from openusage.tui import widgets
from openusage.tui.state import DETAIL_TABS, Data, UIState
from openusage.tui.views import plan
from openusage.tui.views.dashboard import daily_series, first_visible, limit_items
from openusage.tui.views.parts import badge, costs_hidden, name_of, selected_snapshot, status_of, tab_label
from openusage.tui.widgets import Line

TAB_LABELS = {"overview": "Overview", "models": "Models", "tools": "Tools", "projects": "Projects",
              "sessions": "Sessions", "mcp": "MCP servers", "limits": "Limits"}
HEAD_ROWS = 3  # tab bar, title, blank


def page(height: int) -> int:
    return max(1, height - HEAD_ROWS - 1)


def tab_bar(state: UIState, width: int) -> Line:
    line: Line = []
    for tab in DETAIL_TABS:
        active = tab == state.tab
        line.append((tab_label(TAB_LABELS[tab], active, state), "tab_active" if active else "tab"))
    line.append(("  [/] tabs", "dim"))
    return line


def title_line(key: str, snap: UsageSnapshot, state: UIState, data: Data) -> Line:
    g = widgets.glyphs_for(state.ascii)
    line: Line = [(" " + name_of(key, snap) + " ", "title")] + badge(status_of(snap), state)
    where = f"  {snap.provider_id}/{snap.account_id}"
    if snap.currency:
        where += f" {g.dot} {snap.currency}"
    if data.window:
        where += f" {g.dot} window {data.window}"
    return line + [(where, "dim")]


def _when(value: Optional[str], now: float) -> str:
    epoch = to_epoch(value) if value else None
    if epoch is None:
        return value or "-"
    return widgets.age(epoch, now) if epoch <= now else "in " + widgets.duration(epoch - now)


LABEL_MIN = 17  # the overview's label column; it widens to its longest label, never cutting one

# A collector's bookkeeping of its last poll (files and bytes read, lines skipped ...): for
# `openusage usage --json`, not for a person reading the detail view; and the demo's marker.
INTERNAL_EXTRAS = frozenset({
    "files_read", "files_failed", "files_skipped", "bytes_read", "lines_read", "lines_skipped", "skipped_reasons",
    "messages_new", "requests_new", "tool_calls_new", "turns_new", "replays_dropped", "duplicate_totals_skipped",
    "fork_rows_owned_by_parent", "fallback_model_requests", "limit_placeholders_skipped", "demo"})
EXTRA_LABELS = {"files": "log files", "messages_total": "messages", "requests_total": "requests",
                "rate_limits_at": "limits as of", "limits_observed_at": "limits as of", "home": "data directory"}


def _kv(label: str, value: str, role: str = "text") -> Line:
    return [("  " + label + " ", "label"), (value, role)]


def _align(lines: List[Line], width: int) -> List[Line]:
    """Pad every label to the longest one (at most half the width), so values line up uncut."""
    labels = [line[0][0] for line in lines if line and line[0][1] == "label"]
    col = min(max([LABEL_MIN + 3] + [widgets.text_width(t) for t in labels]), max(LABEL_MIN + 3, width // 2))
    out = []
    for line in lines:
        if line and line[0][1] == "label" and widgets.text_width(line[0][0]) < col:
            line = [(widgets.fit(line[0][0], col), "label")] + line[1:]
        out.append(line)
    return out


def extra_label(name: str) -> str:
    """A provider's extras key as a person reads it: `rate_limits_at` -> `limits as of`, `plan_name` -> `plan name`."""
    return EXTRA_LABELS.get(name, name.replace("_", " "))


def overview(key: str, snap: UsageSnapshot, state: UIState, data: Data, width: int) -> List[Line]:
    g = widgets.glyphs_for(state.ascii)
    hidden = costs_hidden(state, key)
    cur = snap.currency

    def money(v: Optional[float]) -> str:
        return widgets.money(v, cur, hidden)

    lines: List[Line] = [_kv("status", status_of(snap), "badge_" + status_of(snap))]
    if snap.message:
        lines.append(_kv("message", snap.message, "error" if status_of(snap) in ("ERR", "AUTH", "LIMIT") else "text"))
    lines.append(_kv("updated", _when(snap.timestamp, data.now)))
    spend = snap.spend
    if spend:
        for name in ("total", "cycle", "lifetime"):
            value = getattr(spend, name)
            if value is None and name != "total":
                continue
            text = money(value)
            if name == "total" and spend.incomplete and not hidden:
                text = ">=" + text if state.ascii else "≥" + text
            period = snap.period_of(f"spend.{name}")
            if period is None and name == "total":
                lines.append(_kv("spend (window)", text, "money"))
                continue
            label = period.label() if period is not None else name
            lines.append(_kv("spend", "") + [(text, "money"), (f"  {label}", "dim")])
        for u in snap.unpriced or []:
            lines.append(_kv("unpriced", f"{u.model} ({u.tokens or 0:,} tokens): not in the spend", "stale"))
        lim = spend.limits
        for name in ("hard", "soft", "plan_included", "plan_bonus"):
            value = getattr(lim, name) if lim else None
            if value is not None:
                lines.append(_kv(f"limit {name.replace('_', ' ')}", money(value)))
        bal = spend.balance
        for name in ("cash", "voucher", "granted"):
            value = getattr(bal, name) if bal else None
            if value is not None:
                lines.append(_kv(f"balance {name}", money(value)))
    tok = snap.tokens
    if tok:
        for name in ("input", "output", "reasoning", "cache_read", "cache_write", "total"):
            value = getattr(tok, name)
            if value is not None:
                label = "tokens " + name.replace("_", " ")
                lines.append(_kv(label, f"{value:,}" + (" (inside output)" if name == "reasoning" else "")))
    for figure in ("tokens", "models"):
        period = snap.period_of(figure)
        if period is not None and getattr(snap, figure):
            lines.append(_kv(f"{figure} cover", period.label(), "dim"))
    if snap.tool_calls is not None:
        lines.append(_kv("tool calls", f"{snap.tool_calls:,}"))
    kind, values = daily_series(snap, hidden, data.window, data.now)
    if any(v for v in values):
        spark = widgets.sparkline(values, min(len(values), max(1, width - 40)), g)
        days = f"  {len(values)} day" + ("" if len(values) == 1 else "s")
        lines.append(_kv(f"daily {kind}", "") + [(spark, "spark"), (days, "dim")])
    for name, value in sorted((snap.extras or {}).items()):
        if str(name) not in INTERNAL_EXTRAS:
            period = snap.period_of(f"extras.{name}")
            lines.append(_kv(extra_label(str(name)), _plain(value))
                         + ([(f"  {period.label()}", "dim")] if period else []))
    return _align(lines, width)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def models_table(key: str, snap: UsageSnapshot, state: UIState, width: int) -> List[Line]:
    hidden = costs_hidden(state, key)
    rows = []
    unpriced = {u.model for u in snap.unpriced or []}
    for m in snap.models or []:
        cost = "unpriced" if m.cost is None and m.model in unpriced else widgets.money(m.cost, snap.currency, hidden)
        rows.append([m.model, _n(m.requests), widgets.compact(m.input), widgets.compact(m.output),
                     widgets.compact(m.cache_read), widgets.compact(m.cache_write), cost])
    head, body = widgets.table(["MODEL", "REQS", "INPUT", "OUTPUT", "CACHE R", "CACHE W", "COST"], rows,
                               width - 2, right=range(1, 7), ellipsis=widgets.glyphs_for(state.ascii).ellipsis)
    return _indent([head] + body)


BREAKDOWN_COLUMNS: Sequence[Tuple[str, str]] = (
    ("calls", "CALLS"), ("requests", "REQS"), ("tokens", "TOKENS"), ("cost", "COST"), ("project", "PROJECT"),
    ("first_at", "FIRST"), ("last_at", "LAST"))


def breakdown_table(key: str, snap: UsageSnapshot, items: List[Breakdown], title: str, state: UIState,
                    data: Data, width: int) -> List[Line]:
    """A table of breakdown rows with only the columns some row has."""
    hidden = costs_hidden(state, key)
    present = [(f, h) for f, h in BREAKDOWN_COLUMNS if any(getattr(b, f) is not None for b in items)]
    rows = []
    for b in items:
        cells = [b.name]
        for f, _ in present:
            v = getattr(b, f)
            if f == "cost":
                cells.append(widgets.money(v, snap.currency, hidden) if v is not None else "-")
            elif f in ("first_at", "last_at"):
                cells.append(_when(v, data.now) if v else "-")
            elif f == "project":
                cells.append(v or "-")
            else:
                cells.append(_n(v))
        rows.append(cells)
    right = [i + 1 for i, (f, _) in enumerate(present) if f in ("calls", "requests", "tokens", "cost")]
    head, body = widgets.table([title] + [h for _, h in present], rows, width - 2, right=right,
                               ellipsis=widgets.glyphs_for(state.ascii).ellipsis)
    return _indent([head] + body)


def limits_lines(key: str, snap: UsageSnapshot, state: UIState, data: Data, width: int) -> List[Line]:
    g = widgets.glyphs_for(state.ascii)
    items = limit_items(snap, data.widgets.get(snap.provider_id, {}), costs_hidden(state, key))
    lines: List[Line] = []
    limits = snap.rate_limits or {}
    # Every limit's whole name (Copilot's premium_interactions too), the bars lined up after the longest.
    label_w = max([10] + [widgets.text_width(label) for label, _, _ in items])
    label_w = min(label_w, max(10, width // 3))
    for label, used, resets_at in items:
        lines.append([("  ", "text")] + widgets.gauge(label, used, min(width - 4, 50 + label_w), g, state.warn,
                                                      state.crit, label_width=label_w))
        facts = []
        rl = limits.get(label)
        if rl is not None:
            for name in ("used", "limit", "remaining"):
                value = getattr(rl, name)
                if value is not None:
                    facts.append(f"{name} {value:,.0f}")
        left = widgets.countdown(resets_at, data.now)
        if left:
            facts.append(f"resets in {left}" if left != "now" else "resets now")
        if used is not None:
            facts.append(f"{max(0.0, 1 - used) * 100:.0f}% left")
        if rl is not None and plan.reading_age(rl, data.now):
            facts.append(plan.reading_age(rl, data.now))
        lines.append([("  " + " " * (label_w + 1) + f" {g.dot} ".join(facts), "dim")])
        if rl is not None:
            lines += _plan_lines(label, rl, snap, g, data.now, width)
    return lines


def _plan_lines(name: str, rl: Any, snap: UsageSnapshot, g: Any, now: float, width: int) -> List[Line]:
    """A plan window's pace projection and the history of its readings in the current window."""
    out: List[Line] = []
    text = plan.pace_text(rl, now)
    if text:
        out.append([("  " + " " * 11 + text, "stale" if (rl.pace or {}).get("before_reset") else "text")])
    points = ((snap.extras or {}).get("limits_history") or {}).get(name) or []
    if len(points) >= 2:
        values = [float(p[1]) for p in points]
        spark = widgets.sparkline(values, max(1, min(len(values), width - 40)), g)
        since = widgets.age(float(points[0][0]), now)
        out.append([("  " + " " * 11, "text"), (spark, "spark"),
                    (f" {values[0]:.0f}% {since}, {values[-1]:.0f}% now", "dim")])
    return out


def _n(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _indent(lines: List[Line]) -> List[Line]:
    return [[("  ", "text")] + line for line in lines]


def content(key: str, snap: UsageSnapshot, state: UIState, data: Data, width: int) -> List[Line]:
    tab = state.tab
    if tab == "overview":
        return overview(key, snap, state, data, width)
    if tab == "models":
        return models_table(key, snap, state, width) if snap.models else []
    if tab == "limits":
        return limits_lines(key, snap, state, data, width)
    field, title = {"tools": ("tools", "TOOL"), "projects": ("projects", "PROJECT"),
                    "sessions": ("sessions", "SESSION"), "mcp": ("mcp_servers", "MCP SERVER")}[tab]
    items = getattr(snap, field) or []
    return breakdown_table(key, snap, items, title, state, data, width) if items else []


def render(state: UIState, data: Data, width: int, height: int) -> List[Line]:
    snap = selected_snapshot(state, data)
    if snap is None:
        return [[], [("  no account selected (Esc goes back)", "dim")]]
    key = state.selected or ""
    lines: List[Line] = [tab_bar(state, width), title_line(key, snap, state, data), []]
    body = content(key, snap, state, data, width)
    if not body:
        return lines + [[(f"  no {TAB_LABELS[state.tab].lower()} data in this window", "dim")]]
    rows = page(height)
    has_head = state.tab not in ("overview", "limits")
    head, rest = (body[:1], body[1:]) if has_head else ([], body)
    rows -= len(head)
    first = first_visible(state.scroll.get("detail", 0), state.scroll.get("detail", 0), rows, len(rest))
    lines += head + rest[first:first + rows]
    shown_to = min(len(rest), first + rows)
    if len(rest) > rows:
        lines.append([(f"  rows {first + 1}-{shown_to} of {len(rest)}  (j/k, PgUp/PgDn)", "dim")])
    return lines
