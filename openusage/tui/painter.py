"""The one painter: turns lines of (text, role) segments into terminal output, written once per frame.

Each row is encoded to a string; a row equal to the same row of the previous frame is not written
again, and the changed rows go out in a single write. A change of size or theme repaints every row.
Rows are padded to the full width (so nothing is cleared first, and nothing flickers); the last
cell of the screen is never written, so no terminal scrolls. Every text segment goes through
core.printable first: nothing in the data (a pushed field, a message) is written as a sequence.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from openusage.core.printable import printable
from openusage.tui import themes
from openusage.tui.widgets import Line, fit_line


class Painter:
    def __init__(self, term, theme: str = themes.DEFAULT_THEME, color: bool = True):
        self.term = term
        self.theme = themes.normalize(theme)
        self.color = color
        self._styles: Dict[str, Tuple[str, str]] = {}
        self._previous: List[str] = []
        self._size: Optional[Tuple[int, int]] = None
        self.frames = 0
        self.rows_written = 0

    def set_theme(self, theme: str, color: Optional[bool] = None) -> None:
        self.theme = themes.normalize(theme)
        if color is not None:
            self.color = color
        self._styles.clear()
        self.invalidate()

    def invalidate(self) -> None:
        """Forget the previous frame: the next paint writes every row."""
        self._previous = []

    def _sgr(self, role: str) -> Tuple[str, str]:
        """(start, end) sequences of a role; ('', '') for plain text."""
        cached = self._styles.get(role)
        if cached is not None:
            return cached
        st = themes.style(self.theme, role, self.color)
        term = self.term
        parts = []
        if st.reverse:
            parts.append(str(term.reverse))
        if st.bold:
            parts.append(str(term.bold))
        colors = term.number_of_colors if self.color else 0
        if st.fg and colors:
            parts.append(self._color(st.fg, colors, background=False))
        if st.bg and colors:
            parts.append(self._color(st.bg, colors, background=True))
        start = "".join(parts)
        result = (start, str(term.normal)) if start else ("", "")
        self._styles[role] = result
        return result

    def _color(self, spec: Tuple[str, int], colors: int, background: bool) -> str:
        hex_value, index = spec
        term = self.term
        if colors >= 256:
            r, g, b = (int(hex_value[i:i + 2], 16) for i in (1, 3, 5))
            return str(term.on_color_rgb(r, g, b) if background else term.color_rgb(r, g, b))
        if colors < 16:  # 8 colours: bright ones become their base colour, grey becomes white
            index = 7 if index == 8 else index % 8
        return str(term.on_color(index) if background else term.color(index))

    def encode(self, line: Line, width: int) -> str:
        """One row as a string of text and sequences, exactly `width` cells wide."""
        out = []
        role_open = None
        for text, role in fit_line([(printable(t), r) for t, r in line], width):
            start, end = self._sgr(role)
            if role_open is not None and role_open != (start, end):
                out.append(role_open[1])
                role_open = None
            if start and role_open is None:
                out.append(start)
                role_open = (start, end)
            out.append(text)
        if role_open is not None:
            out.append(role_open[1])
        return "".join(out)

    def paint(self, lines: Sequence[Line], width: int, height: int) -> int:
        """Write the rows that changed since the last frame; the number of rows written."""
        if self._size != (width, height):
            self._size = (width, height)
            self._previous = []
        rows = []
        for y in range(height):
            line = lines[y] if y < len(lines) else []
            rows.append(self.encode(line, width - 1 if y == height - 1 else width))
        chunks = []
        move = self.term.move_yx
        for y, row in enumerate(rows):
            if y >= len(self._previous) or self._previous[y] != row:
                chunks.append(move(y, 0) + row)
        if chunks:
            stream = self.term.stream
            stream.write("".join(chunks))
            stream.flush()
        self._previous = rows
        self.frames += 1
        self.rows_written += len(chunks)
        return len(chunks)
