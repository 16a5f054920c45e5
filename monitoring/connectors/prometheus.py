"""Prometheus HTTP API: an instant query per poll.

``GET {base_url}/api/v1/query?query=<PromQL>&time=<poll time>&timeout=<timeout>s``.
``base_url`` is the server's root (with its path prefix when served under one,
e.g. ``http://prom:9090/prometheus``).

Results:

* ``vector``: one series is its value. Several series are reduced to the
  **worst** one for the monitor's direction: the maximum when above is bad, the
  minimum when below is bad, so no breaching series hides behind another. Better
  still, aggregate in PromQL (``max(...)``, ``sum by () (...)``) so that the
  monitor's history is one well-defined series. An empty vector is None.
* ``scalar`` (``scalar(...)``, ``1+1``) and ``string``: the value, when numeric.
* ``matrix`` (a range selector such as ``up[5m]``): a configuration error;
  monitors need an instant value.

Prometheus sends values as strings; ``"NaN"`` and ``"+Inf"``/``"-Inf"`` are
treated as no data (None), as everywhere in the connectors: they cannot be
charted, learned by a baseline or compared meaningfully. A series that is not
finite is skipped when picking the worst of several. ``+Inf`` does carry meaning
for ``histogram_quantile`` (above the highest bucket): clamp it in PromQL
(``clamp_max(histogram_quantile(...), 60)``) to alert on it.

``status: "error"`` and 4xx answers (bad PromQL, bad parameters) are
configuration errors; 5xx (Prometheus unavailable, its query timeout) and
network failures are retryable. The message names the documented
``errorType`` only, never Prometheus' error text (it is the body of the answer,
and error messages reach every agent; docs/RELIABILITY.md "Outbound requests").
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from monitoring.choices import Direction
from monitoring.connectors.base import Reading, SourceError, as_number
from monitoring.connectors.transport import get_json, safe_url

if TYPE_CHECKING:
    from monitoring.models import MetricSource, Monitor

# errorType values that describe Prometheus' state, not the query.
_TRANSIENT_ERRORS = frozenset({"timeout", "canceled", "unavailable", "internal"})
# The errorType values of the HTTP API: a short reason, safe to show.
_ERROR_TYPES = _TRANSIENT_ERRORS | {"bad_data", "execution", "not_found", "not_acceptable"}


def query_url(source: MetricSource, query: str, at: datetime) -> str:
    params = {"query": query, "time": f"{at.timestamp():.3f}", "timeout": f"{int(source.timeout_seconds)}s"}
    return f"{source.base_url.rstrip('/')}/api/v1/query?{urlencode(params)}"


def _sample_value(pair: Any, where: str) -> float | None:
    """``[<unix time>, "<value>"]`` -> a finite float or None."""
    if not isinstance(pair, list) or len(pair) != 2:
        raise SourceError(f"{where} returned a sample that is not [time, value]", retryable=False)
    return as_number(pair[1])


def value_of(data: Any, *, direction: str, where: str) -> float | None:
    """The monitor's value from a query answer's ``data`` object (see the module doc)."""
    if not isinstance(data, dict) or not isinstance(data.get("resultType"), str):
        raise SourceError(f"{where} returned no resultType", retryable=False)
    kind, result = data["resultType"], data.get("result")
    if kind in ("scalar", "string"):
        return _sample_value(result, where)
    if kind == "matrix":
        raise SourceError(
            "the query returns a range vector (matrix); use an instant vector or a scalar, "
            "e.g. max_over_time(...[5m]) instead of ...[5m]",
            retryable=False,
        )
    if kind != "vector":
        raise SourceError(f"{where} returned an unknown resultType", retryable=False)
    if not isinstance(result, list):
        raise SourceError(f"{where} returned a vector that is not a list", retryable=False)
    values = []
    for series in result:
        if not isinstance(series, dict):
            raise SourceError(f"{where} returned a series that is not an object", retryable=False)
        value = _sample_value(series.get("value"), where)
        if value is not None:
            values.append(value)
    if not values:
        return None
    return min(values) if direction == Direction.BELOW else max(values)


def fetch(source: MetricSource, monitor: Monitor, at: datetime) -> Reading:
    query = monitor.query.strip()
    if not query:
        raise SourceError("the monitor has no PromQL query", retryable=False)
    answer = get_json(source, query_url(source, query, at))
    where = safe_url(source.base_url)
    if not isinstance(answer, dict) or answer.get("status") not in ("success", "error"):
        raise SourceError(f"{where} did not answer like the Prometheus query API", retryable=False)
    if answer["status"] == "error":
        error_type = str(answer.get("errorType", ""))
        raise SourceError(
            f"Prometheus {error_type if error_type in _ERROR_TYPES else 'error'} from {where}",
            retryable=error_type in _TRANSIENT_ERRORS,
        )
    return Reading(value=value_of(answer.get("data"), direction=str(monitor.direction), where=where), at=at)
