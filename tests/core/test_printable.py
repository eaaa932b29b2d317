import json

import pytest

from openusage.core.printable import json_text, printable


@pytest.mark.parametrize("raw, shown", [
    ("plain · text ✓", "plain · text ✓"),
    ("\x1b[2J\x1b[1;1Hgone", "gone"),  # clear screen, move the cursor
    ("a\x1b]0;pwned title\x07b", "ab"),  # window title (OSC ended by BEL)
    ("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),  # hyperlink (OSC ended by ST)
    ("a\x1bPq#0;2;0;0;0\x1b\\b", "ab"),  # DCS (sixel)
    ("a\x1b(0b\x1b7c\x1bcd", "abcd"),  # charset switch, save cursor, reset terminal
    ("a\x9b2Jb\x9d0;t\x9cc", "abc"),  # 8-bit CSI and OSC
    ("bell\x07 nul\x00 del\x7f bs\x08", "bell nul del bs"),
    ("one\ntwo\tthree\r\n", "one two three  "),
    ("abc\u202edcba\u2066x\u2069", "abcdcbax"),  # bidi overrides that reorder what is shown
    ("trailing \x1b", "trailing "),
])
def test_nothing_a_terminal_obeys_is_left(raw, shown):
    assert printable(raw) == shown


def test_json_keeps_the_data_and_escapes_what_json_does_not():
    data = {"name": "\x9b31m\u202eok\x7f", "esc": "\x1b[2J"}
    text = json_text(json.dumps(data, ensure_ascii=False))
    assert json.loads(text) == data
    assert not any(ch in text for ch in "\x1b\x9b\u202e\x7f")
