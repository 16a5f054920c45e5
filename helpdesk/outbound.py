"""The outbound request policy (docs/RELIABILITY.md "Outbound requests"): every connection the server opens because a
user configured an address (metric sources, webhooks, the IMAP client) goes through here.

Refused, whatever the spelling of the address (``127.1``, ``2130706433``,
``0x7f000001``, ``[::ffff:127.0.0.1]`` are resolved first and judged as the
address they are): loopback, link-local (169.254.0.0/16 and fe80::/10: the cloud
metadata service lives there), the metadata addresses outside it
(``fd00:ec2::254``, Alibaba's ``100.100.100.200``), unspecified (0.0.0.0/8, ::),
multicast, reserved and broadcast, IPv4-mapped and NAT64 forms of those, and the
product's own endpoints (the host:port of the database, the broker and a Redis
cache). Private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) are allowed:
monitoring internal services is the point.

``HELPDESK_OUTBOUND_DENY`` and ``HELPDESK_OUTBOUND_ALLOW`` (comma-separated CIDRs,
addresses, host names, ``*.example.com`` for every name under a domain) adjust
it. The order, first match wins: DENY refuses; the product's own endpoints are
refused (ALLOW cannot open them: nothing legitimate speaks HTTP to the broker);
ALLOW lets through; the classes above refuse; anything else is allowed.

The check runs twice. At configuration (:func:`url_problem`) the host is
resolved and every address judged; a name that does not resolve yet is accepted
(the connect-time check is the guarantee, and a service being set up or a name
only the workers' resolver knows should not block saving). At connect
(:func:`connect`, :func:`request`) the host is resolved once more, every address
judged, and the socket connects to exactly those addresses: no second lookup, so
a name that answers a public address to the first check and 127.0.0.1 afterwards
(DNS rebinding) gains nothing. HTTPS still verifies the certificate for the
configured host name (SNI and hostname check use the name, not the address).
Redirects are never followed (http.client does not). Environment proxies
(``http_proxy``) are not used: the policy must see the address connected to.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from http import HTTPStatus
from typing import Any
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOW_SETTING = "HELPDESK_OUTBOUND_ALLOW"
DENY_SETTING = "HELPDESK_OUTBOUND_DENY"
# The cloud metadata services that are not link-local (169.254.169.254 is).
METADATA_NETWORKS = (ipaddress.ip_network("fd00:ec2::254/128"), ipaddress.ip_network("100.100.100.200/32"))
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # Linux connects 0.0.0.0 to the local host
_BROADCAST = ipaddress.ip_address("255.255.255.255")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# How long the resolved addresses of the product's own endpoints are reused.
_ENDPOINT_TTL_SECONDS = 60.0


class InvalidURL(ValueError):
    """Not a URL the server may fetch (scheme, host, credentials, spelling)."""


class OutboundRefused(Exception):
    """The policy refuses this address.

    ``reason`` is short and safe to show anyone ("loopback address");
    ``message`` names the address and the rule, for the person configuring it.
    """

    def __init__(self, *, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# --- URLs --------------------------------------------------------------------------------------


def parse_url(url: str) -> SplitResult:
    """``url`` split, if it is a plain http(s) URL with a host and no credentials; else InvalidURL."""
    if not url:
        raise InvalidURL("the URL is empty")
    if any(ch.isspace() for ch in url):
        raise InvalidURL("the URL must not contain whitespace")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError:
        raise InvalidURL("not a valid URL") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise InvalidURL("only http:// and https:// URLs with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidURL("credentials do not belong in the URL")
    return parts


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in: where a
    credential entered for ``url`` may be sent. Unparseable URLs give their text."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return (url, "", None)
    return (parts.scheme.lower(), (parts.hostname or "").rstrip("."), port)


# --- the lists in the settings ------------------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    networks: tuple[IPNetwork, ...]
    names: frozenset[str]
    suffixes: tuple[str, ...]  # ".example.com" for "*.example.com"

    def matches(self, host: str, address: IPAddress | None) -> bool:
        if host in self.names or any(host.endswith(suffix) for suffix in self.suffixes):
            return True
        return address is not None and any(
            address.version == network.version and address in network for network in self.networks
        )


def _entries(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else (value or ())
    return tuple(item.strip() for item in items if str(item).strip())


@lru_cache(maxsize=16)
def _parse_rules(name: str, entries: tuple[str, ...]) -> _Rules:
    networks: list[IPNetwork] = []
    names: set[str] = set()
    suffixes: list[str] = []
    for entry in entries:
        text = entry.strip().lower().rstrip(".")
        try:
            networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        bare = text.removeprefix("*.")
        labels = bare.split(".")
        if not bare or not all(
            label and len(label) < 64 and label.replace("-", "").replace("_", "").isalnum() and label.isascii()
            for label in labels
        ):
            raise ImproperlyConfigured(f"{name}: {entry!r} is neither a CIDR, an address nor a host name")
        if text.startswith("*."):
            suffixes.append("." + bare)
        else:
            names.add(bare)
    return _Rules(tuple(networks), frozenset(names), tuple(suffixes))


def _rules(name: str) -> _Rules:
    return _parse_rules(name, _entries(getattr(settings, name, ())))


def settings_problems() -> list[str]:
    """What is wrong with HELPDESK_OUTBOUND_ALLOW / _DENY (for the system check)."""
    problems = []
    for name in (ALLOW_SETTING, DENY_SETTING):
        try:
            _rules(name)
        except ImproperlyConfigured as exc:
            problems.append(str(exc))
    return problems


# --- the product's own endpoints --------------------------------------------------------------


def _endpoint_urls() -> list[tuple[str, str, int]]:
    """(what, host, port) of the database, the broker(s) and a Redis cache."""
    found: list[tuple[str, str, int]] = []
    database = settings.DATABASES.get("default", {})
    host = str(database.get("HOST") or "")
    if host and not host.startswith("/") and "sqlite" not in str(database.get("ENGINE", "")):
        default_port = 3306 if "mysql" in str(database.get("ENGINE", "")) else 5432
        found.append(("database (DATABASES)", host, int(database.get("PORT") or default_port)))
    broker_ports = {"redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671, "pyamqp": 5672, "sentinel": 26379}
    for url in str(getattr(settings, "CELERY_BROKER_URL", "") or "").split(";"):
        found.extend(_url_endpoint("broker (CELERY_BROKER_URL)", url, broker_ports))
    for cache in getattr(settings, "CACHES", {}).values():
        locations = cache.get("LOCATION") or []
        for url in [locations] if isinstance(locations, str) else locations:
            found.extend(_url_endpoint("cache (CACHES)", url, {"redis": 6379, "rediss": 6379}))
    return found


def _url_endpoint(what: str, url: str, ports: dict[str, int]) -> list[tuple[str, str, int]]:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return []
    if parts.scheme not in ports or not parts.hostname:
        return []
    return [(what, parts.hostname.lower(), port or ports[parts.scheme])]


_endpoint_cache: dict[tuple[tuple[str, str, int], ...], tuple[float, list[tuple[str, str, IPAddress | None, int]]]] = {}


def _own_endpoints() -> list[tuple[str, str, IPAddress | None, int]]:
    """(what, host, address, port) for every address the endpoints resolve to,
    resolved at most once a minute per process."""
    key = tuple(_endpoint_urls())
    cached = _endpoint_cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < _ENDPOINT_TTL_SECONDS:
        return cached[1]
    resolved: list[tuple[str, str, IPAddress | None, int]] = []
    for what, host, port in key:
        resolved.append((what, host, None, port))  # by name too: the name may not resolve here
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            continue
        resolved.extend((what, host, _plain(info[4][0]), port) for info in infos)
    _endpoint_cache.clear()
    _endpoint_cache[key] = (time.monotonic(), resolved)
    return resolved


# --- judging one address ------------------------------------------------------------------------


def _plain(text: str) -> IPAddress:
    """The address without a scope id, IPv4-mapped IPv6 as the IPv4 address it is."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _literal(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is written as one (a zone id allowed)."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def address_class(address: IPAddress) -> str | None:
    """The refused class of ``address`` ("loopback", "link-local", ...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address_class(address.ipv4_mapped)
        if address in _NAT64:  # 64:ff9b::7f00:1 is 127.0.0.1 through a NAT64 gateway
            return address_class(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if any(address.version == network.version and address in network for network in METADATA_NETWORKS):
        return "cloud metadata"
    if address.is_unspecified or (address.version == 4 and address in _THIS_NETWORK):
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address == _BROADCAST:
        return "broadcast"
    if address.is_reserved:
        return "reserved"
    return None


def check_address(host: str, address: IPAddress, port: int) -> None:
    """Raise OutboundRefused unless the policy lets ``host`` at ``address``:``port`` through."""
    host = host.lower().rstrip(".")
    address = _plain(str(address))
    named = _literal(host) is None
    subject = f"{host} resolves to {address}, which" if named else f"the address {host}"
    if _rules(DENY_SETTING).matches(host, address):
        raise OutboundRefused(
            reason=f"listed in {DENY_SETTING}",
            message=f"{subject} is listed in {DENY_SETTING}; outbound requests to it are refused",
        )
    for what, endpoint_host, endpoint_address, endpoint_port in _own_endpoints():
        if port == endpoint_port and (address == endpoint_address or host == endpoint_host):
            raise OutboundRefused(
                reason=f"this server's own {what.split(' ')[0]}",
                message=(f"{host}:{port} is this server's own {what}; outbound requests to it are always refused"),
            )
    if _rules(ALLOW_SETTING).matches(host, address):
        return
    kind = address_class(address)
    if kind is not None:
        described = "a cloud metadata address" if kind == "cloud metadata" else kind
        raise OutboundRefused(
            reason=f"{kind} address",
            message=(
                f"{subject} is {described}; outbound requests to it are refused"
                f" (list it in {ALLOW_SETTING} to allow it)"
            ),
        )


def resolve(host: str, port: int) -> list[tuple[int, tuple[Any, ...]]]:
    """(family, sockaddr) for every address ``host`` resolves to, each judged by
    the policy: one refused address refuses the host (a resolver may answer a
    public and a loopback address, and the connection could take either).
    Raises OutboundRefused, or OSError (socket.gaierror) when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except UnicodeError:
        raise socket.gaierror(socket.EAI_NONAME, "not a valid host name") from None
    addresses: list[tuple[int, tuple[Any, ...]]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        check_address(host, _plain(sockaddr[0]), port)
        if (family, sockaddr) not in addresses:
            addresses.append((family, sockaddr))
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no IPv4 or IPv6 address")
    return addresses


def url_problem(url: str) -> str | None:
    """Why the server may not fetch ``url``, for a 400 at configuration time, or
    None. A host that does not resolve yet passes (it is checked again at connect)."""
    try:
        parts = parse_url(url)
    except InvalidURL as exc:
        return str(exc)
    return host_problem(parts.hostname or "", parts.port or DEFAULT_PORTS[parts.scheme])


def host_problem(host: str, port: int) -> str | None:
    """Why the server may not connect to ``host``:``port`` (a protocol other than
    HTTP, such as IMAP), for a 400 at configuration time, or None. A host that does
    not resolve yet passes (it is checked again at connect)."""
    try:
        if (literal := _literal(host)) is not None:
            check_address(host, literal, port)  # judged even where it would not resolve
        resolve(host, port)
    except (InvalidURL, OutboundRefused) as exc:
        return str(exc)
    except (OSError, UnicodeError):
        return None
    return None


# --- connecting -------------------------------------------------------------------------------------


def connect(host: str, port: int, *, timeout: float | None) -> socket.socket:
    """A TCP socket to ``host``:``port`` if the policy allows every address the
    host resolves to, connected to one of exactly those addresses (no second
    lookup). The entry point for clients that are not HTTP (IMAP: wrap the socket
    with TLS for ``host`` yourself). Raises OutboundRefused or OSError."""
    error: OSError | None = None
    for family, sockaddr in resolve(host, port):
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    assert error is not None  # resolve() returns at least one address
    raise error


class _CheckedConnectionMixin:
    """http.client connections whose socket comes from :func:`connect`: the Host
    header and TLS (SNI, certificate name) keep the configured host name."""

    host: str
    port: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # http.client's own hook for opening the socket (HTTPSConnection wraps its result in TLS).
        self._create_connection = self._create_checked_connection

    def _create_checked_connection(
        self, address: tuple[str, int], timeout: float | None = None, source_address: Any = None
    ) -> socket.socket:
        return connect(self.host, self.port, timeout=timeout)


class CheckedHTTPConnection(_CheckedConnectionMixin, http.client.HTTPConnection):
    pass


class CheckedHTTPSConnection(_CheckedConnectionMixin, http.client.HTTPSConnection):
    pass


@lru_cache(maxsize=1)
def status_phrase(status: int) -> str:
    """The standard reason phrase of ``status`` ("" for a code HTTP does not define): what
    agents read about a fetched service's answer, never the service's own words."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _tls_context() -> ssl.SSLContext:
    """The system's trust store, verifying host names; built once (loading the CA
    bundle costs milliseconds per poll otherwise). Safe to share between threads."""
    return ssl.create_default_context()


@contextlib.contextmanager
def request(
    method: str, url: str, *, headers: dict[str, str], body: bytes | None = None, timeout: float
) -> Iterator[http.client.HTTPResponse]:
    """Send one request under the policy and yield the response, whatever its
    status (a 3xx is returned, never followed). ``timeout`` bounds the connect
    and each read. Raises InvalidURL, OutboundRefused, OSError or
    http.client.HTTPException. The connection is closed on exit."""
    parts = parse_url(url)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = CheckedHTTPSConnection(
            host, port, timeout=timeout, context=_tls_context()
        )
    else:
        connection = CheckedHTTPConnection(host, port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, target, body=body, headers={**headers, "Connection": "close"})
        response = connection.getresponse()
        yield response
    finally:
        connection.close()
