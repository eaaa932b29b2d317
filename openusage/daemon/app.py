"""The daemon: wires store writer, scheduler, spool and the Unix-socket server; owns shutdown.

Signal handlers only set an Event; shutdown runs on the main thread in a written order: stop
accepting, finish in-flight requests, stop polling, flush the writer, remove the socket.
"""
from __future__ import annotations

import faulthandler
import json
import logging
import os
import queue
import signal
import sqlite3
import threading
import time
from typing import Any, Dict, Optional

from openusage import __version__, config, paths
from openusage import accounts as accounts_mod
from openusage.agents import workers
from openusage.alerts.service import AlertService
from openusage.core.snapshot import UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.daemon import api, heap, pipeline, spool
from openusage.daemon.scheduler import Scheduler
from openusage.daemon.server import UnixHTTPServer
from openusage.providers import REGISTRY
from openusage.store import db, readmodel, retention
from openusage.store.lock import StoreLock
from openusage.store.writer import Writer

log = logging.getLogger("openusage.daemon")

MAINTENANCE_INTERVAL = 30.0
RETENTION_INTERVAL = 3600.0
HOOK_COMMIT_TIMEOUT = 10.0  # how long a hook delivery waits for its events to commit before a 503
REFRESH_DEBOUNCE = 1.0  # a hook asks for a log read this long after it, so bursts coalesce


class ReaderPool:
    """Read-only connections shared by request threads (WAL lets them read while the writer writes)."""

    def __init__(self, path: str, size: int = 4):
        self.path = path
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._size = size

    def acquire(self) -> sqlite3.Connection:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            return db.connect(self.path, readonly=True)

    def release(self, conn: sqlite3.Connection) -> None:
        if self._pool.qsize() < self._size:
            self._pool.put(conn)
        else:
            conn.close()


class Daemon:
    def __init__(
        self,
        socket_path: Optional[str] = None,
        db_path: Optional[str] = None,
        config_path: Optional[str] = None,
        settings: Optional[config.Settings] = None,
    ):
        self.settings = settings or config.load(config_path)
        self.config_path = config_path
        self.socket_path = paths.socket_path(socket_path)
        self.db_path = paths.db_path(db_path)
        self.spool_dir = paths.spool_dir()
        self.store_lock = StoreLock(self.db_path)
        self._polling = False  # the scheduler starts after the first spool drain
        self._polling_lock = threading.Lock()
        self.stop_event = threading.Event()
        self.started_at = time.time()
        self.started_at_rfc3339 = format_rfc3339(self.started_at)
        self.spool_stats: Dict[str, Any] = {"ingested_total": 0, "bad_total": 0, "expired_total": 0,
                                            "last_drain": None}  # when the last drain pass ended
        self.server: Optional[UnixHTTPServer] = None
        self.exporter: Any = None
        self.alerts: Any = None
        self.writer: Writer
        self.scheduler: Scheduler
        self.readers: ReaderPool

    # --- services used by the routes ---------------------------------------------------------

    def default_window(self) -> str:
        return self.settings.get("data.time_window", "30d")

    def ingest_delivery(self, source: str, body: bytes, account_id: Optional[str], received_at: float) -> Dict:
        events, hinted = pipeline.events_from_delivery(
            source, body, account_id, received_at, self.settings.provider_links)
        result = self.writer.submit_events(events).wait(HOOK_COMMIT_TIMEOUT)
        if events:
            self.alerts.request({(e.provider_id, e.account_id) for e in events})
        for provider_id in hinted:
            if provider_id in REGISTRY and REGISTRY[provider_id].emits_events:
                self.scheduler.request_refresh(provider_id, delay=REFRESH_DEBOUNCE)
        return {"accepted": len(events), **result}

    def health(self) -> Dict[str, Any]:
        """What /healthz answers: "ok" or "degraded", the writer's counters, the spool, each account's polls."""
        ok = self.writer.is_alive() and self.writer.healthy
        try:
            db_size = sum(os.path.getsize(self.db_path + s) for s in ("", "-wal") if os.path.exists(self.db_path + s))
        except OSError:
            db_size = None
        body = {
            "status": "ok" if ok else "degraded",
            "version": __version__,
            "pid": os.getpid(),
            "started_at": self.started_at_rfc3339,
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "socket": self.socket_path,
            "db_path": self.db_path,
            "config_path": self.settings.path,
            "db_size_bytes": db_size,
            **self.writer.counters,
            "spool": dict(spool.depth(self.spool_dir), **self.spool_stats),
            "providers": self.scheduler.status(),
        }
        if self.exporter is not None:
            body["exporter"] = {"target": self.exporter.url, "machine": self.exporter.machine,
                                "failures": self.exporter.failures, "last_ok": self.exporter.last_ok}
        return body

    def read_model(self, window: str) -> Dict[str, Any]:
        refs = [readmodel.AccountRef(a.provider, a.id, a.display_name) for a in self.scheduler.accounts()]
        names = {pid: p.name for pid, p in REGISTRY.items()}
        conn = self.readers.acquire()
        try:
            return readmodel.build(conn, window, accounts=refs, provider_names=names,
                                   warn_threshold=self._warn_threshold())
        finally:
            self.readers.release(conn)

    def _warn_threshold(self) -> float:
        return float(self.settings.get("ui.warn_threshold", 0.20))

    def clear_cache(self, history: bool) -> Dict[str, Any]:
        def clear(conn: sqlite3.Connection) -> None:
            retention.clear_cache(conn)
            if history:
                retention.clear_history(conn)

        self.writer.submit_call(clear).wait(60)
        self.scheduler.reset_state()
        self.scheduler.request_refresh()
        return {"cleared": "cache and history" if history else "cache"}

    # --- lifecycle ---------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; the exit code.

        Start-up order: the store's lock first (a second daemon on this store stops here, whatever
        socket it was given), then the socket, then the services; the spool drains in the
        maintenance thread while requests are already answered, and polling starts after that
        first drain (so a spooled hook keeps its place before the log read that repeats it).
        """
        paths.ensure_private_dir(paths.state_dir())
        heap.tune()  # malloc parameters for an always-on process (daemon/heap.py)
        workers.background()  # a catch-up's workers yield the CPU to the writer and the hooks
        self.store_lock.acquire("daemon", self.socket_path)  # StoreBusy propagates
        try:
            self.server = UnixHTTPServer(self.socket_path, api.build_routes(self))  # AlreadyRunning propagates
            try:
                self._start_services()
            except BaseException:
                self.server.server_close()
                self.server.remove_socket_file()
                raise
        except BaseException:
            self.store_lock.release()
            raise
        self._install_signals()
        self._write_pidfile()
        serve = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.5},
                                 name="http", daemon=True)
        serve.start()
        maintenance = threading.Thread(target=self._maintenance, name="maintenance", daemon=True)
        maintenance.start()
        log.info("openusage daemon %d listening on %s (db %s)", os.getpid(), self.socket_path, self.db_path)
        self.stop_event.wait()
        self._shutdown(serve)
        return 0

    def _start_services(self) -> None:
        self.writer = Writer(self.db_path)
        self.writer.on_idle = heap.trim
        self.writer.start()
        self.readers = ReaderPool(self.db_path)
        self.alerts = AlertService(self.writer, self.readers.acquire, self.readers.release,
                                   self.settings.get("alerts"), self.stop_event, self._warn_threshold())
        self.alerts.load()
        self.scheduler = Scheduler(self.writer, self._load_state, self._load_snapshot,
                                   on_polled=lambda key, ticket: self.alerts.request([key], ticket))
        self.scheduler.set_accounts(accounts_mod.resolve(self.settings))  # it polls once the spool is drained
        self.alerts.start()
        self._start_exporter()

    def _start_polling(self) -> None:
        """After the first drain: a hook spooled before a log was read counts as it arrived, first."""
        with self._polling_lock:
            if not self.stop_event.is_set() and not self._polling:
                self.scheduler.start()
                self._polling = True

    def _start_exporter(self) -> None:
        target = self.settings.get("export.target")
        if not target:
            return
        from openusage.hub.exporter import Exporter, machine_name

        self.exporter = Exporter(
            target, float(self.settings.get("export.interval_seconds", 60)),
            machine_name(self.settings.get("export.machine_name")),
            lambda: self.read_model(self.default_window()), self.stop_event,
            ready=lambda: all(p.get("status") for p in self.scheduler.status().values()),
            alerts=self.alerts.firing)
        self.exporter.start()

    def _request_stop(self) -> None:
        threading.Thread(target=self.stop_event.set, name="stop", daemon=True).start()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        # The handler hands the set to a thread: a second signal landing while the first handler is
        # inside Event.set() (holding its lock) would otherwise re-enter set() and hang the daemon.
        signal.signal(signal.SIGTERM, lambda *_: self._request_stop())
        signal.signal(signal.SIGINT, lambda *_: self._request_stop())
        signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=self.reload, daemon=True).start())
        faulthandler.register(signal.SIGUSR2, all_threads=True)

    def reload(self) -> None:
        """Re-read settings.json and re-run detection (SIGHUP)."""
        try:
            self.settings = config.load(self.config_path)
        except config.ConfigError as exc:
            log.error("reload: keeping the old settings: %s", exc)
            return
        self.scheduler.set_accounts(accounts_mod.resolve(self.settings))
        self.alerts.configure(self.settings.get("alerts"), self._warn_threshold())
        log.info("settings reloaded")

    def _shutdown(self, serve: threading.Thread) -> None:
        log.info("shutting down")
        assert self.server is not None
        self.server.shutdown()  # stop accepting
        serve.join(10)
        if not self.server.wait_idle(20):
            log.warning("requests still running at shutdown")
        self.server.server_close()
        with self._polling_lock:
            if self._polling:
                self.scheduler.stop()
            self._polling = True  # a first drain still under way starts no scheduler now
        self.alerts.stop()
        self.writer.stop()  # commits everything queued
        self._remove_pidfile()
        self.store_lock.release()  # the store is free before `daemon stop` sees the socket go
        self.server.remove_socket_file()  # last: a gone socket file means a finished shutdown
        log.info("stopped")

    def _write_pidfile(self) -> None:
        with open(paths.pid_path(), "w", encoding="ascii") as fh:
            fh.write(f"{os.getpid()}\n")

    def _remove_pidfile(self) -> None:
        """Unlink daemon.pid only while it names this process: never another daemon's."""
        path = paths.pid_path()
        try:
            with open(path, encoding="ascii") as fh:
                mine = fh.read().strip() == str(os.getpid())
            if mine:
                os.unlink(path)
        except (OSError, ValueError):
            pass

    def _maintenance(self) -> None:
        # The first pass at once, here while requests are answered: a daemon started after days away
        # prunes at once, then drains what was spooled while it was down, and only then starts polling
        # (a prune racing the first poll would drop what it had just read of old logs; a spooled hook
        # keeps its place before the log read that repeats it).
        last_retention = 0.0
        first = True
        while first or not self.stop_event.wait(MAINTENANCE_INTERVAL):
            if time.time() - last_retention > RETENTION_INTERVAL:
                try:
                    self.prune_history()
                except Exception:
                    log.exception("retention pass failed")
                last_retention = time.time()
            try:
                self.drain_spool()
            except Exception:
                log.exception("maintenance pass failed")
            if first:
                self._start_polling()
                first = False

    def prune_history(self) -> int:
        """Drop per-event rows past data.retention_days (rollups stay)."""
        days = self.settings.retention_days
        return self.writer.submit_call(lambda conn: retention.prune(conn, days)).wait(120)

    # --- spool -------------------------------------------------------------------------------

    def drain_spool(self) -> Dict[str, int]:
        total = {"ingested": 0, "bad": 0, "expired": 0}
        while True:
            try:
                stats = spool.drain(self.spool_dir, self._ingest_spooled,
                                    on_bad=lambda name, why: log.warning("spool file %s set aside: %s", name, why))
            except Exception as exc:  # the files stay for the next pass
                log.warning("spool drain paused: %s", exc)
                break
            for key in total:
                total[key] += stats[key]
                self.spool_stats[f"{key}_total"] += stats[key]
            if sum(stats.values()) < spool.DRAIN_BATCH or self.stop_event.is_set():
                break
        self.spool_stats["last_drain"] = format_rfc3339(time.time())
        if any(total.values()):
            log.info("spool drained: %s", total)
        return total

    def _ingest_spooled(self, record: Dict[str, Any]) -> None:
        """One spooled delivery (fields checked by spool.read_record); ValueError sets it aside."""
        try:
            self.ingest_delivery(record["source"], record["body"].encode("utf-8", errors="replace"),
                                 record.get("account_id"), float(record["received_at"]))
        except (TimeoutError, RuntimeError, OSError, sqlite3.OperationalError):
            raise  # the store is busy or stopping: the file waits for the next pass
        except ValueError:
            raise
        except Exception as exc:  # a value the store cannot take fails this file, never the ones after it
            raise ValueError(f"cannot be stored: {exc.__class__.__name__}: {exc}") from exc

    # --- store access for the scheduler ------------------------------------------------------

    def _load_state(self, provider_id: str, account_id: str) -> Optional[Dict[str, Any]]:
        conn = self.readers.acquire()
        try:
            text = db.saved_state(conn, provider_id, account_id)
        finally:
            self.readers.release(conn)
        return json.loads(text) if text is not None else None

    def _load_snapshot(self, provider_id: str, account_id: str) -> Optional[UsageSnapshot]:
        conn = self.readers.acquire()
        try:
            row = conn.execute("SELECT body FROM snapshots WHERE provider_id=? AND account_id=?",
                               (provider_id, account_id)).fetchone()
        finally:
            self.readers.release(conn)
        if not row:
            return None
        try:
            return UsageSnapshot.from_dict(json.loads(row[0]))
        except ValueError:
            return None
