"""Codex CLI: the top-level `notify` program in $CODEX_HOME/config.toml (default ~/.codex).

Codex runs notify after every turn with the JSON payload as its last argument. There is one notify
slot: a program the user already has is kept only with --chain, and then our hook starts it with the
same payload. TOML is edited as text (the stdlib has no TOML writer, and no reader before 3.11): every
line but the notify statement stays byte for byte.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from openusage.integrations import artifact
from openusage.integrations.artifact import IntegrationError, Outcome, Status

ID = "codex"
NAME = "Codex CLI"
SOURCE = "codex"
KEY = ["notify"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "e": "\x1b", '"': '"', "\\": "\\"}


def codex_home() -> str:
    env = os.environ.get("CODEX_HOME")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(os.path.expanduser("~"), ".codex")


def default_target() -> str:
    return os.path.join(codex_home(), "config.toml")


def detected() -> bool:
    return os.path.isdir(codex_home()) or shutil.which("codex") is not None


# --- reading the top of a TOML file ----------------------------------------------------------------


class _Bad(ValueError):
    pass


@dataclass
class Statement:
    key: List[str]
    start: int  # first line index
    end: int  # last line index (a multi-line array spans several)
    value_at: int  # offset of the value in the first line


@dataclass
class TopLevel:
    lines: List[str]
    statements: List[Statement]  # key = value statements before the first table header
    header: Optional[int]  # line index of the first [table] / [[array]] header


def _basic_string(text: str, i: int) -> Tuple[str, int]:
    """A "..." string starting at text[i]: its value and the index after the closing quote."""
    out = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == '"':
            return "".join(out), j + 1
        if c in "\r\n":
            break
        if c == "\\":
            code = text[j + 1:j + 2]
            if code in _ESCAPES:
                out.append(_ESCAPES[code])
                j += 2
                continue
            width = {"u": 4, "U": 8, "x": 2}.get(code)
            digits = text[j + 2:j + 2 + width] if width else ""
            if not width or not re.fullmatch(r"[0-9A-Fa-f]+", digits) or len(digits) != width:
                raise _Bad("invalid escape in a string")
            out.append(chr(int(digits, 16)))
            j += 2 + width
            continue
        out.append(c)
        j += 1
    raise _Bad("unterminated string")


def _literal_string(text: str, i: int) -> Tuple[str, int]:
    end = text.find("'", i + 1)
    newline = min((p for p in (text.find("\n", i), text.find("\r", i)) if p >= 0), default=-1)
    if end < 0 or 0 <= newline < end:
        raise _Bad("unterminated string")
    return text[i + 1:end], end + 1


def _skip_blanks(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _parse_key(line: str, i: int) -> Tuple[List[str], int]:
    """The dotted key of a `key = value` line starting at line[i], and the index after the '='."""
    parts = []
    while True:
        i = _skip_blanks(line, i)
        c = line[i:i + 1]
        if c == '"':
            part, i = _basic_string(line, i)
        elif c == "'":
            part, i = _literal_string(line, i)
        else:
            m = _BARE_KEY.match(line, i)
            if not m:
                raise _Bad("expected a key = value statement")
            part, i = m.group(), m.end()
        parts.append(part)
        i = _skip_blanks(line, i)
        c = line[i:i + 1]
        if c == ".":
            i += 1
        elif c == "=":
            return parts, i + 1
        else:
            raise _Bad("expected '=' after the key")


def _scan(line: str, i: int, depth: int, multiline: Optional[str]) -> Tuple[int, Optional[str]]:
    """Follow a value through one line: bracket depth and an open multi-line string carry to the next."""
    n = len(line)
    while i < n:
        if multiline == '"""':
            while i < n and not line.startswith('"""', i):
                i += 2 if line[i] == "\\" else 1
            if i >= n:
                return depth, multiline
            i += 3
            while i < n and line[i] == '"':  # up to two quotes may end the content
                i += 1
            multiline = None
            continue
        if multiline == "'''":
            end = line.find("'''", i)
            if end < 0:
                return depth, multiline
            i = end + 3
            while i < n and line[i] == "'":
                i += 1
            multiline = None
            continue
        c = line[i]
        if c == "#":
            break
        if c in "\"'":
            if line.startswith(c * 3, i):
                multiline = c * 3
                i += 3
            else:
                _, i = _basic_string(line, i) if c == '"' else _literal_string(line, i)
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth < 0:
                raise _Bad("unbalanced ']' or '}'")
        i += 1
    return depth, multiline


def scan(text: str) -> TopLevel:
    """The statements before the first table header; ValueError when that part does not parse."""
    lines = text.splitlines(keepends=True)
    statements: List[Statement] = []
    header = None
    current: Optional[Statement] = None
    depth, multiline = 0, None
    for n, line in enumerate(lines):
        try:
            if current is None:
                start = 1 if n == 0 and line.startswith("\ufeff") else 0
                stripped = line[start:].strip()
                if not stripped or stripped.startswith("#"):
                    continue
                if stripped.startswith("["):
                    header = n
                    break
                key, at = _parse_key(line, start)
                current = Statement(key, n, n, at)
                depth, multiline = _scan(line, at, 0, None)
            else:
                depth, multiline = _scan(line, 0, depth, multiline)
        except _Bad as exc:
            raise ValueError(f"line {n + 1}: {exc}") from None
        if depth == 0 and multiline is None:
            current.end = n
            statements.append(current)
            current = None
    if current is not None:
        raise ValueError(f"line {current.start + 1}: the value never ends")
    return TopLevel(lines, statements, header)


def _skip_space(text: str, i: int) -> int:
    """Skip whitespace, newlines and comments (inside an array)."""
    while i < len(text):
        if text[i] in " \t\r\n":
            i += 1
        elif text[i] == "#":
            while i < len(text) and text[i] not in "\r\n":
                i += 1
        else:
            break
    return i


def parse_string_array(text: str) -> List[str]:
    """A TOML array of single-line strings (the value text of a statement); ValueError otherwise."""
    i = _skip_space(text, 0)
    if text[i:i + 1] != "[":
        raise ValueError("not an array")
    i += 1
    items: List[str] = []
    while True:
        i = _skip_space(text, i)
        c = text[i:i + 1]
        if c == "]":  # an empty array, or a trailing comma
            i += 1
            break
        if c == '"' and not text.startswith('"""', i):
            item, i = _basic_string(text, i)
        elif c == "'" and not text.startswith("'''", i):
            item, i = _literal_string(text, i)
        else:
            raise ValueError("not an array of single-line strings")
        items.append(item)
        i = _skip_space(text, i)
        c = text[i:i + 1]
        if c == ",":
            i += 1
        elif c == "]":
            i += 1
            break
        else:
            raise ValueError("expected ',' or ']' in the array")
    if _skip_space(text, i) != len(text):
        raise ValueError("unexpected text after the array")
    return items


def _parse(target: str, text: str) -> TopLevel:
    try:
        top = scan(text)
    except ValueError as exc:
        raise IntegrationError(f"{target} is not valid TOML ({exc}); left it untouched") from None
    try:
        import tomllib  # novermin (Python 3.11+: check the whole file, not only its top)
    except ImportError:
        return top
    try:
        tomllib.loads(text.lstrip("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise IntegrationError(f"{target} is not valid TOML ({exc}); left it untouched") from None
    return top


def _notify(top: TopLevel) -> Optional[Statement]:
    return next((s for s in top.statements if s.key == KEY), None)


def _statement_text(top: TopLevel, stmt: Statement) -> str:
    return "".join(top.lines[stmt.start:stmt.end + 1])


def _value_text(top: TopLevel, stmt: Statement) -> str:
    return _statement_text(top, stmt)[stmt.value_at:]


def _notify_argv(target: str, top: TopLevel, stmt: Statement) -> List[str]:
    try:
        return parse_string_array(_value_text(top, stmt))
    except (ValueError, _Bad) as exc:
        raise IntegrationError(f"notify in {target} is not an array of strings ({exc}); left it untouched") from None


def chained_program(argv: List[str]) -> Optional[List[str]]:
    """The user's previous notify program carried in our notify argv, if any."""
    if artifact.CHAIN_OPTION not in argv:
        return None
    at = argv.index(artifact.CHAIN_OPTION)
    try:
        program = json.loads(argv[at + 1])
    except (IndexError, ValueError):
        return None
    return [str(p) for p in program] if isinstance(program, list) and program else None


def notify_argv(previous: Optional[List[str]] = None) -> List[str]:
    """Our notify program; with `previous`, the hook also starts that program with the payload."""
    extra = [artifact.CHAIN_OPTION, json.dumps(previous, ensure_ascii=False)] if previous else []
    return artifact.hook_argv(SOURCE, extra)


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _notify_line(argv: List[str], ending: str) -> str:
    return "notify = [" + ", ".join(_toml_string(a) for a in argv) + "]" + ending


def _line_ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]


def _file_eol(text: str) -> str:
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _insert_at(top: TopLevel) -> int:
    """After the last top-level statement; else before the first header and the comments on it; else the end."""
    if top.statements:
        return top.statements[-1].end + 1
    if top.header is not None:
        at = top.header
        while at > 0 and top.lines[at - 1].strip().startswith("#"):
            at -= 1
        return at
    return len(top.lines)


# --- the integration -------------------------------------------------------------------------------


def inspect(target: str) -> Status:
    try:
        text = artifact.read_text(target)
        if text is None:
            return Status(installed=False, current=False)
        top = _parse(target, text)
        stmt = _notify(top)
        if stmt is None:
            return Status(installed=False, current=False)
        argv = _notify_argv(target, top, stmt)
    except IntegrationError as exc:
        return Status(installed=False, current=False, error=str(exc))
    if not artifact.is_ours(argv):
        return Status(installed=False, current=False, detail=f"notify runs another program: {argv[0] if argv else '?'}")
    previous = chained_program(argv)
    current = argv == notify_argv(previous) and artifact.script_current()
    detail = f"notify, chained to {previous[0]}" if previous else "notify"
    return Status(installed=True, current=current, detail=detail)


def install(target: str, chain: bool = False, state: Optional[Dict[str, Any]] = None) -> Outcome:
    state = state or {}
    text = artifact.read_text(target)
    existed = text is not None
    text = text or ""
    top = _parse(target, text)
    lines = list(top.lines)
    eol = _file_eol(text)
    stmt = _notify(top)
    extra: Dict[str, Any] = {} if existed else {"created_file": True}
    previous: Optional[List[str]] = None
    previous_text: Optional[str] = None
    if stmt is not None:
        argv = _notify_argv(target, top, stmt)
        if artifact.is_ours(argv):
            previous = chained_program(argv)
            if previous and previous == state.get("previous_notify"):
                previous_text = state.get("previous_notify_text")
        elif not chain:
            raise IntegrationError(
                f"{target} already has notify = {json.dumps(argv, ensure_ascii=False)} and Codex runs only one "
                "notify program; re-run with --chain to keep it (openusage then starts it with the same "
                "payload), or remove it first")
        else:
            previous, previous_text = argv, _statement_text(top, stmt)
        lines[stmt.start:stmt.end + 1] = [_notify_line(notify_argv(previous), _line_ending(lines[stmt.end]))]
    else:
        at = _insert_at(top)
        if at == len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += eol
            extra["appended_newline"] = True
        lines.insert(at, _notify_line(notify_argv(), eol))
    extra.update({"previous_notify": previous, "previous_notify_text": previous_text})
    updated = "".join(lines)
    if existed and updated == text:
        return Outcome(False, target, f"notify already set in {target}", extra)
    artifact.write_config(target, updated)
    how = f", chained to {previous[0]}" if previous else ""
    return Outcome(True, target, f"notify set in {target}{how}", extra)


def uninstall(target: str, state: Optional[Dict[str, Any]] = None) -> Outcome:
    state = state or {}
    text = artifact.read_text(target)
    if text is None:
        return Outcome(False, target, f"no {target}")
    top = _parse(target, text)
    stmt = _notify(top)
    argv = _notify_argv(target, top, stmt) if stmt is not None else []
    if stmt is None or not artifact.is_ours(argv):
        return Outcome(False, target, f"openusage's notify is not in {target}")
    lines = list(top.lines)
    ending = _line_ending(lines[stmt.end])
    previous = chained_program(argv)
    if previous:
        kept = state.get("previous_notify_text")
        if not (kept and state.get("previous_notify") == previous):
            kept = _notify_line(previous, ending)
        lines[stmt.start:stmt.end + 1] = [kept.rstrip("\r\n") + ending]
        message = f"notify restored to {previous[0]} in {target}"
    else:
        last = stmt.end == len(lines) - 1
        del lines[stmt.start:stmt.end + 1]
        if last and state.get("appended_newline") and lines:
            lines[-1] = lines[-1].rstrip("\r\n")
        message = f"notify removed from {target}"
    updated = "".join(lines)
    if not updated and state.get("created_file"):
        os.unlink(target)
        return Outcome(True, target, f"removed {target} (openusage created it; it held only our notify)")
    artifact.write_config(target, updated)
    return Outcome(True, target, message)
