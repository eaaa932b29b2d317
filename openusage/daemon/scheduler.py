"""The polling loop: provider fetches on a bounded worker pool, each with a timeout and backoff.

The loop sleeps on an Event until the next fetch is due, a fetch finishes or a refresh is asked
for; it never busy-waits. A slow provider never delays the others, and a failure becomes a non-OK
status on the account's last good snapshot, never a crash.
"""
from __future__ import annotations

import copy
import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from openusage.core.snapshot import UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.providers.base import AccountConfig, Provider, ProviderError, failure, make_context
from openusage.store.ingest import EVENT_BATCH, write_events
from openusage.store.writer import Writer

log = logging.getLogger("openusage.daemon.scheduler")

MAX_BACKOFF = 1800.0


@dataclass
class Job:
    provider: Optional[Provider]
    account: AccountConfig
    interval: float
    next_due: float = 0.0
    failures: int = 0
    future: Optional[Future] = None
    deadline: float = 0.0
    timed_out: bool = False
    state: Optional[Dict[str, Any]] = None
    state_json: str = ""
    last_good: Optional[UsageSnapshot] = None
    info: Dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.account.provider}:{self.account.id}"


class Scheduler:
    def __init__(
        self,
        writer: Writer,
        load_state: Callable[[str, str], Optional[Dict[str, Any]]],
        load_snapshot: Callable[[str, str], Optional[UsageSnapshot]],
        max_workers: int = 4,
        fetch_timeout: float = 30.0,
        on_polled: Optional[Callable[[tuple, Any], None]] = None,
    ):
        self.writer = writer
        self._load_state = load_state
        self._load_snapshot = load_snapshot
        self.fetch_timeout = fetch_timeout
        self._on_polled = on_polled  # ((provider, account), ticket of the snapshot write) after every fetch
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fetch")
        self._jobs: Dict[str, Job] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    # --- configuration -----------------------------------------------------------------------

    def set_accounts(self, pairs: List[tuple]) -> None:
        """(provider or None, AccountConfig) pairs; keeps the timing of accounts that stay."""
        with self._lock:
            jobs: Dict[str, Job] = {}
            for provider, account in pairs:
                interval = float(account.extra.get("interval_seconds") or
                                 (provider.default_interval if provider else 60.0))
                job = Job(provider=provider, account=account, interval=interval)
                old = self._jobs.get(job.key)
                if old is not None:
                    job.next_due, job.failures, job.future = old.next_due, old.failures, old.future
                    job.state, job.state_json, job.last_good, job.info = (
                        old.state, old.state_json, old.last_good, old.info)
                else:
                    job.last_good = self._load_snapshot(account.provider, account.id)
                jobs[job.key] = job
            self._jobs = jobs
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def request_refresh(self, provider_id: Optional[str] = None, delay: float = 0.0) -> int:
        """Make the matching accounts due now (or after `delay`); the number of accounts matched."""
        due = time.monotonic() + delay
        matched = 0
        sooner = False
        with self._lock:
            for job in self._jobs.values():
                if provider_id is None or job.account.provider == provider_id or job.account.id == provider_id:
                    if due < job.next_due:
                        job.next_due = due
                        sooner = True
                    matched += 1
        if sooner:  # a burst of hooks inside the debounce wakes the loop once, not once per hook
            self._wake.set()
        return matched

    def reset_state(self) -> None:
        """Forget cached provider state (after the store's copy was cleared)."""
        with self._lock:
            for job in self._jobs.values():
                job.state, job.state_json = None, ""

    def status(self) -> Dict[str, Any]:
        with self._lock:
            return {key: dict(job.info, provider=job.account.provider, account=job.account.id,
                              failures=job.failures, running=bool(job.future and not job.future.done()))
                    for key, job in self._jobs.items()}

    def accounts(self) -> List[AccountConfig]:
        with self._lock:
            return [job.account for job in self._jobs.values()]

    # --- the loop ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = self._tick(time.monotonic())
            self._wake.wait(wait)
            self._wake.clear()

    def _tick(self, now: float) -> float:
        """Start due fetches, time out stuck ones; seconds until something is due next."""
        next_wake = 300.0
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.future is not None and not job.future.done():
                if not job.timed_out and now >= job.deadline:
                    job.timed_out = True
                    self._record_failure(job, ProviderError("ERR", f"timed out after {self._timeout(job):.0f}s"))
                if not job.timed_out:
                    next_wake = min(next_wake, job.deadline - now)
                continue
            if now >= job.next_due:
                self._submit(job, now)
                next_wake = min(next_wake, job.deadline - now)
            else:
                next_wake = min(next_wake, job.next_due - now)
        return max(0.05, next_wake)

    def _timeout(self, job: Job) -> float:
        return float((job.provider.fetch_timeout if job.provider is not None else None) or self.fetch_timeout)

    def _submit(self, job: Job, now: float) -> None:
        job.timed_out = False
        job.deadline = now + self._timeout(job)
        job.next_due = now + job.interval  # replaced by backoff on failure
        try:
            job.future = self._pool.submit(self._run, job)
        except RuntimeError:  # pool shut down
            return
        job.future.add_done_callback(lambda _f: self._wake.set())

    # --- one fetch (worker thread) -----------------------------------------------------------

    def _run(self, job: Job) -> None:
        started = time.time()
        job.info["last_poll"] = format_rfc3339(started)
        try:
            if job.provider is None:
                raise ProviderError("ERR", f"unknown provider {job.account.provider!r}")
            if job.state is None:
                job.state = self._load_state(job.account.provider, job.account.id) or {}
                job.state_json = json.dumps(job.state, sort_keys=True, separators=(",", ":"))
            # batches: a large catch-up read on workers comes back a file at a time, its event rows
            # built there (store/batch.py), written as the events would be. No payload of a log line
            # is stored (the line stays on disk); a hook's is.
            ctx = make_context(job.provider, job.account, job.state, now=started, keep_raw=False, batches=True,
                               event_rows=True)
            result = job.provider.fetch(job.account, ctx)
            events = write_events(self.writer, result.events, counted_rows=EVENT_BATCH)
            snapshot = result.snapshot
            snapshot.timestamp = snapshot.timestamp or format_rfc3339(time.time())
            self._save_state(job)
            ticket = self.writer.submit_snapshot(snapshot)
            ticket.wait(60)
        except Exception as exc:  # a provider failure is a status, never a crash
            # The collector may have moved its cursors past what the store did not take (a failed or
            # lost write): the next poll starts from the state the store holds, and re-reads that.
            job.state = None
            if not isinstance(exc, ProviderError):
                log.warning("fetch %s failed: %s", job.key, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            if job.timed_out:
                return
            self._record_failure(job, exc)
            return
        job.failures = 0
        job.last_good = snapshot
        job.info.update(status=snapshot.status, duration_ms=round((time.time() - started) * 1000),
                        events=events, last_success=job.info["last_poll"], error=None)
        self._polled(job, ticket)

    def _polled(self, job: Job, ticket: Any) -> None:
        if self._on_polled is not None:
            self._on_polled((job.account.provider, job.account.id), ticket)

    def _save_state(self, job: Job) -> None:
        encoded = json.dumps(job.state, sort_keys=True, separators=(",", ":"))
        if encoded != job.state_json:
            self.writer.submit_state(job.account.provider, job.account.id, job.state, encoded).wait(60)
            job.state_json = encoded

    def _record_failure(self, job: Job, exc: BaseException) -> None:
        job.failures += 1
        backoff = min(job.interval * (2 ** min(job.failures, 10)), MAX_BACKOFF)
        job.next_due = time.monotonic() + max(backoff, job.interval)
        status, message = failure(exc)
        snap = copy.deepcopy(job.last_good) if job.last_good else UsageSnapshot(
            provider_id=job.account.provider, account_id=job.account.id)
        snap.status = status
        snap.message = message
        snap.display_name = snap.display_name or job.account.display_name
        snap.extras = dict(snap.extras or {}, last_error_at=format_rfc3339(time.time()))
        if isinstance(exc, ProviderError) and exc.resets_at:
            snap.extras["resets_at"] = exc.resets_at
        job.info.update(status=status, error=message)
        try:
            self._polled(job, self.writer.submit_snapshot(snap))
        except Exception:  # pragma: no cover - the writer reports its own failures
            log.exception("could not store the failure snapshot of %s", job.key)
