"""Connectors against real servers: a small HTTP server of the test's own for the
retrace and json kinds, a real Prometheus for the prometheus kind, the real
simulator module for the simulator kind. No database: unsaved model instances."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import override_settings

from helpdesk.testing.network import HTTPTestServer, QuietHandler, free_port
from helpdesk.testing.processes import Proc
from helpdesk.testing.waiting import wait_until
from helpdesk.testing.workers import OUTBOUND_ALLOW_LOOPBACK
from monitoring import connectors
from monitoring.connectors import ExternalAlert, Reading, SourceError, fetch, transport
from monitoring.connectors.jsonpath import value_at
from monitoring.connectors.prometheus import value_of
from monitoring.models import Direction, MetricSource, Monitor, SourceKind

AT = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)
# The stub servers and Prometheus listen on 127.0.0.1, which the outbound policy refuses unless
# allowed (the policy itself is tested in helpdesk/tests/test_outbound.py).
pytestmark = pytest.mark.usefixtures("outbound_allow_loopback")

DASHBOARD = {
    "app": "shop",
    "environment": "production",
    "satisfaction": 0.93,
    "avg_response_ms": 312.5,
    "requests_per_minute": 1840,
    "error_rate": "0.8",
    "cpu_pct": None,
    "memory_pct": 61.2,
    "alerts": [
        {"monitor": "Response time", "severity": "critical", "since": "2025-01-06T13:52:00Z", "value": 1250.0},
        {"monitor": "Errors", "severity": "Info", "since": 1736171400, "value": "n/a"},
        {"monitor": "Down", "severity": "OUTAGE", "since": "yesterday"},
    ],
}


def source(kind: str, base_url: str = "", *, token: str = "", timeout: int = 1, options: Any = None) -> MetricSource:
    return MetricSource(
        name=f"{kind} test", kind=kind, base_url=base_url, token=token, timeout_seconds=timeout, options=options or {}
    )


def monitor(query: str, direction: str = Direction.ABOVE) -> Monitor:
    return Monitor(name="test monitor", query=query, direction=direction)


def error_of(call: Callable[[], Any]) -> SourceError:
    with pytest.raises(SourceError) as info:
        call()
    return info.value


# --- a small HTTP server of the test's own -------------------------------------------------------


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before answering
    trickle: float = 0.0  # seconds between body bytes, no Content-Length
    length: bool = True  # send Content-Length


class StubServer:
    """Answers each path as told in ``routes``; records every request it gets."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stop = threading.Event()
        stub = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 -- http.server's name
                stub.requests.append((self.path, dict(self.headers)))
                route = stub.routes.get(self.path.split("?")[0], Route(status=404, body=b"not found"))
                if route.delay and stub.stop.wait(route.delay):
                    return
                try:
                    self.send_response(route.status)
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    if route.length and not route.trickle:
                        self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    if route.trickle:
                        for byte in route.body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            if stub.stop.wait(route.trickle):
                                return
                    else:
                        self.wfile.write(route.body)
                except OSError:
                    pass  # the client gave up (a timeout test): nothing to answer

        self.server = HTTPTestServer(Handler)
        self.url = self.server.url()

    def json(self, path: str, data: Any, status: int = 200, **extra: Any) -> str:
        self.routes[path] = Route(status=status, body=json.dumps(data).encode(), **extra)
        return self.url + path

    def close(self) -> None:
        self.stop.set()
        self.server.stop()


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


# --- the interface -------------------------------------------------------------------------------


def test_the_package_exports_one_interface():
    assert connectors.fetch is fetch
    assert {"ExternalAlert", "Reading", "SourceError", "fetch"} <= set(connectors.__all__)
    reading = Reading(value=1.0, at=AT)
    assert reading.alerts == ()
    with pytest.raises(AttributeError):
        reading.value = 2.0  # type: ignore[misc]
    alert = ExternalAlert(name="x", severity="warning", since=None, value=None, labels={"monitor": "x"})
    assert hash(Reading(value=None, at=AT, alerts=(alert,)))  # usable in sets and as keys
    error = SourceError("boom", retryable=True)
    assert (str(error), error.message, error.retryable) == ("boom", "boom", True)
    with pytest.raises(TypeError):
        SourceError("boom", True)  # type: ignore[misc]  # retryable is keyword-only


@pytest.mark.parametrize("kind", [SourceKind.ALERTMANAGER, SourceKind.PUSH, "ftp"])
def test_push_and_unknown_kinds_are_not_fetched(kind):
    with pytest.raises(ValueError, match="not polled"):
        fetch(source(kind), monitor("x"), AT)


def test_the_poll_time_must_be_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        fetch(source(SourceKind.SIMULATOR), monitor("cpu_pct"), AT.replace(tzinfo=None))


# --- retrace --------------------------------------------------------------------------------------


def test_retrace_reads_the_named_metric_and_the_dashboard_alerts(stub):
    url = stub.json("/dashboard", DASHBOARD)
    reading = fetch(source(SourceKind.RETRACE, url), monitor("avg_response_ms"), AT)

    assert reading.value == 312.5
    assert reading.at == AT
    assert reading.alerts == (
        ExternalAlert(
            name="Response time",
            severity="critical",
            since=datetime(2025, 1, 6, 13, 52, tzinfo=UTC),
            value=1250.0,
            labels={"monitor": "Response time"},
        ),
        ExternalAlert(
            name="Errors",
            severity="warning",  # "Info" and anything unknown: a warning
            since=datetime(2025, 1, 6, 13, 50, tzinfo=UTC),  # Unix seconds
            value=None,
            labels={"monitor": "Errors"},
        ),
        ExternalAlert(name="Down", severity="outage", since=None, value=None, labels={"monitor": "Down"}),
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("satisfaction", 0.93),
        ("requests_per_minute", 1840.0),
        ("error_rate", 0.8),  # a numeric string
        ("cpu_pct", None),  # null
        ("disk_pct", None),  # absent
        ("app", None),  # not a number
        ("alerts", None),
    ],
)
def test_retrace_metric_values(stub, query, expected):
    url = stub.json("/dashboard", DASHBOARD)
    assert fetch(source(SourceKind.RETRACE, url), monitor(query), AT).value == expected


def test_retrace_without_alerts_has_none(stub):
    url = stub.json("/dashboard", {"app": "shop", "cpu_pct": 12})
    reading = fetch(source(SourceKind.RETRACE, url), monitor("cpu_pct"), AT)
    assert (reading.value, reading.alerts) == (12.0, ())


@pytest.mark.parametrize(
    "body",
    [
        [1, 2, 3],
        {"cpu_pct": 1, "alerts": {"monitor": "x"}},
        {"cpu_pct": 1, "alerts": [{"severity": "critical"}]},
        {"cpu_pct": 1, "alerts": ["High CPU"]},
    ],
)
def test_retrace_rejects_a_body_that_breaks_the_contract(stub, body):
    url = stub.json("/dashboard", body)
    error = error_of(lambda: fetch(source(SourceKind.RETRACE, url), monitor("cpu_pct"), AT))
    assert error.retryable is False


# --- json -----------------------------------------------------------------------------------------


def test_json_follows_a_dotted_path(stub):
    url = stub.json("/status", {"metrics": {"avg_response_ms": 212, "queues": [{"depth": "17"}, {"depth": 4}]}})
    json_source = source(SourceKind.JSON, url)
    assert fetch(json_source, monitor("metrics.avg_response_ms"), AT) == Reading(value=212.0, at=AT)
    assert fetch(json_source, monitor("metrics.queues.0.depth"), AT).value == 17.0
    assert fetch(json_source, monitor("metrics.queues.-1.depth"), AT).value == 4.0
    assert fetch(json_source, monitor("metrics.queues.2.depth"), AT).value is None
    assert fetch(json_source, monitor("metrics.missing"), AT).value is None
    assert fetch(json_source, monitor("metrics"), AT).value is None  # an object is not a number


@pytest.mark.parametrize(
    ("document", "path", "expected"),
    [
        ({"a": {"b": 1.5}}, "a.b", 1.5),
        ({"a": [10, 20]}, "a.1", 20.0),
        ({"a": {"0": 3}}, "a.0", 3.0),  # on an object a number is a key
        ([5, 6], "0", 5.0),
        (7, "", 7.0),  # the whole document
        ({"a": " 42 "}, "a", 42.0),
        ({"a": "1e3"}, "a", 1000.0),
        ({"a": True}, "a", 1.0),
        ({"a": "high"}, "a", None),
        ({"a": None}, "a", None),
        ({"a": "NaN"}, "a", None),
        ({"a": "Infinity"}, "a", None),
        ({"a": [1]}, "a.x", None),
        ({"a": 1}, "a.b", None),
        ({"a": [1]}, "a.1", None),
        ({"a": {"b": 1}}, "a..b", None),
    ],
)
def test_json_paths(document, path, expected):
    assert value_at(document, path) == expected


# --- HTTP behaviour shared by the HTTP connectors ------------------------------------------------


@pytest.mark.parametrize("kind", [SourceKind.RETRACE, SourceKind.JSON])
def test_headers_carry_the_token_and_ask_for_json(stub, kind):
    url = stub.json("/data", {"cpu_pct": 1})
    fetch(source(kind, url, token="s3cret"), monitor("cpu_pct"), AT)
    fetch(source(kind, url), monitor("cpu_pct"), AT)

    (_, with_token), (_, without_token) = stub.requests
    assert with_token["Authorization"] == "Bearer s3cret"
    assert with_token["Accept"] == "application/json"
    assert "Authorization" not in without_token
    assert without_token["Accept"] == "application/json"


@pytest.mark.parametrize("kind", [SourceKind.RETRACE, SourceKind.JSON])
@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (403, False), (404, False), (429, True), (500, True), (503, True)],
)
def test_http_errors(stub, kind, status, retryable):
    url = stub.json("/data", {"error": "no such dashboard"}, status=status)
    error = error_of(lambda: fetch(source(kind, url, token="s3cret"), monitor("cpu_pct"), AT))
    assert error.retryable is retryable
    assert error.message.startswith(f"HTTP {status} ")
    assert error.message.endswith(f" from {stub.url}/data")
    # The status and its standard phrase only: what the server answered stays out
    # of messages every agent reads (docs/RELIABILITY.md "Outbound requests").
    assert "no such dashboard" not in error.message
    assert "s3cret" not in error.message


def test_a_missing_page_is_a_configuration_error(stub):
    error = error_of(lambda: fetch(source(SourceKind.RETRACE, stub.url + "/nowhere"), monitor("cpu_pct"), AT))
    assert (error.retryable, error.message.startswith("HTTP 404")) == (False, True)


def test_a_timeout_is_retryable_and_bounded(stub):
    url = stub.json("/slow", DASHBOARD, delay=3)
    started = time.monotonic()
    error = error_of(lambda: fetch(source(SourceKind.RETRACE, url, timeout=1), monitor("cpu_pct"), AT))
    assert error.retryable is True
    assert "timed out after 1 s" in error.message
    assert time.monotonic() - started < 2.5


def test_a_trickling_body_is_cut_off_by_the_timeout(stub):
    # Each byte comes well within the read timeout; the whole body would take 10 s.
    stub.routes["/trickle"] = Route(body=b'{"cpu_pct": 1}' + b" " * 20, trickle=0.3)
    started = time.monotonic()
    error = error_of(lambda: fetch(source(SourceKind.JSON, stub.url + "/trickle", timeout=1), monitor("cpu_pct"), AT))
    assert error.retryable is True
    assert "timed out" in error.message
    assert time.monotonic() - started < 3


def test_refused_connection_is_retryable():
    url = f"http://127.0.0.1:{free_port()}/dashboard"
    error = error_of(lambda: fetch(source(SourceKind.RETRACE, url), monitor("cpu_pct"), AT))
    assert error.retryable is True
    assert "refused" in error.message


@pytest.mark.parametrize("body", [b"<html>Login</html>", b'{"cpu_pct": ', b"\xff\xfe\x00garbage"])
def test_a_body_that_is_not_json_is_a_configuration_error(stub, body):
    stub.routes["/data"] = Route(body=body, headers={"Content-Type": "text/html"})
    error = error_of(lambda: fetch(source(SourceKind.JSON, stub.url + "/data"), monitor("cpu_pct"), AT))
    assert error.retryable is False
    assert "not JSON" in error.message


@pytest.mark.parametrize("length", ["²", "1²", "³"])  # a header is Latin-1
def test_a_content_length_in_odd_digits_is_ignored(stub, length):
    """A header http.client already ignores ("²".isdigit() is True, int("²") fails):
    the body is read to its end and capped as it arrives, never a crash."""
    stub.routes["/data"] = Route(body=b'{"cpu_pct": 7}', headers={"Content-Length": length}, length=False)
    assert fetch(source(SourceKind.JSON, stub.url + "/data"), monitor("cpu_pct"), AT).value == 7.0


def test_redirects_are_not_followed(stub):
    target = stub.json("/elsewhere", {"cpu_pct": 1})
    stub.routes["/data"] = Route(status=302, headers={"Location": target})
    error = error_of(lambda: fetch(source(SourceKind.JSON, stub.url + "/data", token="t"), monitor("cpu_pct"), AT))
    assert error.retryable is False
    assert "redirect" in error.message
    assert [path for path, _ in stub.requests] == ["/data"]  # the token went nowhere else


@pytest.mark.parametrize("length", [True, False])
def test_the_response_size_is_capped(stub, monkeypatch, length):
    monkeypatch.setattr(transport, "MAX_RESPONSE_BYTES", 1000)
    stub.routes["/big"] = Route(body=json.dumps({"cpu_pct": 1, "pad": "x" * 5000}).encode(), length=length)
    error = error_of(lambda: fetch(source(SourceKind.JSON, stub.url + "/big"), monitor("cpu_pct"), AT))
    assert error.retryable is False
    assert "larger than 1000 bytes" in error.message


@pytest.mark.parametrize(
    "url",
    [
        "",
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "http://",
        "http://user:pw@127.0.0.1/x",
        "http://h:99999/",
        "http://a b/",
    ],
)
def test_only_plain_http_urls_are_polled(url):
    error = error_of(lambda: fetch(source(SourceKind.JSON, url), monitor("x"), AT))
    assert error.retryable is False
    assert "pw" not in error.message


# --- prometheus against a stub (answers a real Prometheus rarely gives) --------------------------


def test_prometheus_request_shape(stub):
    stub.json("/prom/api/v1/query", {"status": "success", "data": {"resultType": "scalar", "result": [1, "3"]}})
    prom = source(SourceKind.PROMETHEUS, stub.url + "/prom/", token="t0k", timeout=7)
    assert fetch(prom, monitor('rate(x{job="a b"}[5m])'), AT) == Reading(value=3.0, at=AT)

    ((path, headers),) = stub.requests
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    assert query == {"query": ['rate(x{job="a b"}[5m])'], "time": [f"{AT.timestamp():.3f}"], "timeout": ["7s"]}
    assert headers["Authorization"] == "Bearer t0k"


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (503, {"status": "error", "errorType": "unavailable", "error": "starting up"}, True),
        (503, {"status": "error", "errorType": "timeout", "error": "query timed out"}, True),
        (422, {"status": "error", "errorType": "execution", "error": "too many samples"}, False),
        (200, {"status": "error", "errorType": "bad_data", "error": "odd"}, False),
        (200, {"status": "success"}, False),
        (200, {"status": "success", "data": {"resultType": "vector", "result": [{"value": 3}]}}, False),
        (200, {"data": []}, False),
    ],
)
def test_prometheus_errors(stub, status, body, retryable):
    stub.json("/api/v1/query", body, status=status)
    error = error_of(lambda: fetch(source(SourceKind.PROMETHEUS, stub.url), monitor("up"), AT))
    assert error.retryable is retryable


def series(value: str, **labels: str) -> dict:
    return {"metric": labels, "value": [1736172000, value]}


@pytest.mark.parametrize(
    ("data", "direction", "expected"),
    [
        ({"resultType": "vector", "result": [series("5", i="a"), series("9", i="b")]}, "above", 9.0),
        ({"resultType": "vector", "result": [series("5", i="a"), series("9", i="b")]}, "below", 5.0),
        ({"resultType": "vector", "result": [series("NaN"), series("+Inf"), series("2")]}, "above", 2.0),
        ({"resultType": "vector", "result": [series("NaN"), series("-Inf")]}, "below", None),
        ({"resultType": "vector", "result": []}, "above", None),
        ({"resultType": "scalar", "result": [1736172000, "+Inf"]}, "above", None),
        ({"resultType": "string", "result": [1736172000, "12"]}, "above", 12.0),
    ],
)
def test_prometheus_values(data, direction, expected):
    assert value_of(data, direction=direction, where="prom") == expected


# --- prometheus: a real one ----------------------------------------------------------------------

GAUGE = b"""# TYPE helpdesk_test_gauge gauge
helpdesk_test_gauge{series="a"} 42
helpdesk_test_gauge{series="b"} 7
"""


def _prometheus_binary() -> str:
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not os.access(binary, os.X_OK):
        message = "needs Prometheus at /usr/bin/prometheus (apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/-/ready", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[MetricSource]:
    """A real Prometheus on a free local port scraping a test target every second,
    as a prometheus MetricSource, once the target's gauge can be queried."""
    binary = _prometheus_binary()
    target = StubServer()
    target.routes["/metrics"] = Route(body=GAUGE, headers={"Content-Type": "text/plain; version=0.0.4"})
    workdir = tmp_path_factory.mktemp("prometheus")
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: helpdesk_test\n    static_configs:\n"
        f"      - targets: ['{target.url.removeprefix('http://')}']\n"
    )
    port = free_port()
    prometheus = Proc.start(
        "Prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        None,
        workdir / "prometheus.log",
    )

    def has_data() -> bool:
        if not _ready(prom.base_url):
            return False
        return fetch(prom, monitor('helpdesk_test_gauge{series="a"}'), datetime.now(UTC)).value is not None

    try:
        prom = source(SourceKind.PROMETHEUS, f"http://127.0.0.1:{port}", timeout=5)
        # Module-scoped, so set up before the per-test outbound_allow_loopback.
        with override_settings(HELPDESK_OUTBOUND_ALLOW=OUTBOUND_ALLOW_LOOPBACK.split(",")):
            wait_until(
                has_data,
                "Prometheus had data from its target",
                30,
                check=prometheus.assert_alive,
                every=0.2,
                details=lambda: prometheus.log()[-2000:],
            )
        yield prom
    finally:
        prometheus.stop()
        target.close()


def now_reading(prom: MetricSource, query: str, direction: str = Direction.ABOVE) -> Reading:
    return fetch(prom, monitor(query, direction), datetime.now(UTC))


def test_prometheus_vector(prometheus):
    assert now_reading(prometheus, 'helpdesk_test_gauge{series="a"}').value == 42.0
    assert now_reading(prometheus, "sum(helpdesk_test_gauge)").value == 49.0


def test_prometheus_several_series_give_the_worst_for_the_direction(prometheus):
    assert now_reading(prometheus, "helpdesk_test_gauge", Direction.ABOVE).value == 42.0
    assert now_reading(prometheus, "helpdesk_test_gauge", Direction.BELOW).value == 7.0


def test_prometheus_scalars(prometheus):
    assert now_reading(prometheus, 'scalar(helpdesk_test_gauge{series="b"})').value == 7.0
    assert now_reading(prometheus, "1+1").value == 2.0
    assert now_reading(prometheus, 'scalar(sum(helpdesk_test_gauge{series=~"a|b"})) + 1 / 2').value == 49.5
    assert now_reading(prometheus, '"hello"').value is None  # a string result that is no number


def test_prometheus_evaluates_at_the_poll_time(prometheus):
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    reading = fetch(prometheus, monitor("time()"), at)
    assert reading == Reading(value=at.timestamp(), at=at)
    # Long before the server scraped anything: no data.
    assert fetch(prometheus, monitor("helpdesk_test_gauge"), AT).value is None


@pytest.mark.parametrize(
    "query",
    ['helpdesk_test_gauge{series="nope"}', "absent(helpdesk_test_gauge)", "0/0", "vector(0/0)", "1/0", "-1/0"],
)
def test_prometheus_no_data(prometheus, query):
    """An empty vector, NaN and infinities are all "no data"."""
    assert now_reading(prometheus, query).value is None


@pytest.mark.parametrize(
    ("query", "says"),
    [("sum(helpdesk_test_gauge", "HTTP 400 Bad Request"), ("helpdesk_test_gauge[1m]", "range vector"), ("", "no PromQL")],
)
def test_prometheus_bad_queries_are_configuration_errors(prometheus, query, says):
    error = error_of(lambda: now_reading(prometheus, query))
    assert error.retryable is False
    assert says in error.message


def test_prometheus_wrong_path_is_a_configuration_error(prometheus):
    wrong = source(SourceKind.PROMETHEUS, prometheus.base_url + "/not-prometheus")
    error = error_of(lambda: fetch(wrong, monitor("up"), datetime.now(UTC)))
    assert (error.retryable, error.message.startswith("HTTP 404")) == (False, True)


# --- simulator ------------------------------------------------------------------------------------


def test_simulator_reads_the_simulated_metric():
    from monitoring import simulated_metrics

    sim = source(SourceKind.SIMULATOR, options={"seed": 7, "scenarios": []})
    reading = fetch(sim, monitor("avg_response_ms"), AT)
    assert reading == Reading(value=simulated_metrics.value("avg_response_ms", AT, 7, []), at=AT)
    assert reading.value is not None
    assert fetch(sim, monitor("avg_response_ms"), AT) == reading  # deterministic
    assert fetch(sim, monitor("no_such_metric"), AT).value is None


def test_simulator_scenarios_and_default_seed():
    spike = {"type": "spike", "metric": "avg_response_ms", "start": AT.isoformat(), "factor": 10}
    calm = fetch(source(SourceKind.SIMULATOR, options={"seed": 3}), monitor("avg_response_ms"), AT).value
    spiked = fetch(
        source(SourceKind.SIMULATOR, options={"seed": 3, "scenarios": [spike]}), monitor("avg_response_ms"), AT
    ).value
    assert spiked > calm * 5

    unseeded = source(SourceKind.SIMULATOR)
    unseeded.pk = 3  # the id stands in for a missing seed
    assert fetch(unseeded, monitor("avg_response_ms"), AT).value == calm


def test_simulator_source_error_scenario_is_retryable():
    outage = {"type": "source_error", "start": (AT - timedelta(minutes=1)).isoformat(), "duration_seconds": 600}
    sim = source(SourceKind.SIMULATOR, options={"seed": 1, "scenarios": [outage]})
    error = error_of(lambda: fetch(sim, monitor("cpu_pct"), AT))
    assert error.retryable is True
    assert fetch(sim, monitor("cpu_pct"), AT + timedelta(minutes=10)).value is not None  # over


@pytest.mark.parametrize(
    "options",
    [
        {"seed": "seven"},
        {"seed": True},
        {"seed": 1, "scenarios": {"type": "spike"}},
        {"seed": 1, "scenarios": ["spike"]},
        {"seed": 1, "scenarios": [{"type": "meteor", "start": "2025-01-06T00:00:00Z"}]},
    ],
)
def test_simulator_bad_options_are_configuration_errors(options):
    error = error_of(lambda: fetch(source(SourceKind.SIMULATOR, options=options), monitor("cpu_pct"), AT))
    assert error.retryable is False
