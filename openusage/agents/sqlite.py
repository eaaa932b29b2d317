"""Reading an agent's SQLite database: read-only, never creating a file beside it, only changed rows.

A database cursor is {"dev", "ino", "first", "t", "ids"}: the file's identity (device, inode and the
id of its first row, since a file put in the database's place may reuse the inode), the newest
`time_updated`-style value read, and the ids of the rows read at exactly that time. A poll reads the
rows whose time is at or after the cursor's (minus those ids) up to the newest time it saw at the
start, so a row rewritten while it is read is read again next poll, and none is lost.
"""
from __future__ import annotations

import os
import sqlite3
from typing import Any, Dict, Iterator, List, Optional, Set

BATCH = 500  # rows per fetch, and ids per IN (...) query (below SQLite's 999 variables)


def open_readonly(path: str) -> sqlite3.Connection:
    """A read-only connection that creates no file in the agent's directory."""
    # Agents keep their databases in WAL mode. While one runs, the -wal and -shm files exist and
    # mode=ro reads through them; without a -wal file SQLite would create both beside the database,
    # so then it is opened as immutable (nothing is writing it).
    from urllib.parse import quote  # here: every report imports this module, few read an agent's database

    immutable = not os.path.exists(path + "-wal")
    uri = "file:" + quote(os.path.abspath(path)) + "?mode=ro" + ("&immutable=1" if immutable else "")
    conn = sqlite3.connect(uri, uri=True, timeout=5.0, isolation_level=None)
    conn.text_factory = lambda b: b.decode("utf-8", errors="replace")
    return conn


def table_columns(conn: sqlite3.Connection, table: str) -> Set[str]:
    """The column names of a table (empty when there is no such table)."""
    return {row[1] for row in conn.execute(f"PRAGMA table_info({quote_name(table)})")}


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def marks(values: List[Any]) -> str:
    """`(?,?,...)` for an IN list of these values."""
    return "(" + ",".join("?" * len(values)) + ")"


def identity(conn: sqlite3.Connection, st: os.stat_result, table: str, id_column: str = "id") -> Dict[str, Any]:
    """A fresh cursor naming this database file (its time cursor not yet set)."""
    first = conn.execute(f"SELECT {quote_name(id_column)} FROM {quote_name(table)} ORDER BY rowid LIMIT 1"
                         ).fetchone()
    return {"dev": st.st_dev, "ino": st.st_ino, "first": first[0] if first else None, "t": None, "ids": []}


def resume(cursor: Dict[str, Any], old: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """`cursor` carrying on from `old` when both name the same database, else from the start."""
    if old and all(old.get(k) == cursor[k] for k in ("dev", "ino", "first")):
        cursor.update(t=old.get("t"), ids=list(old.get("ids") or []))
    return cursor


class ChangedRows:
    """The rows of `table` changed since `cursor`, in batches; the cursor moves once all are read.

    Each row is (id, time, *select): `select` is an SQL select list over the table (aliased `t`),
    and `names` lists the column names in row order once iteration has begun.
    """

    def __init__(self, conn: sqlite3.Connection, table: str, select: str, cursor: Dict[str, Any],
                 time_column: str = "time_updated", id_column: str = "id", batch: int = BATCH):
        self.conn = conn
        self.table = quote_name(table)
        self.select = select
        self.cursor = cursor
        self.time = "t." + quote_name(time_column)
        self.id = "t." + quote_name(id_column)
        self.batch = batch
        self.names: List[str] = []

    def __iter__(self) -> Iterator[List[tuple]]:
        top = self.conn.execute(f"SELECT MAX({self.time}) FROM {self.table} AS t").fetchone()[0]
        since = self.cursor.get("t")
        if top is None or (since is not None and top < since):
            return  # empty, or the newest rows were deleted: nothing new
        done = set(self.cursor.get("ids") or []) if since is not None else set()
        head = f"SELECT {self.id}, {self.time}" + (f", {self.select}" if self.select else "") + \
            f" FROM {self.table} AS t"
        if since is None:
            rows = self.conn.execute(head + f" WHERE {self.time} <= ?", (top,))
        else:
            rows = self.conn.execute(head + f" WHERE {self.time} >= ? AND {self.time} <= ?", (since, top))
        self.names = [d[0] for d in rows.description]
        at_top = list(done) if since == top else []
        while True:
            chunk = rows.fetchmany(self.batch)
            if not chunk:
                break
            fresh = []
            for row in chunk:
                if row[1] == since and row[0] in done:
                    continue
                if row[1] == top:
                    at_top.append(row[0])
                fresh.append(row)
            if fresh:
                yield fresh
        self.cursor["t"], self.cursor["ids"] = top, sorted(set(at_top))
