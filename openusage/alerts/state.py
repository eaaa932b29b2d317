"""Alert state in the store (table alert_state, store migration 4): read on any connection, written
only through the store's single writer (these functions run inside its transaction)."""
from __future__ import annotations

import sqlite3
import time
from typing import Dict, Iterable, Optional, Tuple

from openusage.alerts.rules import State

Key = Tuple[str, str, str, str]  # rule, provider_id, account_id, limit ("" for a whole account)

_COLUMNS = ("armed", "firing", "since", "fired_at", "resets_at", "value", "threshold", "seen")


def load(conn: sqlite3.Connection) -> Dict[Key, State]:
    """Every stored key and its state."""
    out: Dict[Key, State] = {}
    for row in conn.execute(f"SELECT rule, provider_id, account_id, limit_name, {', '.join(_COLUMNS)} "
                            "FROM alert_state"):
        armed, firing, since, fired_at, resets_at, value, threshold, seen = row[4:]
        out[(row[0], row[1], row[2], row[3])] = State(
            armed=bool(armed), firing=bool(firing), since=since, fired_at=fired_at, resets_at=resets_at,
            value=value, threshold=threshold, seen=bool(seen))
    return out


def save(conn: sqlite3.Connection, changed: Dict[Key, State], now: Optional[float] = None) -> int:
    """Upsert the changed keys; the number of rows written."""
    now = time.time() if now is None else now
    placeholders = ", ".join("?" for _ in range(5 + len(_COLUMNS)))
    updates = ", ".join(f"{c}=excluded.{c}" for c in _COLUMNS + ("updated_at",))
    sql = (f"INSERT INTO alert_state(rule, provider_id, account_id, limit_name, {', '.join(_COLUMNS)}, updated_at) "
           f"VALUES({placeholders}) ON CONFLICT(rule, provider_id, account_id, limit_name) DO UPDATE SET {updates}")
    for key, s in changed.items():
        conn.execute(sql, (*key, int(s.armed), int(s.firing), s.since, s.fired_at, s.resets_at, s.value,
                           s.threshold, int(s.seen), now))
    return len(changed)


def forget_rules(conn: sqlite3.Connection, keep: Iterable[str]) -> int:
    """Drop the state of rules no longer configured (a re-added rule starts armed)."""
    names = list(keep)
    if not names:
        return conn.execute("DELETE FROM alert_state").rowcount
    marks = ", ".join("?" for _ in names)
    return conn.execute(f"DELETE FROM alert_state WHERE rule NOT IN ({marks})", names).rowcount


def mark_seen(conn: sqlite3.Connection, provider_id: Optional[str] = None, account_id: Optional[str] = None) -> int:
    """Mark fired alerts seen (all, or one account's); the number of rows changed."""
    sql, args = "UPDATE alert_state SET seen=1 WHERE seen=0", []
    if provider_id is not None:
        sql += " AND provider_id=?"
        args.append(provider_id)
    if account_id is not None:
        sql += " AND account_id=?"
        args.append(account_id)
    return conn.execute(sql, args).rowcount
