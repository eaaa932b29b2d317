import json
import os
import stat

import pytest

from openusage import cookies
from openusage.cli.main import main
from openusage.providers import REGISTRY
from openusage.providers.base import AccountConfig, FetchResult, Provider, make_context


class WebOnly(Provider):
    id = "webonly"
    name = "Web only"
    source_modes = ("web",)
    cookie_domains = ("example.com",)

    def fetch(self, account, ctx):
        return FetchResult(snapshot=None)


@pytest.fixture
def webonly(monkeypatch):
    provider = WebOnly()
    monkeypatch.setitem(REGISTRY, provider.id, provider)
    return provider


NETSCAPE = (
    "# Netscape HTTP Cookie File\n"
    "#HttpOnly_.example.com\tTRUE\t/\tTRUE\t4102444800\tsession\tabc123\n"
    "other.org\tFALSE\t/\tFALSE\t0\ttrack\tzzz\n"
    ".example.com\tTRUE\t/\tTRUE\t1000\told\texpired\n"
)


def test_import_netscape_keeps_only_the_providers_domains(webonly, tmp_path, capsys):
    export = tmp_path / "cookies.txt"
    export.write_text(NETSCAPE)
    assert main(["auth", "import-cookies", "--provider", "webonly", "--format", "netscape", str(export)]) == 0
    assert "kept 2 of 3 cookies" in capsys.readouterr().out
    path = cookies.cookie_path("webonly")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert cookies.load("webonly") == {"session": "abc123"}  # the expired one is ignored
    ctx = make_context(webonly, AccountConfig(id="w", provider="webonly"), {})
    assert ctx.cookies == {"session": "abc123"}
    assert not os.path.exists(os.path.join(os.environ["XDG_CONFIG_HOME"], "openusage", "settings.json"))


def test_import_json_export(webonly, tmp_path, capsys):
    export = tmp_path / "c.json"
    export.write_text(json.dumps([{"name": "s", "value": "v", "domain": "app.example.com", "path": "/",
                                   "expirationDate": 4102444800}]))
    assert main(["auth", "import-cookies", "--provider", "webonly", "--format", "json", str(export)]) == 0
    assert cookies.load("webonly") == {"s": "v"}


@pytest.mark.parametrize("fmt, text, message", [
    ("json", "{", "not valid JSON"),
    ("json", '[{"value": 1}]', "needs at least"),
    ("netscape", "a\tb\n", "expected 7 tab-separated fields"),
    ("netscape", "other.org\tFALSE\t/\tFALSE\t0\tx\ty\n", "no cookies for example.com"),
])
def test_bad_exports_are_one_line_usage_errors(webonly, tmp_path, capsys, fmt, text, message):
    export = tmp_path / "x"
    export.write_text(text)
    assert main(["auth", "import-cookies", "--provider", "webonly", "--format", fmt, str(export)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_provider_without_cookies_is_refused(capsys, tmp_path):
    assert main(["auth", "import-cookies", "--provider", "demo", "--format", "json", str(tmp_path)]) == 2
    assert "takes no cookies" in capsys.readouterr().err
