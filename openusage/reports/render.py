"""Report tables: aligned, with a totals row, fitted to the terminal.

A table that is too wide for the terminal gives up detail one step at a time (FIT_STEPS) until it
fits, and `table` names what it gave up in a one-line note. Without a width (piped output, --wide)
every column is there; cells stay bounded (a row lists at most MODELS_LISTED model names).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from openusage.console import render_table

MODELS_LISTED = 3  # model names in a row's MODELS cell before "+N more"; --breakdown lists every one
# The steps, in order, and what each leaves out (for the note); a step that changes nothing is not named.
FIT_STEPS = ("models", "cache", "details", "round", "cut")
HIDDEN = {"cache": "cache tokens", "details": "last active, duration"}
SHORTENED = {"models": "models", "round": "token counts", "cut": "names", "blocks details": "block times"}
NOTE_TAIL = "--wide shows all"
SHORT_NOTE = "columns hidden or shortened to fit; " + NOTE_TAIL
CUT_MIN = 8  # a cut name keeps at least this many characters


ROWS_KEY = {"daily": "daily", "weekly": "weekly", "monthly": "monthly", "session": "sessions", "blocks": "blocks"}


def _n(value: Any) -> str:
    return f"{int(value):,}"


def _short_n(value: Any) -> str:
    n = int(value)
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _usd(value: Any) -> str:
    return f"${value:,.2f}"


class _Layout:
    """Which of the fit steps are taken."""

    def __init__(self, steps: Sequence[str] = ()):
        self.steps = set(steps)

    def has(self, step: str) -> bool:
        return step in self.steps


def _cost(row: Dict[str, Any]) -> str:
    """The cost, with a '*' when it leaves out models without a price (see unpriced_note)."""
    return _usd(row["cost_usd"]) + ("*" if row.get("cost_incomplete") else "")


def unpriced_note(report: Dict[str, Any]) -> str:
    """'* unpriced: glm-4.6 (12,400 tokens): costs marked * leave them out', or '' when all are priced."""
    unpriced = report.get("totals", {}).get("unpriced") or []
    if not unpriced:
        return ""
    names = ", ".join(f"{u['model']} ({_n(u['tokens'])} tokens)" for u in unpriced)
    return f"* unpriced: {names}: costs marked * leave them out (openusage pricing MODEL)"


def _cells(row: Dict[str, Any], lay: _Layout) -> List[str]:
    n = _short_n if lay.has("round") else _n
    if lay.has("cache"):
        return [n(row["input_tokens"]), n(row["output_tokens"]), n(row["total_tokens"]), _cost(row)]
    return [n(row["input_tokens"]), n(row["output_tokens"]), n(row["cache_write_tokens"]),
            n(row["cache_read_tokens"]), n(row["total_tokens"]), _cost(row)]


def _token_headers(lay: _Layout) -> List[str]:
    if lay.has("cache"):
        return ["INPUT", "OUTPUT", "TOTAL", "COST"]
    return ["INPUT", "OUTPUT", "CACHE WRITE", "CACHE READ", "TOTAL TOKENS", "COST (USD)"]


def _models_cell(row: Dict[str, Any], lay: _Layout) -> str:
    names = [m["model"] for m in row.get("models", [])]
    shown = 1 if lay.has("models") else MODELS_LISTED
    if len(names) > shown:
        return ", ".join(names[:shown]) + f" +{len(names) - shown}"
    return ", ".join(names) or "-"


def _rows(report: Dict[str, Any], kind: str, breakdown: bool, lay: _Layout) -> Tuple[List[str], List[List[str]]]:
    key = ROWS_KEY[kind]
    lead = _lead_headers(kind, lay)
    headers = lead + ["MODELS"] + _token_headers(lay)
    body: List[List[str]] = []
    for row in report.get(key) or []:
        body.append(_lead_cells(kind, row, lay) + [_models_cell(row, lay)] + _cells(row, lay))
        if breakdown:  # the model's name in the MODELS column, so a long name never widens the first one
            for m in row.get("models", []):
                body.append(["  └"] + [""] * (len(lead) - 1) + [m["model"]] + _cells(m, lay))
    body.append(["TOTAL"] + [""] * (len(lead) - 1) + [""] + _cells(report["totals"], lay))
    return headers, body


def _render(headers: List[str], body: List[List[str]], lead: int) -> str:
    return render_table(headers, body, right=tuple(range(lead + 1, len(headers))))


def _cut(headers: List[str], body: List[List[str]], lead: int, width: int) -> None:
    """Shorten the MODELS (and a session's PROJECT) cells, the widest first, so the table fits `width`."""
    cols = [lead] + ([1] if headers[:2] == ["SESSION", "PROJECT"] else [])
    widths = [max(len(r[i]) for r in [headers] + body) for i in range(len(headers))]
    over = sum(widths) + 2 * (len(widths) - 1) - width
    while over > 0:
        col = max(cols, key=lambda c: widths[c])
        if widths[col] <= max(CUT_MIN, len(headers[col])):
            break
        widths[col] -= 1
        over -= 1
    for col in cols:
        for row in body:
            if len(row[col]) > widths[col]:
                row[col] = row[col][:widths[col] - 1] + "…"


def table(report: Dict[str, Any], kind: str, width: Optional[int], breakdown: bool = False) -> Tuple[str, str]:
    """(the report as text, a note of what was left out to fit `width` columns or "").

    width None: every column (piped output, --wide).
    """
    if not report.get(ROWS_KEY[kind]):
        return f"no usage found for this {kind} report", ""
    steps: List[str] = []
    full = None
    for step in (None,) + FIT_STEPS:
        if step is not None:
            steps.append(step)
        lay = _Layout(steps)
        headers, body = _rows(report, kind, breakdown, lay)
        lead = len(_lead_headers(kind, lay))
        if step == "cut" and width is not None:
            _cut(headers, body, lead, width)
        text = _render(headers, body, lead)
        if full is None:
            full = text
        if width is None or max(len(line) for line in text.splitlines()) <= width:
            break
    if text == full:
        return text, ""
    taken = [s for s in steps if _changes(report, kind, breakdown, steps, s)]
    return text, _note(taken, kind, width or 0)


def _note(taken: List[str], kind: str, width: int) -> str:
    """One line: what the fitted table hid and shortened, and how to see it all."""
    def name(step: str) -> str:
        return "blocks details" if kind == "blocks" and step == "details" else step

    hidden = [HIDDEN[name(s)] for s in taken if name(s) in HIDDEN]
    shortened = [SHORTENED[name(s)] for s in taken if name(s) in SHORTENED]
    first = [f"hidden: {', '.join(hidden)}"] if hidden else []
    for second in ([f"shortened: {', '.join(shortened)}"] if shortened else [], ["others shortened"]):
        note = "; ".join(first + second) + f" ({NOTE_TAIL})"
        if len(note) <= width:
            return note
    return SHORT_NOTE


def _changes(report: Dict[str, Any], kind: str, breakdown: bool, steps: List[str], step: str) -> bool:
    """Whether taking `step` (after the steps before it) changed the table."""
    before = _Layout(steps[:steps.index(step)])
    after = _Layout(steps[:steps.index(step) + 1])
    if step == "cut":
        return True  # taken only when the rest did not fit, and then it cuts
    return _rows(report, kind, breakdown, before) != _rows(report, kind, breakdown, after)


def _lead_headers(kind: str, lay: _Layout) -> List[str]:
    if kind == "session":
        return ["SESSION", "PROJECT"] + ([] if lay.has("details") else ["LAST ACTIVE", "DURATION"])
    if kind == "blocks":
        return ["BLOCK START", "STATUS"]
    return ["MONTH" if kind == "monthly" else "WEEK OF" if kind == "weekly" else "DATE"]


def _lead_cells(kind: str, row: Dict[str, Any], lay: _Layout) -> List[str]:
    if kind == "session":
        sid = row["session_id"]
        cells = [sid[:12] + "…" if len(sid) > 13 else sid, row.get("project") or "-"]
        if not lay.has("details"):
            minutes = row["duration_seconds"] // 60
            cells += [row["last_at"][:16].replace("T", " "), f"{minutes // 60}h {minutes % 60:02d}m"]
        return cells
    if kind == "blocks":
        left = row["projection"]["remaining_minutes"] if row["is_active"] else None
        if lay.has("details"):  # the same facts, shorter: no year, no parentheses
            return [row["start"][5:16].replace("T", " ") + "Z", "done" if left is None else f"ACTIVE {left}m"]
        return [row["start"][:16].replace("T", " ") + "Z", "done" if left is None else f"ACTIVE ({left}m left)"]
    if kind == "monthly":
        return [row["date"][:7]]
    return [row["date"]]


def burn_rate_line(block: Dict[str, Any], width: Optional[int] = None) -> str:
    """The active block's burn rate and projection: one line, or two when `width` is narrower."""
    rate = block["burn_rate"]
    proj = block["projection"]
    first = (f"active block: {_usd(block['cost_usd'])} so far, {_usd(rate['cost_per_hour'])}/h, "
             f"{rate['tokens_per_minute']:,.0f} tokens/min;")
    second = (f"projected {_usd(proj['cost_usd'])} and {_n(proj['total_tokens'])} tokens by "
              f"{block['end'][11:16]}Z ({proj['remaining_minutes']}m left)")
    if width is not None and len(first) + 1 + len(second) > width:
        return first + "\n  " + second
    return first + " " + second
