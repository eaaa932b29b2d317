"""What the tests of the new agents share: a fixture home installed where the agent writes it, a poller,
and the store's totals per local day and model."""
import os
import shutil
from collections import defaultdict

import support

from openusage.core.windows import local_date
from openusage.providers import REGISTRY
from openusage.providers.base import AccountConfig

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")


def install(agent, home):
    """Copy tests/fixtures/<agent>/home into `home` (projects.json's /HOME names the home)."""
    shutil.copytree(os.path.join(FIXTURES, agent, "home"), str(home), dirs_exist_ok=True)
    listing = os.path.join(str(home), ".local", "share", "crush", "projects.json")
    if agent == "crush" and os.path.exists(listing):
        with open(listing, encoding="utf-8") as fh:
            body = fh.read().replace("/HOME", str(home))
        with open(listing, "w", encoding="utf-8") as fh:
            fh.write(body)
    return str(home)


def poller(agent, home, environ=None, account=None):
    account = account or AccountConfig(id=agent, provider=agent)
    environ = dict(environ or {})
    environ.setdefault("XDG_DATA_HOME", os.path.join(str(home), ".local", "share"))
    environ.setdefault("XDG_CONFIG_HOME", os.path.join(str(home), ".config"))
    return support.Poller(REGISTRY[agent], account, home, environ)


def store_events(writer, events):
    writer.submit_events(list(events)).wait(30)


def totals(conn, agent):
    """(local day, model) -> (tokens, cost) of the agent's stored message_usage rows (cost None: unpriced)."""
    out = defaultdict(lambda: [0, None])
    for at, model, tokens, cost in conn.execute(
            "SELECT occurred_at, model, input_tokens + output_tokens + cache_read_tokens + cache_write_tokens, "
            "cost_usd FROM event_detail WHERE provider_id = ? AND event_type = 'message_usage'", (agent,)):
        row = out[(local_date(at), model)]
        row[0] += tokens
        if cost is not None:
            row[1] = round((row[1] or 0.0) + cost, 9)
    return {k: tuple(v) for k, v in out.items()}


def event_totals(events):
    """The same totals straight from a list of events (one copy per key assumed)."""
    out = defaultdict(lambda: [0, None])
    for e in support.usage(events):
        row = out[(local_date(e.occurred_at), e.model)]
        row[0] += e.total_tokens()
        if e.cost_usd is not None:
            row[1] = round((row[1] or 0.0) + e.cost_usd, 9)
    return {k: tuple(v) for k, v in out.items()}
