import json
import sys

import pytest

from openusage.providers.base import AccountConfig, ProviderError, make_context
from openusage.providers.custom import CustomCommandProvider


def fetch(command, **extra):
    provider = CustomCommandProvider()
    account = AccountConfig(id="mine", provider="custom", extra=dict(command=command, **extra))
    return provider.fetch(account, make_context(provider, account, {}))


def script(code):
    return [sys.executable, "-c", code]


def test_command_output_becomes_the_snapshot():
    snap = {"status": "WARN", "currency": "EUR", "spend": {"total": 12.5},
            "rate_limits": {"daily": {"used_percent": 81}}}
    result = fetch(script(f"print({json.dumps(json.dumps(snap))})")).snapshot
    assert (result.provider_id, result.account_id, result.status, result.currency) == ("custom", "mine", "WARN",
                                                                                      "EUR")
    assert result.rate_limits["daily"].used_percent == 81


@pytest.mark.parametrize("code, message", [
    ("print('not json')", "invalid JSON"),
    ("print('[1]')", "not an object"),
    ("import sys; sys.stderr.write('bad token\\n'); sys.exit(3)", "command exited 3: bad token"),
    ("print('{\"status\": \"GREAT\"}')", "bad snapshot"),
])
def test_bad_commands_are_err(code, message):
    with pytest.raises(ProviderError) as info:
        fetch(script(code))
    assert info.value.status == "ERR" and message in info.value.message


def test_timeout_and_missing_program():
    with pytest.raises(ProviderError, match="timed out after 0.5s"):
        fetch(script("import time; time.sleep(5)"), timeout_seconds=0.5)
    with pytest.raises(ProviderError, match="could not run"):
        fetch("/nonexistent/program --json")
    with pytest.raises(ProviderError, match="needs \"command\""):
        fetch(None)
