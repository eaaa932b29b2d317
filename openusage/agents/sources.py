"""The three kinds of data an agent may keep, each declared with its pattern and its pure parser.

A parser returns (or yields) Usage and ToolCall records; it raises records.Skip(reason) for a record
that looks like usage but cannot be used, or returns a Skip among its records for each one it leaves out
(a document's parser reads many records in one call: the others are kept). Any other exception a
parser raises on a record of an unknown shape is counted as "bad_record" and the poll goes on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Optional, Set, Tuple, Union

from openusage.agents.files import Found
from openusage.agents.records import Skip, ToolCall, Usage

Record = Union[Usage, ToolCall, Skip]  # a Skip: one record left out, counted by its reason
# (decoded line, the file's carry-over, the file) -> records. The carry-over is a JSON-able dict kept
# in the file's cursor between polls (a session header's id, the model of the last turn); it starts
# empty whenever the file is read from its start again (new, replaced or truncated).
LineParser = Callable[[Dict[str, Any], Dict[str, Any], Found], Iterable[Record]]
# (decoded document, the file) -> records: the whole file, read again each time it changes.
DocumentParser = Callable[[Any, Found], Iterable[Record]]
# (row as {column: value}, the database file) -> records.
RowParser = Callable[[Dict[str, Any], Found], Iterable[Record]]


@dataclass(frozen=True)
class JsonlSource:
    """Append-only JSON lines: only the bytes appended since the last poll are read."""

    pattern: str  # files under a root (openusage.agents.files patterns: "sessions/**/*.jsonl")
    parse: LineParser
    markers: Tuple[bytes, ...] = ()  # a line holding none of these is never decoded (empty: every line)


@dataclass(frozen=True)
class JsonSource:
    """Whole JSON documents, read again when their size, mtime or inode changes."""

    pattern: str
    parse: DocumentParser
    max_bytes: int = 256 * 1024 * 1024  # a larger file is counted as skipped ("too_large")


@dataclass(frozen=True)
class SqliteSource:
    """Rows of one table of an SQLite database, read from a time_updated-style cursor (read-only)."""

    pattern: str  # the database files under a root
    table: str
    parse: RowParser
    # An SQL select list over the table (aliased t; subqueries may reach other tables), or a function of
    # the table's column names giving one: None then means "not the schema this agent knows" (skipped).
    select: Union[str, Callable[[Set[str]], Optional[str]]] = "t.*"
    time_column: str = "time_updated"
    id_column: str = "id"


Source = Union[JsonlSource, JsonSource, SqliteSource]
