"""Rewrite a JSON file the user keeps by hand, changing only what changed.

json.dumps would re-indent the whole file and respell its numbers (`2.50` becomes `2.5`). Here the
original text of every value that is the same in the new document is copied as it was; only the
containers that changed are laid out again, in the file's own indentation, and new values are
written in it. The result always parses to the new document: a value's old text is reused only
when it parses to an equal value (and of the same JSON type).
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Tuple

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class _Node:
    """A value of the original text: where it is, what it is, and its members or elements."""

    __slots__ = ("start", "end", "value", "members", "elements")

    def __init__(self, start: int, end: int, value: Any, members: Optional[Dict[str, _Node]] = None,
                 elements: Optional[List[_Node]] = None):
        self.start, self.end, self.value = start, end, value
        self.members = members
        self.elements = elements


def update(original: str, new: Any) -> str:
    """The text of `new`, keeping as much of `original` (the same document before the change) as can be."""
    try:
        root, _ = _parse(original, _skip(original, 0))
    except (ValueError, IndexError):
        return json.dumps(new, indent=2, ensure_ascii=False) + "\n"
    writer = _Writer(original, _indent_of(original))
    return original[:root.start] + writer.emit(new, root, 0) + original[root.end:]


def _skip(text: str, i: int) -> int:
    return _WS.match(text, i).end()


def _parse(text: str, i: int) -> Tuple[_Node, int]:
    ch = text[i]
    if ch == "{":
        members: Dict[str, _Node] = {}
        j = _skip(text, i + 1)
        if text[j] == "}":
            return _Node(i, j + 1, {}, members=members), j + 1
        while True:
            key, j = _DECODER.raw_decode(text, j)
            if not isinstance(key, str):
                raise ValueError("an object key that is not a string")
            j = _skip(text, j)
            if text[j] != ":":
                raise ValueError("expected ':'")
            node, j = _parse(text, _skip(text, j + 1))
            members[key] = node
            j = _skip(text, j)
            if text[j] == "}":
                return _Node(i, j + 1, {k: n.value for k, n in members.items()}, members=members), j + 1
            if text[j] != ",":
                raise ValueError("expected ',' or '}'")
            j = _skip(text, j + 1)
    if ch == "[":
        elements: List[_Node] = []
        j = _skip(text, i + 1)
        if text[j] == "]":
            return _Node(i, j + 1, [], elements=elements), j + 1
        while True:
            node, j = _parse(text, j)
            elements.append(node)
            j = _skip(text, j)
            if text[j] == "]":
                return _Node(i, j + 1, [n.value for n in elements], elements=elements), j + 1
            if text[j] != ",":
                raise ValueError("expected ',' or ']'")
            j = _skip(text, j + 1)
    value, j = _DECODER.raw_decode(text, i)
    return _Node(i, j, value), j


def _indent_of(text: str) -> str:
    """One level of the file's indentation: the leading white space of its first indented line."""
    match = re.search(r"\n([ \t]+)\S", text)
    return match.group(1) if match else "  "


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON type (true is not 1; 2.5 and 2.50 are the same number)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


class _Writer:
    def __init__(self, text: str, indent: str):
        self.text = text
        self.indent = indent

    def emit(self, value: Any, node: Optional[_Node], depth: int) -> str:
        if node is not None and _same(value, node.value):
            return self.text[node.start:node.end]
        if isinstance(value, dict) and value and node is not None and node.members is not None:
            parts = [json.dumps(k, ensure_ascii=False) + ": " + self.emit(v, node.members.get(k), depth + 1)
                     for k, v in value.items()]
            return self._layout("{", parts, "}", depth)
        if isinstance(value, list) and value and node is not None and node.elements is not None:
            parts = [self.emit(v, old, depth + 1) for v, old in zip(value, self._match(value, node.elements))]
            return self._layout("[", parts, "]", depth)
        return self.fresh(value, depth)

    def _layout(self, open_: str, parts: List[str], close: str, depth: int) -> str:
        inner = "\n" + self.indent * (depth + 1)
        return open_ + inner + ("," + inner).join(parts) + "\n" + self.indent * depth + close

    @staticmethod
    def _match(values: List[Any], old: List[_Node]) -> List[Optional[_Node]]:
        """For each new element, the old one equal to it (first unused), else the one at its place."""
        used = set()
        out: List[Optional[_Node]] = []
        for i, value in enumerate(values):
            found = next((j for j, n in enumerate(old) if j not in used and _same(value, n.value)), None)
            if found is None and i < len(old) and i not in used:
                found = i
            if found is not None:
                used.add(found)
            out.append(old[found] if found is not None else None)
        return out

    def fresh(self, value: Any, depth: int) -> str:
        """A value that was not in the file, in the file's indentation at this depth."""
        text = json.dumps(value, indent=self.indent, ensure_ascii=False)
        return text.replace("\n", "\n" + self.indent * depth)
