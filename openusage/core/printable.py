"""The one function every string goes through before it reaches a terminal (the dashboard's painter,
the CLI's tables and status lines, hub-view): data cannot move the cursor, retitle the window, clear
the screen or hide text.

Removed: escape sequences whole (CSI, OSC/DCS/APC/PM/SOS strings up to their terminator, two-byte
ESC sequences), every other C0 control, DEL, C1 controls (U+0080-U+009F, which some terminals take as
8-bit CSI) and the bidirectional overrides that reorder what is shown. Tabs and line breaks become a
space: a cell is one line.
"""
from __future__ import annotations

import re

_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI ... final byte
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"  # ESC with intermediates and a final byte, or a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # 8-bit CSI
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # 8-bit string introducers
)
_SPACE = re.compile(r"[\t\n\r\x0b\x0c]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # json.dumps escapes only C0


def printable(text: str) -> str:
    """`text` with nothing a terminal would obey: sequences and controls removed, line breaks made spaces."""
    if not _CONTROL.search(text):
        return text
    text = _SEQUENCE.sub("", text)
    text = _SPACE.sub(" ", text)
    return _CONTROL.sub("", text)


def json_text(text: str) -> str:
    """JSON text (from json.dumps) with DEL, C1 and bidi controls written as \\u escapes: the same data, and
    nothing a terminal obeys."""
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
