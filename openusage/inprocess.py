"""Fetching without a daemon: run the providers in this process and build the read model.

Used by `openusage usage` and `status` when no daemon answers. Events go to a temporary store (or,
with save, to the real one) so the snapshots carry the same aggregates as the daemon's.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Dict, List, Optional, Tuple

from openusage import accounts as accounts_mod
from openusage import paths
from openusage.config import Settings
from openusage.core.snapshot import UsageSnapshot
from openusage.core.timeutil import format_rfc3339
from openusage.errors import OpenusageError
from openusage.providers import REGISTRY
from openusage.providers.base import AccountConfig, Provider, ProviderError, failure, make_context
from openusage.store import db, readmodel
from openusage.store import lock as store_lock
from openusage.store.ingest import write_events
from openusage.store.writer import Writer

log = logging.getLogger("openusage.inprocess")


def _hold(db_file: str) -> store_lock.StoreLock:
    """The store's lock for `usage --save`; a daemon holding it stores every poll already."""
    paths.ensure_private_dir(os.path.dirname(db_file))
    held = store_lock.StoreLock(db_file)
    try:
        held.acquire("command")
    except store_lock.StoreBusy as exc:
        if exc.holder.get("role") == "daemon":
            raise OpenusageError(f"{store_lock.describe(db_file, exc.holder)}, which stores every poll "
                                 "already: run 'openusage usage' without --save") from None
        raise
    return held


def selected_accounts(settings: Settings, provider_ids: Optional[List[str]] = None
                      ) -> List[Tuple[Optional[Provider], AccountConfig]]:
    pairs = accounts_mod.resolve(settings)
    if provider_ids:
        wanted = set(provider_ids)
        pairs = [(p, a) for p, a in pairs if a.provider in wanted or a.id in wanted]
    return pairs


def fetch_one(provider: Optional[Provider], account: AccountConfig, writer: Writer, timeout: float) -> None:
    """Fetch one account and write its events and snapshot (failures become a status)."""
    try:
        if provider is None:
            raise ProviderError("ERR", f"unknown provider {account.provider!r}")
        ctx = make_context(provider, account, {}, log=log)
        result = provider.fetch(account, ctx)
        write_events(writer, result.events, timeout)
        snap = result.snapshot
    except Exception as exc:
        status, message = failure(exc)
        snap = UsageSnapshot(provider_id=account.provider, account_id=account.id, status=status, message=message,
                             display_name=account.display_name)
    snap.timestamp = snap.timestamp or format_rfc3339(time.time())
    writer.submit_snapshot(snap).wait(timeout)


def fetch_now(settings: Settings, window: str, provider_ids: Optional[List[str]] = None, save: bool = False,
              timeout: float = 60.0) -> Dict:
    """The read model for the selected accounts, fetched now in this process."""
    pairs = selected_accounts(settings, provider_ids)
    tmpdir = None
    held: Optional[store_lock.StoreLock] = None
    if save:
        db_file = paths.db_path()
        held = _hold(db_file)  # one writer a store: never beside a daemon, or another --save
    else:
        tmpdir = tempfile.TemporaryDirectory(prefix="openusage-")
        db_file = os.path.join(tmpdir.name, "usage.db")
    try:
        writer = Writer(db_file)
    except BaseException:
        if held is not None:
            held.release()
        raise
    writer.start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(fetch_one, p, a, writer, timeout) for p, a in pairs]
            wait(futures, timeout=timeout + 5)
        writer.stop()
        conn = db.connect(db_file, readonly=True)
        try:
            refs = [readmodel.AccountRef(a.provider, a.id, a.display_name) for _, a in pairs]
            model = readmodel.build(conn, window, accounts=refs,
                                    provider_names={pid: p.name for pid, p in REGISTRY.items()},
                                    warn_threshold=float(settings.get("ui.warn_threshold", 0.20)))
        finally:
            conn.close()
    finally:
        if writer.is_alive():
            writer.stop()
        if held is not None:
            held.release()
        if tmpdir is not None:
            tmpdir.cleanup()
    keep = {a.id for _, a in pairs}
    model["snapshots"] = {k: s for k, s in model["snapshots"].items() if s["account_id"] in keep}
    return model
