import socket

import pytest
from fakeserver import fixture, run_fetch

from openusage.providers.base import AccountConfig, ProviderError
from openusage.providers.ollama import OllamaProvider, normalize_host


def routes(srv):
    srv.route("GET", "/api/ps", body=fixture("ollama", "ps"))
    srv.route("GET", "/api/tags", body=fixture("ollama", "tags"))
    srv.route("GET", "/api/version", body=fixture("ollama", "version"))


def fetch(base_url=None, environ=None, **extra):
    acct = AccountConfig(id="ollama", provider="ollama", base_url=base_url, extra=extra)
    return run_fetch(OllamaProvider(), acct, environ or {})


def test_loaded_and_installed_models(server):
    routes(server)
    snap = fetch(server.url)
    assert snap.status == "OK" and snap.message == "1 loaded, 2 installed"
    loaded = snap.extras["loaded_models"][0]
    assert loaded == {"name": "llama3.2:latest", "size": 3619138560, "size_vram": 3619138560,
                      "expires_at": "2026-11-22T12:05:00.000000-08:00", "context_length": 4096,
                      "family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"}
    assert snap.extras["vram_bytes"] == 3619138560 and snap.extras["version"] == "0.12.6"
    cloud = snap.extras["installed_models"][1]
    assert cloud["remote_host"] == "https://ollama.com:443" and cloud["parameter_size"] == "116.8B"
    assert snap.extras["installed_count"] == 2 and snap.extras["base_url"] == server.url
    assert snap.spend is None and snap.tokens is None and snap.currency is None
    assert all("authorization" not in r.headers for r in server.requests)


def test_ollama_host_is_used_without_a_base_url(server):
    routes(server)
    port = server.url.rsplit(":", 1)[1]
    snap = fetch(environ={"OLLAMA_HOST": f"127.0.0.1:{port}"})
    assert snap.extras["base_url"] == server.url


def test_an_old_server_without_version_still_works(server):
    routes(server)
    server.route("GET", "/api/version", status=404, body={"error": "404 page not found"})
    snap = fetch(server.url)
    assert snap.status == "OK" and "version" not in snap.extras


def test_nothing_loaded(server):
    routes(server)
    server.route("GET", "/api/ps", body={"models": []})
    snap = fetch(server.url)
    assert snap.extras["loaded_count"] == 0 and snap.extras["vram_bytes"] == 0


def test_server_not_running_is_err():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ProviderError) as info:
        fetch(f"http://127.0.0.1:{port}")
    assert info.value.status == "ERR" and info.value.message.startswith(f"Ollama is not answering at http://127.0.0.1:{port}")


def test_errors_timeouts_and_malformed_json(server):
    routes(server)
    server.route("GET", "/api/tags", status=500, body={"error": "boom"})
    with pytest.raises(ProviderError, match="installed models failed: server error 500"):
        fetch(server.url)
    server.route("GET", "/api/tags", raw=b"[oops")
    with pytest.raises(ProviderError, match="installed models is not valid JSON"):
        fetch(server.url)
    server.route("GET", "/api/ps", delay=3)
    with pytest.raises(ProviderError, match="not answering.*timed out"):
        fetch(server.url, timeout_seconds=0.3)


@pytest.mark.parametrize("value, url", [
    (None, "http://127.0.0.1:11434"),
    ("", "http://127.0.0.1:11434"),
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("0.0.0.0:8080", "http://127.0.0.1:8080"),
    ("myhost", "http://myhost:11434"),
    ("myhost:1234", "http://myhost:1234"),
    ("http://myhost", "http://myhost:80"),
    ("https://ollama.example.com", "https://ollama.example.com:443"),
    ("https://ollama.example.com:8443/base/", "https://ollama.example.com:8443/base"),
    ("[::1]:9000", "http://[::1]:9000"),
    ("::1", "http://[::1]:11434"),
])
def test_normalize_host(value, url):
    assert normalize_host(value) == url


def test_detection():
    p = OllamaProvider()
    assert p.detect({}, "/h", lambda n: "/usr/local/bin/ollama" if n == "ollama" else None)[0].detected_by == \
        "path:/usr/local/bin/ollama"
    assert p.detect({"OLLAMA_HOST": "0.0.0.0"}, "/h", lambda n: None)[0].detected_by == "env:OLLAMA_HOST"
    assert p.detect({}, "/h", lambda n: None) == []
