"""OpenCode's files: the databases in a data dir, legacy storage listings, and where a session ran."""
from __future__ import annotations

import json
import os
import sqlite3
from typing import List, Optional


def database_files(data_dir: str) -> List[str]:
    """opencode.db and opencode-<channel>.db in a data dir."""
    try:
        names = sorted(os.listdir(data_dir))
    except OSError:
        return []
    return [os.path.join(data_dir, n) for n in names
            if n == "opencode.db" or (n.startswith("opencode-") and n.endswith(".db"))]




def sorted_dirs(path: str) -> List[str]:
    try:
        return [e.path for e in sorted(os.scandir(path), key=lambda e: e.name) if e.is_dir()]
    except OSError:
        return []


def sorted_names(path: str, suffix: str) -> List[str]:
    try:
        return sorted(n for n in os.listdir(path) if n.endswith(suffix))
    except OSError:
        return []


def db_session_dir(conn: Optional[sqlite3.Connection], session: str) -> Optional[str]:
    if conn is None:
        return None
    try:
        cur = conn.execute("SELECT * FROM session WHERE id = ?", (session,))
        row = cur.fetchone()
        if row is None:
            return None
        values = dict(zip([d[0] for d in cur.description], row))
    except sqlite3.Error:
        return None
    if isinstance(values.get("directory"), str):
        return values["directory"]
    try:
        data = json.loads(values.get("data") or "")
    except (TypeError, ValueError):
        return None
    return data.get("directory") if isinstance(data, dict) else None


def file_session_dir(storage: str, session: str) -> Optional[str]:
    for project_dir in sorted_dirs(os.path.join(storage, "session")):
        path = os.path.join(project_dir, session + ".json")
        try:
            with open(path, "rb") as fh:
                data = json.loads(fh.read())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("directory"), str):
            return data["directory"]
    return None
