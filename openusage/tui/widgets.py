"""Drawing pieces for the views: text width, gauges, sparklines, bars, boxes, countdowns, numbers.

Everything here is pure: a piece is a Line, a list of (text, role) segments; the painter gives roles
their colours. Each piece takes a Glyphs set so the same code draws Unicode or plain ASCII.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

from openusage.core.timeutil import to_epoch

Segment = Tuple[str, str]
Line = List[Segment]


@dataclass(frozen=True)
class Glyphs:
    h: str
    v: str
    tl: str
    tr: str
    bl: str
    br: str
    full: str
    empty: str
    eighths: str  # partial cells for gauges, 1/8 .. 7/8; empty when not available
    spark: str  # levels from lowest to highest
    bar: str
    ellipsis: str
    dot: str
    reset: str  # marks a reset countdown
    pointer: str  # marks the selected row


UNICODE = Glyphs(h="─", v="│", tl="┌", tr="┐", bl="└", br="┘", full="█", empty="░", eighths="▏▎▍▌▋▊▉",
                 spark="▁▂▃▄▅▆▇█", bar="█", ellipsis="…", dot="·", reset="↻", pointer="▶")
ASCII = Glyphs(h="-", v="|", tl="+", tr="+", bl="+", br="+", full="#", empty=".", eighths="",
               spark="_.-~=+*#", bar="#", ellipsis="~", dot="-", reset="@", pointer=">")


def glyphs_for(ascii_only: bool) -> Glyphs:
    return ASCII if ascii_only else UNICODE


# --- text width ---------------------------------------------------------------------------------


def char_width(ch: str) -> int:
    if unicodedata.combining(ch) or ch in "\u200b\u200d\ufe0f":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Terminal cells the text takes."""
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


def truncate(text: str, width: int, ellipsis: str = "…") -> str:
    """Cut text to `width` cells, ending with the ellipsis when something was cut."""
    if width <= 0:
        return ""
    if text_width(text) <= width:
        return text
    room = width - text_width(ellipsis)
    if text.isascii():
        return text[:room] + ellipsis
    out, used = [], 0
    for ch in text:
        w = char_width(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    # A wide character that did not fit leaves one cell: fill it so the width stays exact.
    return "".join(out) + ellipsis + " " * (room - used)


def fit(text: str, width: int, align: str = "left", ellipsis: str = "…") -> str:
    """Exactly `width` cells: truncated or padded (left, right or center)."""
    text = truncate(text, width, ellipsis)
    gap = width - text_width(text)
    if gap <= 0:
        return text
    if align == "right":
        return " " * gap + text
    if align == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def line_width(line: Line) -> int:
    return sum(text_width(t) for t, _ in line)


def fit_line(line: Line, width: int, role: str = "text", ellipsis: str = "…") -> Line:
    """A line cut or padded (with `role` spaces) to exactly `width` cells."""
    out: Line = []
    used = 0
    for text, r in line:
        w = text_width(text)
        if used + w <= width:
            out.append((text, r))
            used += w
            continue
        room = width - used
        if room > 0:
            out.append((truncate(text, room, ellipsis), r))
            used = width
        break
    if used < width:
        out.append((" " * (width - used), role))
    return out


def join(parts: Iterable[Line], sep: Optional[Segment] = None) -> Line:
    out: Line = []
    for i, part in enumerate(parts):
        if i and sep is not None:
            out.append(sep)
        out.extend(part)
    return out


def spread(left: Line, right: Line, width: int, role: str = "text", ellipsis: str = "…") -> Line:
    """Left part, then the right part against the right edge; the left part gives way first."""
    rw = line_width(right)
    if rw >= width:
        return fit_line(right, width, role, ellipsis)
    return fit_line(left, width - rw, role, ellipsis) + right


# --- numbers and times --------------------------------------------------------------------------

CURRENCY_SIGNS = {"USD": "$"}


def compact(n: Optional[float]) -> str:
    """12345678 -> 12.3M; None -> '-'."""
    if n is None:
        return "-"
    value = float(n)
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def money(amount: Optional[float], currency: Optional[str] = "USD", hidden: bool = False) -> str:
    """An amount in its own currency ('$12.34', '9.50 EUR'); '•••' style mask when hidden."""
    code = currency or "USD"
    if hidden:
        return "***"
    if amount is None:
        return "-"
    if abs(amount) >= 100000:
        number = compact(amount)
    elif abs(amount) >= 1000:
        number = f"{amount:,.0f}"
    else:
        number = f"{amount:,.2f}"
    sign = CURRENCY_SIGNS.get(code)
    if sign:
        return f"-{sign}{number[1:]}" if number.startswith("-") else f"{sign}{number}"
    return f"{number} {code}"


def percent(fraction: Optional[float]) -> str:
    if fraction is None:
        return "  -"
    return f"{fraction * 100:3.0f}%"


def duration(seconds: float) -> str:
    """Short human duration: 45s, 12m, 4h43m, 2d23h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def countdown(resets_at: Optional[str], now: float) -> str:
    """Time until a reset ('4h43m'), 'now' once passed, '' when unknown."""
    when = to_epoch(resets_at) if resets_at else None
    if when is None:
        return ""
    left = when - now
    return "now" if left <= 0 else duration(left)


def age(then: Optional[float], now: float) -> str:
    if then is None:
        return "never"
    return duration(now - then) + " ago"


# --- gauges, sparklines, bars -------------------------------------------------------------------


def level(used: Optional[float], warn: float, crit: float) -> str:
    """'ok', 'warn' or 'crit' from the used share; thresholds are of the REMAINING share."""
    if used is None:
        return "ok"
    remaining = 1.0 - used - 1e-9  # 0.95 used is 5 % left, whatever binary floats say
    if remaining <= crit:
        return "crit"
    if remaining <= warn:
        return "warn"
    return "ok"


def gauge_bar(used: Optional[float], width: int, glyphs: Glyphs, role: str) -> Line:
    """A horizontal bar `width` cells wide filled to `used` (0..1)."""
    if width <= 0:
        return []
    if used is None:
        return [(glyphs.empty * width, "gauge_empty")]
    share = min(1.0, max(0.0, used))
    eighths = int(round(share * width * 8)) if glyphs.eighths else int(round(share * width)) * 8
    full, part = divmod(eighths, 8)
    filled = glyphs.full * full
    if part and full < width:
        filled += glyphs.eighths[part - 1]
    rest = width - text_width(filled)
    out: Line = []
    if filled:
        out.append((filled, role))
    if rest > 0:
        out.append((glyphs.empty * rest, "gauge_empty"))
    return out


def gauge(label: str, used: Optional[float], width: int, glyphs: Glyphs, warn: float, crit: float,
          label_width: int = 7, suffix: str = "") -> Line:
    """'5h     ██████░░░░  52% ↻ 4h43m': label, bar, used percent, optional suffix."""
    role = "gauge_" + level(used, warn, crit)
    pct = percent(used)
    tail = f" {pct}" + (f" {suffix}" if suffix else "")
    bar_width = max(3, width - label_width - 1 - text_width(tail))
    out: Line = [(fit(label, label_width, ellipsis=glyphs.ellipsis) + " ", "label")]
    out += gauge_bar(used, bar_width, glyphs, role)
    out.append((f" {pct}", role if used is not None else "dim"))
    if suffix:
        out.append((f" {suffix}", "dim"))
    return fit_line(out, width)


def sparkline(values: Sequence[Optional[float]], width: int, glyphs: Glyphs) -> str:
    """The last `width` values as one row of level glyphs (a blank for a missing value).

    Zero is the lowest glyph, an empty bar; any use at all is at least the next one up.
    """
    vals = list(values)[-width:] if width > 0 else []
    present = [v for v in vals if v is not None]
    if not present:
        return " " * len(vals)
    top = max(present)
    levels = len(glyphs.spark)
    out = []
    for v in vals:
        if v is None:
            out.append(" ")
        elif top <= 0 or v <= 0:
            out.append(glyphs.spark[0])
        else:
            out.append(glyphs.spark[max(1, min(levels - 1, int(v / top * (levels - 1) + 0.5)))])
    return "".join(out)


def hbar(value: float, top: float, width: int, glyphs: Glyphs) -> str:
    """A bar `width * value / top` cells long (at least one cell for a positive value)."""
    if top <= 0 or value <= 0 or width <= 0:
        return ""
    cells = value / top * width
    full = int(cells)
    text = glyphs.bar * full
    rest = cells - full
    if glyphs.eighths and rest >= 1 / 8 and full < width:
        text += glyphs.eighths[min(6, int(rest * 8) - 1)]
    elif not text:
        text = glyphs.bar
    return text


# --- boxes and tables ---------------------------------------------------------------------------


def box(body: List[Line], width: int, height: int, glyphs: Glyphs, title: Line = (), badge: Line = (),
        border: str = "border") -> List[Line]:
    """A bordered box `width` x `height`: the title on the top edge at the left, a badge at the right."""
    inner = width - 2
    if inner < 1 or height < 2:
        return [fit_line([], width) for _ in range(max(0, height))]
    badge = list(badge)
    badge_w = line_width(badge)
    if badge_w > inner - 2:
        badge, badge_w = [], 0
    title_room = inner - 1 - 2 - badge_w - 1 - 1  # rule, spaces around, badge, rule, one rule cell
    top: Line = [(glyphs.tl + glyphs.h, border)]
    if title and title_room > 0:
        head = fit_line(list(title), min(title_room, line_width(list(title))), ellipsis=glyphs.ellipsis)
        top += [(" ", border)] + head + [(" ", border)]
    fill = inner - (line_width(top) - 1) - badge_w - 1
    top.append((glyphs.h * max(0, fill), border))
    top += badge
    top.append((glyphs.h + glyphs.tr, border))
    lines = [top]
    for row in body[: height - 2]:
        lines.append([(glyphs.v, border)] + fit_line(row, inner, ellipsis=glyphs.ellipsis) + [(glyphs.v, border)])
    while len(lines) < height - 1:
        lines.append([(glyphs.v, border), (" " * inner, "text"), (glyphs.v, border)])
    lines.append([(glyphs.bl + glyphs.h * inner + glyphs.br, border)])
    return lines


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int, right: Sequence[int] = (),
          ellipsis: str = "…", flex: int = 0) -> Tuple[Line, List[Line]]:
    """A header line and row lines; column `flex` takes the width the others leave."""
    ncols = len(headers)
    widths = [text_width(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:ncols]):
            widths[i] = max(widths[i], text_width(cell))
    gaps = 2 * (ncols - 1)
    others = sum(w for i, w in enumerate(widths) if i != flex)
    widths[flex] = max(4, min(widths[flex], width - gaps - others))
    # When even that is too wide, narrow the widest other columns.
    while sum(widths) + gaps > width and max(widths) > 4:
        i = widths.index(max(widths))
        widths[i] -= 1

    def render(cells: Sequence[str], role: str) -> Line:
        parts = []
        for i in range(ncols):
            cell = cells[i] if i < len(cells) else ""
            parts.append(fit(cell, widths[i], "right" if i in right else "left", ellipsis))
        return fit_line([("  ".join(parts), role)], width, ellipsis=ellipsis)

    return render(headers, "table_head"), [render(r, "text") for r in rows]
