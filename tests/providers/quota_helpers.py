"""Shared by the plan-quota tests: a fetch whose events are consumed (the quota goes on at the end),
credentials files written into the test home, and the check that polls never change them."""
import hashlib
import json
import os

from fakeserver import NOW

from openusage.core.snapshot import UsageSnapshot
from openusage.providers.base import AccountConfig, make_context


def account(provider_id, srv=None, **extra):
    if srv is not None:
        extra.setdefault("usage_api_base", srv.url)
    return AccountConfig(id=provider_id, provider=provider_id, extra=extra)


def fetch(provider, acct, home, state, now=NOW, environ=None, live_quota=True):
    """One fetch as the scheduler runs it: events consumed, snapshot checked for a JSON round trip."""
    ctx = make_context(provider, acct, state, home=str(home), environ=environ or {}, now=now, live_quota=live_quota)
    result = provider.fetch(acct, ctx)
    list(result.events or ())
    snap = result.snapshot
    assert UsageSnapshot.from_dict(json.loads(json.dumps(snap.to_dict()))) == snap
    return snap


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
    os.chmod(path, 0o600)
    return path


def digest(path):
    """Content, mode and mtime of a file: what 'never rewritten' keeps."""
    st = os.stat(path)
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest(), st.st_mode, st.st_mtime_ns, st.st_ino
