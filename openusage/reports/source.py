"""Where report data comes from: the daemon's store when a daemon answers, else a direct scan.

A direct scan runs the local collectors in this process into a cache database of its own
($STATE/reports-cache.db) with their incremental state, so a repeat run reads only appended bytes.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator, List, Optional, Tuple

from openusage import accounts as accounts_mod
from openusage import config, paths
from openusage.providers.base import make_context
from openusage.store import db
from openusage.store.batch import CountedBatch
from openusage.store.ingest import write_events

if TYPE_CHECKING:
    from openusage.store.writer import Writer

log = logging.getLogger("openusage.reports")

SOURCES = ("auto", "daemon", "direct")
SCAN_BATCH = 5000  # events per write during a direct scan


class SourceError(Exception):
    pass


def cache_db_path() -> str:
    return os.path.join(paths.state_dir(), "reports-cache.db")


def daemon_db(socket_path: str) -> Optional[str]:
    """The daemon's database path when a daemon answers on the socket."""
    if not os.path.exists(socket_path):
        return None
    from openusage.daemon import client  # only when there is a socket to ask

    try:
        health = client.call_json(socket_path, "GET", "/healthz", timeout=2.0)
    except (client.DaemonUnreachable, RuntimeError):
        return None
    path = health.get("db_path")
    return path if isinstance(path, str) and os.path.exists(path) else None


def local_collectors(settings: config.Settings, providers: Optional[List[str]] = None) -> List[tuple]:
    """(provider, account) pairs of the collectors that read local logs."""
    from openusage.providers import local_ids

    # Only the local collectors detect (and are imported): a report never needs the API providers.
    wanted = local_ids()
    if providers and set(providers) <= set(wanted):
        wanted = [p for p in wanted if p in providers]
    detected = accounts_mod.detect_all(only=wanted) if settings.get("auto_detect", True) else []
    pairs = [(p, a) for p, a in accounts_mod.resolve(settings, detected)
             if p is not None and p.emits_events and "local" in p.source_modes and p.id != "demo"]
    if providers:
        pairs = [(p, a) for p, a in pairs if p.id in providers or a.id in providers]
    return pairs


def scan_direct(settings: config.Settings, providers: Optional[List[str]] = None,
                progress: bool = False) -> str:
    """Bring the cache database up to date with the local logs; its path."""
    path = cache_db_path()
    paths.ensure_private_dir(os.path.dirname(path))
    store = _CacheStore(path)
    spinner = _Spinner() if progress else None
    try:
        for provider, account in local_collectors(settings, providers):
            state, saved = store.load_state(provider.id, account.id)
            ctx = make_context(provider, account, state, log=log, keep_raw=False, live_quota=False,
                               batches=True)
            if spinner is not None:
                spinner.source = provider.name
            try:
                result = provider.fetch(account, ctx)
                # Parsing goes on while the writer commits the previous batches; at most two wait.
                write_events(store.writer(), result.events, timeout=300, each=_scanned(spinner),
                             event_batch=SCAN_BATCH, in_flight=2)
            except Exception as exc:  # one broken collector must not hide the others' data
                log.warning("scan of %s failed: %s", provider.id, exc)
                continue
            if saved and result.state_changed is not None and not result.state_changed():
                continue  # a repeat run with nothing new rewrites nothing
            encoded = json.dumps(state, separators=(",", ":"))
            if encoded != saved:
                store.writer().submit_state(provider.id, account.id, state, encoded).wait(60)
    finally:
        if spinner:
            spinner.stop()
        store.close()
    return path



def _scanned(spinner: Optional[_Spinner]) -> Callable[[object], None]:
    """What a direct scan does with each item of a stream before it is written: counts it for the
    progress line, and drops the payload of an event with an id (the cache keeps none; only an
    id-less event's key is made of it)."""

    def each(ev: object) -> None:
        if isinstance(ev, CountedBatch):
            if spinner is not None:
                spinner.events += ev.size()
            return
        if spinner is not None:
            spinner.events += 1
        if ev.tool_call_id or ev.message_id or ev.turn_id:  # type: ignore[attr-defined]
            ev.raw = None  # type: ignore[attr-defined]

    return each

# What the cache holds, named: a cache made by an older openusage (event rows, or the cache_keys of
# keys-1) is rebuilt from the logs rather than read wrong.
CACHE_FORMAT = "keys-2"


class _CacheStore:
    """The cache database: states read on a plain connection, the writer started at the first write
    (a repeat run with nothing new never starts it), or at once for a new, older or foreign database."""

    def __init__(self, path: str):
        self.path = path
        self._writer: Optional[Writer] = None
        self._conn: Optional[sqlite3.Connection] = None
        if os.path.exists(path):
            current = False
            try:
                self._conn = db.connect(path, readonly=True)
                current = (self._conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
                           and db.get_meta(self._conn, "cache_format") == CACHE_FORMAT)
            except sqlite3.DatabaseError:  # not a database of ours at all
                pass
            if not current:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                for stale in (path, path + "-wal", path + "-shm"):
                    if os.path.exists(stale):
                        os.remove(stale)
        if self._conn is None:
            self.writer()  # creates it

    def writer(self) -> Writer:
        if self._writer is None:
            from openusage.store.writer import Writer  # a warm run that writes nothing never loads it

            self._writer = Writer(self.path, check=False, keep_raw=False, keys_only=True)
            self._writer.start()
            self._writer.submit_call(lambda conn: db.set_meta(conn, "cache_format", CACHE_FORMAT)).wait(60)
        return self._writer

    def load_state(self, provider_id: str, account_id: str) -> Tuple[dict, str]:
        """A collector's saved state and its JSON text ("" when there is none)."""
        if self._conn is None:
            self._conn = db.connect(self.path, readonly=True)
        text = db.saved_state(self._conn, provider_id, account_id)
        return (json.loads(text), text) if text is not None else ({}, "")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._writer is not None:
            self._writer.stop()


@contextmanager
def open_source(source: str, settings: config.Settings, socket_path: str, providers: Optional[List[str]] = None,
                progress: bool = False) -> Iterator[Tuple[sqlite3.Connection, str]]:
    """A read connection to the chosen store, and the name of the source used ("daemon" or "direct")."""
    if source not in SOURCES:
        raise SourceError(f"unknown source {source!r} (use auto, daemon or direct)")
    used = "direct"
    path = None
    if source in ("auto", "daemon"):
        path = daemon_db(socket_path)
        if path:
            used = "daemon"
        elif source == "daemon":
            raise SourceError(f"no daemon answers on {socket_path} (use --source direct)")
    if path is None:
        path = scan_direct(settings, providers, progress)
    conn = db.connect(path, readonly=True)
    try:
        yield conn, used
    finally:
        conn.close()


class _Spinner:
    """A progress line on stderr for scans that take more than about a second: which collector, how
    many events so far, how long."""

    def __init__(self, delay: float = 1.0):
        self.source = ""  # set by the scan as it goes
        self.events = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(delay,), daemon=True)
        self._shown = False
        self._thread.start()

    def _run(self, delay: float) -> None:
        if self._stop.wait(delay):
            return
        started = time.monotonic() - delay
        frames = "|/-\\"
        i = 0
        while not self._stop.wait(0.2):
            where = f" {self.source}:" if self.source else ""
            sys.stderr.write(f"\r\033[Kscanning local logs {frames[i % 4]}{where} {self.events:,} events, "
                             f"{time.monotonic() - started:.0f}s")
            sys.stderr.flush()
            self._shown = True
            i += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1)
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
