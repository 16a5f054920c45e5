"""One guarded HTTP GET that returns parsed JSON, shared by the HTTP connectors.

Every call goes through the outbound policy (:mod:`helpdesk.outbound`: http/https
only, no credentials in the URL, no loopback, link-local, metadata or own
endpoints, checked after name resolution and connected to the checked address),
sends ``Accept: application/json`` and ``Authorization: Bearer <token>`` when the
source has one, follows no redirect, reads at most :data:`MAX_RESPONSE_BYTES`,
and uses ``source.timeout_seconds`` (t) as the connect timeout, the timeout of
every read and the budget of the whole exchange: the body is not read further
once t has passed since the request started, so a call returns within about 2t
(a read begun just before the budget ran out may wait t more; name resolution is
not bounded by t). Failures become :class:`SourceError`. Their messages reach
every agent (source alert, incident note), so they hold the status, a short
reason and the URL without its query or credentials: never the token, never
what the server answered (an error body is logged at INFO for operators).
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from helpdesk import outbound
from monitoring.connectors.base import SourceError

if TYPE_CHECKING:
    from monitoring.models import MetricSource

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 5 * 1024 * 1024
USER_AGENT = "helpdesk-monitoring/1"
_CHUNK = 64 * 1024
# Read of an error body for the server log; it never reaches agents.
_ERROR_BODY_BYTES = 16 * 1024
_MESSAGE_MAX = 300
# 4xx that say "not now" rather than "wrong request": worth retrying.
_RETRYABLE_4XX = frozenset({408, 425, 429})


def safe_url(url: str) -> str:
    """``scheme://host[:port]/path``: no credentials, no query (it may hold a key)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_url(url: str) -> None:
    """Raise a non-retryable SourceError unless ``url`` is a plain http(s) URL with a host."""
    if not url:
        raise SourceError("the source has no base URL", retryable=False)
    try:
        outbound.parse_url(url)
    except outbound.InvalidURL as exc:
        hint = "; put a bearer token in the source's token" if "credentials" in str(exc) else ""
        raise SourceError(f"{exc}: {safe_url(url)}{hint}", retryable=False) from None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_MAX else text[: _MESSAGE_MAX - 1] + "\u2026"


def _status_line(status: int, where: str) -> str:
    phrase = outbound.status_phrase(status)
    return f"HTTP {status}{' ' + phrase if phrase else ''} from {where}"


def _status_error(response: http.client.HTTPResponse, where: str) -> SourceError:
    """A non-2xx answer as status and a short reason. The body may be an internal
    service's error page: it goes to the server log, not into the message."""
    status = response.status
    message = _status_line(status, where)
    if 300 <= status < 400:
        location = outbound.origin(response.headers.get("Location", ""))
        target = f" to {location[0]}://{location[1]}" if location[1] else ""
        return SourceError(
            f"{message}: redirect{target} not followed; point the source at the final URL", retryable=False
        )
    try:
        body = response.read(_ERROR_BODY_BYTES) or b""
    except (OSError, http.client.HTTPException):
        body = b""
    log.info("%s; body: %s", message, _clip(body.decode("utf-8", errors="replace")))
    return SourceError(message, retryable=status >= 500 or status in _RETRYABLE_4XX)


def _network_error(exc: BaseException, where: str, timeout: int) -> SourceError:
    if isinstance(exc, TimeoutError):
        return SourceError(f"timed out after {timeout} s: {where}", retryable=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SourceError(f"TLS certificate not trusted for {where}: {exc.verify_message}", retryable=False)
    if isinstance(exc, ConnectionRefusedError):
        return SourceError(f"connection refused: {where}", retryable=True)
    if isinstance(exc, socket.gaierror):
        return SourceError(f"cannot resolve the host of {where}: {exc.strerror or exc}", retryable=True)
    if isinstance(exc, http.client.HTTPException):
        # Its text may quote what the server sent (BadStatusLine): the class name only.
        return SourceError(f"cannot read {where}: {type(exc).__name__}", retryable=True)
    return SourceError(f"cannot read {where}: {_clip(str(exc) or type(exc).__name__)}", retryable=True)


def _read_capped(response: http.client.HTTPResponse, where: str, deadline: float, timeout: int) -> bytes:
    length = response.headers.get("Content-Length")
    if length and length.isascii() and length.isdigit() and int(length) > MAX_RESPONSE_BYTES:  # "²".isdigit()
        raise SourceError(f"response of {where} is larger than {MAX_RESPONSE_BYTES} bytes", retryable=False)
    chunks: list[bytes] = []
    size = 0
    while True:
        # Each read waits at most `timeout` (the socket's); the deadline, counted
        # from the request's start, stops a source that trickles bytes from holding
        # a worker indefinitely.
        if time.monotonic() > deadline:
            raise SourceError(f"timed out after {timeout} s reading the response of {where}", retryable=True)
        chunk = response.read1(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise SourceError(f"response of {where} is larger than {MAX_RESPONSE_BYTES} bytes", retryable=False)
        chunks.append(chunk)


def get_body(source: MetricSource, url: str) -> bytes:
    """GET ``url`` for ``source`` and return the body of a 2xx answer."""
    check_url(url)
    where = safe_url(url)
    timeout = int(source.timeout_seconds)
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if source.token:
        headers["Authorization"] = f"Bearer {source.token}"
    deadline = time.monotonic() + timeout
    try:
        with outbound.request("GET", url, headers=headers, timeout=timeout) as response:
            if not 200 <= response.status < 300:  # 1xx never gets here; 3xx is not followed
                raise _status_error(response, where)
            return _read_capped(response, where, deadline, timeout)
    except SourceError:
        raise
    except outbound.OutboundRefused as exc:
        raise SourceError(f"refused by the outbound policy: {exc.reason}: {where}", retryable=False) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _network_error(exc, where, timeout) from None


def get_json(source: MetricSource, url: str) -> Any:
    """GET ``url`` and parse the body as JSON; a body that is not JSON is a
    configuration error (wrong URL or not the expected service)."""
    body = get_body(source, url)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"response of {safe_url(url)} is not JSON: {_clip(str(exc))}", retryable=False) from None
