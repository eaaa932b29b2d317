"""The dashboard's fetch thread: the source (the daemon, or a read in this process) is only ever called here,
so a slow or absent daemon never freezes the keys; results go back to the loop through a queue."""
from __future__ import annotations

import queue
import threading
from typing import Any, Dict, Iterable, List, Tuple


def widget_specs(provider_ids: Iterable[str]) -> Dict[str, Dict[str, List[str]]]:
    """The widget spec (which rate limits are gauges, which sections it has) of each of these providers.

    Only the providers on screen are imported: all twenty cost ~0.1 s before the first data.
    """
    try:
        from openusage.providers import REGISTRY
    except Exception:  # a broken provider module must not take the dashboard down
        return {}
    specs: Dict[str, Dict[str, List[str]]] = {}
    for pid in provider_ids:
        try:
            provider = REGISTRY.get(pid)
        except Exception:  # same for one provider's module
            provider = None
        specs[pid] = dict(getattr(provider, "widgets", None) or {})
    return specs


class Fetcher(threading.Thread):
    """Calls the source on its own thread; jobs in, results out, both through queues."""

    def __init__(self, source: Any, results: queue.Queue):
        super().__init__(name="openusage-fetch", daemon=True)
        self.source = source
        self.jobs: queue.Queue = queue.Queue()
        self.results = results

    def run(self) -> None:
        specs: Dict[str, Dict[str, List[str]]] = {}
        while True:
            job = self.jobs.get()
            if job is None:
                return
            kind, arg = job
            try:
                if kind == "refresh":
                    self.source.refresh(arg)
                    result: Tuple[Any, ...] = ("refreshed", arg)
                elif kind == "start":
                    result = ("started", self.source.start())
                elif kind == "seen":
                    self.source.mark_seen(*arg)
                    result = ("seen", arg)
                else:
                    model = self.source.fetch(arg)
                    new = {str(s.get("provider_id")) for s in (model.get("snapshots") or {}).values()
                           if isinstance(s, dict)} - set(specs)
                    if new:  # a provider seen for the first time: every spec again, with its own
                        specs = {**specs, **widget_specs(sorted(new))}
                    result = ("data", arg, model, dict(specs) if new else None)
            except Exception as exc:  # any failure of the source is shown, never raised
                result = ("error", kind, arg, message(exc))
            self.results.put(result)

    def submit(self, kind: str, arg: Any) -> None:
        self.jobs.put((kind, arg))

    def stop(self) -> None:
        self.jobs.put(None)


def message(exc: BaseException) -> str:
    """A failure as one line for the status bar."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
