"""The outbound request policy (docs/RELIABILITY.md "Outbound requests", helpdesk/outbound.py): what is refused at
configuration and at connect time, the ALLOW and DENY lists, DNS rebinding, the
connection going to the checked address, TLS for the configured name."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from helpdesk import outbound
from helpdesk.testing.network import HTTPTestServer, QuietHandler

PUBLIC = "93.184.215.14"  # an address the policy allows (and that the tests never connect to)


def _own(setting_url: str, default_port: int) -> str:
    parts = urlsplit(setting_url)
    return f"http://{parts.hostname}:{parts.port or default_port}/"


def _database_url() -> str:
    database = django_settings.DATABASES["default"]
    if not database.get("HOST") or "sqlite" in database["ENGINE"]:
        pytest.skip("the test database is not reached over TCP")
    return f"http://{database['HOST']}:{database.get('PORT') or 5432}/"


def _broker_url() -> str:
    if not django_settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the broker is not Redis")
    return _own(django_settings.CELERY_BROKER_URL, 6379)


# (URL, what the configuration error says)
REFUSED = [
    ("http://127.0.0.1/", "the address 127.0.0.1 is loopback"),
    ("http://127.1/", "127.1 resolves to 127.0.0.1, which is loopback"),
    ("http://2130706433/", "2130706433 resolves to 127.0.0.1, which is loopback"),
    ("http://0x7f000001/", "0x7f000001 resolves to 127.0.0.1, which is loopback"),
    ("http://0177.0.0.1/", "0177.0.0.1 resolves to 127.0.0.1, which is loopback"),
    ("http://[::1]:8080/", "the address ::1 is loopback"),
    ("http://[::ffff:127.0.0.1]/", "the address ::ffff:127.0.0.1 is loopback"),
    ("http://[::ffff:169.254.169.254]/", "is link-local"),
    ("http://[64:ff9b::7f00:1]/", "is loopback"),  # NAT64 spelling of 127.0.0.1
    ("http://169.254.169.254/latest/meta-data/", "the address 169.254.169.254 is link-local"),
    ("http://[fe80::1]/", "the address fe80::1 is link-local"),
    ("http://[fd00:ec2::254]/", "the address fd00:ec2::254 is a cloud metadata address"),
    ("http://100.100.100.200/", "is a cloud metadata address"),
    ("http://0.0.0.0:8000/", "the address 0.0.0.0 is unspecified"),
    ("http://[::]/", "the address :: is unspecified"),
    ("http://224.0.0.1/", "the address 224.0.0.1 is multicast"),
    ("http://[ff02::1]/", "is multicast"),
    ("http://255.255.255.255/", "is broadcast"),
    ("http://240.0.0.1/", "is reserved"),
    ("https://localhost:8443/x", "localhost resolves to"),
    ("http://LocalHost:9090/", "localhost resolves to"),
]


@pytest.mark.parametrize(("url", "says"), REFUSED)
def test_refused_at_configuration_naming_the_rule(url, says):
    problem = outbound.url_problem(url)
    assert problem is not None and says in problem
    assert "outbound requests to it are refused (list it in HELPDESK_OUTBOUND_ALLOW to allow it)" in problem


@pytest.fixture
def no_sockets(monkeypatch) -> list[tuple]:
    """Every socket the code under test opens is recorded and fails: a refusal
    must come before any connection."""
    opened: list[tuple] = []

    def refuse(*args, **kwargs):
        opened.append(args)
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(outbound.socket, "socket", refuse)
    return opened


@pytest.mark.parametrize(("url", "says"), REFUSED)
def test_refused_at_connect_before_any_connection(url, says, no_sockets):
    with pytest.raises(outbound.OutboundRefused) as refused:
        with outbound.request("GET", url, headers={}, timeout=1):
            pass
    assert refused.value.reason.endswith("address")  # "loopback address": what agents see
    assert no_sockets == []


def test_the_products_own_endpoints_are_refused_even_when_loopback_is_allowed(outbound_allow_loopback, no_sockets):
    for url, what in ((_database_url(), "database (DATABASES)"), (_broker_url(), "broker (CELERY_BROKER_URL)")):
        problem = outbound.url_problem(url)
        assert problem is not None and f"is this server's own {what}" in problem, url
        with pytest.raises(outbound.OutboundRefused) as refused:
            outbound.connect(urlsplit(url).hostname, urlsplit(url).port, timeout=1)
        assert refused.value.reason == f"this server's own {what.split()[0]}"
        # By name too: localhost:<port> is the same endpoint.
        assert "this server's own" in outbound.url_problem(url.replace(urlsplit(url).hostname, "localhost"))
    assert no_sockets == []


def test_a_redis_cache_is_one_of_the_own_endpoints(settings, outbound_allow_loopback):
    redis = _broker_url()  # the test Redis, here as the cache only
    location = django_settings.CELERY_BROKER_URL
    settings.CELERY_BROKER_URL = "memory://"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}}
    assert "this server's own cache (CACHES)" in outbound.url_problem(redis)
    port = urlsplit(redis).port
    assert outbound.url_problem(redis.replace(f":{port}/", f":{port + 1}/")) is None  # another port of that host


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.1/", "https://192.168.1.5:8443/metrics", "http://172.16.0.9/", "http://[fd12:3456::1]/", "http://100.64.0.1/"],
)
def test_private_ranges_are_allowed(url):
    """Monitoring internal services is the point (configuration check only: nothing listens there)."""
    assert outbound.url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.com/x", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("http://", "only http:// and https://"),
        ("http://user:pw@example.com/", "credentials"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://exa mple.com/", "whitespace"),
    ],
)
def test_only_plain_http_urls(url, says):
    assert says in outbound.url_problem(url)


def test_a_name_that_does_not_resolve_yet_is_accepted_at_configuration(monkeypatch):
    """Checked again at connect (where it fails to resolve, or is judged)."""

    def nxdomain(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(outbound.socket, "getaddrinfo", nxdomain)
    assert outbound.url_problem("https://metrics.not-yet.example/") is None
    with pytest.raises(socket.gaierror):
        outbound.connect("metrics.not-yet.example", 443, timeout=1)


def test_one_refused_address_refuses_the_name(monkeypatch):
    """A resolver answering a public and a loopback address: the connection could take either."""
    monkeypatch.setattr(outbound.socket, "getaddrinfo", fake_resolver({"mixed.example": [PUBLIC, "127.0.0.1"]}))
    assert "mixed.example resolves to 127.0.0.1, which is loopback" in outbound.url_problem("http://mixed.example/")


def test_allow_lists_addresses_networks_and_names(settings, monkeypatch):
    monkeypatch.setattr(
        outbound.socket, "getaddrinfo", fake_resolver({"metrics.lab.example": ["127.0.0.5"], "other.example": ["127.0.0.6"]})
    )
    settings.HELPDESK_OUTBOUND_ALLOW = ["127.0.0.2", "169.254.10.0/24", "[::1]", "*.lab.example"]
    assert outbound.url_problem("http://127.0.0.2/") is None
    assert outbound.url_problem("http://169.254.10.7/") is None
    assert outbound.url_problem("http://[::1]/") is None
    assert outbound.url_problem("http://metrics.lab.example/") is None  # a name: whatever it resolves to
    assert "is loopback" in outbound.url_problem("http://127.0.0.3/")
    assert "is link-local" in outbound.url_problem("http://169.254.169.254/")
    assert "is loopback" in outbound.url_problem("http://other.example/")
    settings.HELPDESK_OUTBOUND_ALLOW = "127.0.0.0/8, localhost"  # a comma-separated string works too
    assert outbound.url_problem("http://127.0.0.3/") is None


def test_deny_refuses_more_and_wins_over_allow(settings, monkeypatch):
    monkeypatch.setattr(outbound.socket, "getaddrinfo", fake_resolver({"billing.corp.example": ["10.9.9.9"]}))
    assert outbound.url_problem("http://10.20.0.1/") is None
    settings.HELPDESK_OUTBOUND_DENY = ["10.20.0.0/16", "billing.corp.example"]
    assert "the address 10.20.0.1 is listed in HELPDESK_OUTBOUND_DENY" in outbound.url_problem("http://10.20.0.1/")
    assert "is listed in HELPDESK_OUTBOUND_DENY" in outbound.url_problem("http://billing.corp.example/")
    assert outbound.url_problem("http://10.21.0.1/") is None
    settings.HELPDESK_OUTBOUND_ALLOW = ["10.20.0.0/24"]
    assert "HELPDESK_OUTBOUND_DENY" in outbound.url_problem("http://10.20.0.1/")
    with pytest.raises(outbound.OutboundRefused) as refused:
        outbound.connect("10.20.0.1", 80, timeout=1)
    assert refused.value.reason == "listed in HELPDESK_OUTBOUND_DENY"


def test_a_bad_list_entry_stops_the_system_check(settings):
    settings.HELPDESK_OUTBOUND_ALLOW = ["10.0.0.0/8", "not a host!"]
    with pytest.raises(SystemCheckError, match="HELPDESK_OUTBOUND_ALLOW: 'not a host!' is neither"):
        call_command("check")
    settings.HELPDESK_OUTBOUND_ALLOW = ["10.0.0.0/8", "metrics.example.com"]
    call_command("check")


# --- DNS rebinding and pinning --------------------------------------------------------------------


def fake_resolver(answers: dict[str, list[str]], calls: list[str] | None = None):
    """getaddrinfo answering ``answers[host]`` (a list per call when given a list of lists)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if calls is not None:
            calls.append(host)
        if host not in answers:
            return real(host, port, *args, **kwargs)
        answer = answers[host]
        if answer and isinstance(answer[0], list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        result = []
        for address in answer:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            result.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return result

    return getaddrinfo


class Listener:
    """A TCP port on 127.0.0.1 that only counts the connections it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def connections(self) -> int:
        count = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.sock.close()


def test_dns_rebinding_is_refused_at_connect_and_nothing_reaches_loopback(monkeypatch, listener):
    """Public at configuration, 127.0.0.1 when connecting: refused, and no connection to 127.0.0.1."""
    calls: list[str] = []
    monkeypatch.setattr(
        outbound.socket, "getaddrinfo", fake_resolver({"rebind.example": [[PUBLIC], ["127.0.0.1"]]}, calls)
    )
    url = f"http://rebind.example:{listener.port}/metrics"
    assert outbound.url_problem(url) is None  # configuration: the public address
    with pytest.raises(outbound.OutboundRefused) as refused:
        with outbound.request("GET", url, headers={}, timeout=1):
            pass
    assert refused.value.reason == "loopback address"
    assert calls == ["rebind.example", "rebind.example"]
    assert listener.connections() == 0


class _Recorder(QuietHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        type(self).seen.append({"path": self.path, **dict(self.headers)})
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def http_server() -> Iterator[HTTPTestServer]:
    _Recorder.seen = []
    server = HTTPTestServer(_Recorder)
    yield server
    server.stop()


def test_the_connection_goes_to_the_checked_address_with_the_original_host(settings, monkeypatch, http_server):
    """One lookup per request: a second one (answering an address nothing listens
    on) would make the request fail; the Host header keeps the configured name."""
    settings.HELPDESK_OUTBOUND_ALLOW = ["svc.internal.example"]
    calls: list[str] = []
    monkeypatch.setattr(
        outbound.socket,
        "getaddrinfo",
        fake_resolver({"svc.internal.example": [["127.0.0.1"], ["192.0.2.1"]]}, calls),  # then TEST-NET-1
    )
    port = http_server.port
    with outbound.request("GET", f"http://svc.internal.example:{port}/x?a=1", headers={}, timeout=2) as response:
        assert (response.status, response.read()) == (200, b'{"ok": true}')
    assert calls == ["svc.internal.example"]
    [seen] = _Recorder.seen
    assert (seen["path"], seen["Host"]) == ("/x?a=1", f"svc.internal.example:{port}")


def test_a_redirect_is_returned_not_followed(outbound_allow_loopback, http_server):
    port = http_server.port
    with outbound.request("GET", f"http://127.0.0.1:{port}/moved", headers={}, timeout=2) as response:
        assert (response.status, response.headers["Location"]) == (302, "/elsewhere")
    assert [seen["path"] for seen in _Recorder.seen] == ["/moved"]


# --- TLS is verified for the configured name, not the address connected to ---------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path, list[str]]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for svc.internal.example;
    yields (port, certificate, the SNI names it was asked for)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key), "-out", str(cert),
         "-subj", "/CN=svc.internal.example", "-addext", "subjectAltName=DNS:svc.internal.example"],
        check=True,
        capture_output=True,
    )
    names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name) and None
    _Recorder.seen = []
    server = HTTPTestServer(_Recorder, tls=context)  # quiet about the refused handshake below
    yield server.port, cert, names
    server.stop()


def test_https_verifies_the_certificate_for_the_configured_name(settings, monkeypatch, tls_server):
    port, cert, names = tls_server
    settings.HELPDESK_OUTBOUND_ALLOW = ["127.0.0.0/8", "svc.internal.example"]
    monkeypatch.setattr(outbound.socket, "getaddrinfo", fake_resolver({"svc.internal.example": ["127.0.0.1"]}))
    trusting = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(outbound, "_tls_context", lambda: trusting)
    with outbound.request("GET", f"https://svc.internal.example:{port}/", headers={}, timeout=3) as response:
        assert response.status == 200
    assert names == ["svc.internal.example"]
    # The same server by address: its certificate does not name 127.0.0.1.
    with pytest.raises(ssl.SSLCertVerificationError):
        with outbound.request("GET", f"https://127.0.0.1:{port}/", headers={}, timeout=3):
            pass


def test_origin_is_scheme_host_and_port():
    assert outbound.origin("https://Metrics.Example.com/a?b") == ("https", "metrics.example.com", 443)
    assert outbound.origin("https://metrics.example.com:443/x") == outbound.origin("https://metrics.example.com/")
    assert outbound.origin("http://metrics.example.com/") != outbound.origin("https://metrics.example.com/")
    assert outbound.origin("http://[::1]:8080/") == ("http", "::1", 8080)
