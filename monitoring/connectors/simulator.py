"""The built-in ``simulator`` source: no network, values from monitoring.simulated_metrics.

``source.options`` holds ``{"seed": int, "scenarios": [...]}`` (see
monitoring/simulated_metrics.py for the scenario format). Without a seed the source's
id is used, so two unseeded simulators still tell different stories. The
monitor's query is the metric name (``avg_response_ms``, ...); a metric the
simulator does not know is "no data".

A ``source_error`` scenario is reported as a retryable SourceError (a source
that is down for a while); malformed options or scenarios as a non-retryable one.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitoring.connectors.base import Reading, SourceError, as_number

if TYPE_CHECKING:
    from monitoring.models import MetricSource, Monitor


def options_of(source: MetricSource) -> tuple[int, list[dict[str, Any]]]:
    """``(seed, scenarios)`` from the source's options, or a non-retryable SourceError."""
    options = source.options if source.options is not None else {}
    if not isinstance(options, dict):
        raise SourceError("simulator options must be an object", retryable=False)
    seed = options.get("seed", source.pk or 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SourceError(f"simulator seed must be an integer, not {seed!r}", retryable=False)
    scenarios = options.get("scenarios") or []
    if not isinstance(scenarios, list) or not all(isinstance(item, dict) for item in scenarios):
        raise SourceError("simulator scenarios must be a list of objects", retryable=False)
    return seed, scenarios


def fetch(source: MetricSource, monitor: Monitor, at: datetime) -> Reading:
    seed, scenarios = options_of(source)
    # Imported on use: the simulator is only needed by sources of this kind.
    simulator = importlib.import_module("monitoring.simulated_metrics")
    simulated_error = getattr(simulator, "SimulatedSourceError", None)
    try:
        raw = simulator.value(metric=monitor.query.strip(), at=at, seed=seed, scenarios=scenarios)
    except SourceError:
        raise
    except Exception as exc:
        if simulated_error is not None and isinstance(exc, simulated_error):
            raise SourceError(str(exc) or "simulated source error", retryable=True) from None
        if isinstance(exc, ValueError):  # a malformed scenario
            raise SourceError(f"simulator scenarios: {exc}", retryable=False) from None
        raise
    return Reading(value=as_number(raw), at=at)
