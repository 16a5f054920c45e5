"""One guarded HTTP GET that returns parsed JSON, shared by the HTTP connectors.

Every call: http/https only, no credentials in the URL, ``Accept:
application/json``, ``Authorization: Bearer <token>`` when the source has one,
redirects not followed, at most :data:`MAX_RESPONSE_BYTES` read, and
``source.timeout_seconds`` (t) as the connect timeout, the timeout of every read
and the budget of the whole exchange: the body is not read further once t has
passed since the request started, so a call returns within about 2t (a read
begun just before the budget ran out may wait t more; name resolution is not
bounded by t). Failures become :class:`SourceError`; error
messages name the URL without its query or credentials, never the token.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from monitoring.connectors.base import SourceError

if TYPE_CHECKING:
    from monitoring.models import MetricSource

MAX_RESPONSE_BYTES = 5 * 1024 * 1024
USER_AGENT = "helpdesk-monitoring/1"
_CHUNK = 64 * 1024
# Enough of an error body to quote the source's own explanation.
_ERROR_BODY_BYTES = 16 * 1024
_MESSAGE_MAX = 300
# 4xx that say "not now" rather than "wrong request": worth retrying.
_RETRYABLE_4XX = frozenset({408, 425, 429})


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the 3xx it is: a moved endpoint is a configuration
    error to fix in base_url, and following it could carry the token elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


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
    if any(ch.isspace() for ch in url):
        raise SourceError("the base URL must not contain whitespace", retryable=False)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError:
        raise SourceError(f"not a valid URL: {safe_url(url)}", retryable=False) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(
            f"only http:// and https:// URLs with a host can be polled, not {parts.scheme}:", retryable=False
        )
    if parts.username is not None or parts.password is not None:
        raise SourceError(
            "credentials in the URL are not sent; put a bearer token in the source's token", retryable=False
        )


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_MAX else text[: _MESSAGE_MAX - 1] + "\u2026"


def _error_detail(body: bytes) -> str:
    """The source's own explanation from an error body: a JSON ``error``/``message``
    field (Prometheus sends ``{"status": "error", "error": ...}``), else the text."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return _clip(text)
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            if isinstance(data.get(key), str):
                return _clip(data[key])
    return _clip(text)


def _http_error(exc: urllib.error.HTTPError, where: str) -> SourceError:
    try:
        detail = _error_detail(exc.read(_ERROR_BODY_BYTES) or b"")
    except (OSError, http.client.HTTPException):
        detail = ""
    finally:
        exc.close()
    status = exc.code
    message = f"HTTP {status} from {where}"
    if 300 <= status < 400:
        location = exc.headers.get("Location", "") if exc.headers else ""
        target = f" to {safe_url(location)}" if location else ""
        return SourceError(
            f"{message}: redirect{target} not followed; point the source at the final URL", retryable=False
        )
    if detail:
        message = f"{message}: {detail}"
    return SourceError(message, retryable=status >= 500 or status in _RETRYABLE_4XX)


def _network_error(exc: BaseException, where: str, timeout: int) -> SourceError:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return SourceError(f"timed out after {timeout} s: {where}", retryable=True)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return SourceError(f"TLS certificate not trusted for {where}: {reason.verify_message}", retryable=False)
    if isinstance(reason, ConnectionRefusedError):
        return SourceError(f"connection refused: {where}", retryable=True)
    if isinstance(reason, socket.gaierror):
        return SourceError(f"cannot resolve the host of {where}: {reason.strerror or reason}", retryable=True)
    return SourceError(f"cannot read {where}: {_clip(str(reason) or type(reason).__name__)}", retryable=True)


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
    request = urllib.request.Request(url, method="GET", headers=headers)
    deadline = time.monotonic() + timeout
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
            if not 200 <= status < 300:  # anything urllib passes through that is not a success
                raise SourceError(f"HTTP {status} from {where}", retryable=status >= 500)
            return _read_capped(response, where, deadline, timeout)
    except SourceError:
        raise
    except urllib.error.HTTPError as exc:  # 3xx (not followed), 4xx, 5xx
        raise _http_error(exc, where) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _network_error(exc, where, timeout) from None


def get_json(source: MetricSource, url: str) -> Any:
    """GET ``url`` and parse the body as JSON; a body that is not JSON is a
    configuration error (wrong URL or not the expected service)."""
    body = get_body(source, url)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"response of {safe_url(url)} is not JSON: {_clip(str(exc))}", retryable=False) from None
