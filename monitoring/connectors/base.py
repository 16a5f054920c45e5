"""The one interface every pull connector speaks: ``fetch(source, monitor, at) -> Reading``.

A connector turns one poll of one monitor into a :class:`Reading` or raises
:class:`SourceError`. It never touches the database: evaluating the reading,
storing samples and raising alerts belong to the monitoring services.

Values are plain finite floats. Whatever a source answers that is not one
(JSON null, a missing field, an empty Prometheus vector, ``NaN``, ``+Inf``,
``"n/a"``) becomes ``value=None``: the source answered but has no usable data,
which the evaluator shows as ``no_data`` rather than as a breach.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitoring.choices import Severity, SourceKind

if TYPE_CHECKING:
    from monitoring.models import MetricSource, Monitor



@dataclass(frozen=True)
class ExternalAlert:
    """An alert the source itself reports (a Retrace dashboard's ``alerts``)."""

    name: str
    severity: Severity
    since: datetime | None
    value: float | None
    labels: dict[str, str] = field(default_factory=dict, hash=False)  # hashable despite the dict


@dataclass(frozen=True)
class Reading:
    """One poll's answer.

    ``value`` is None when the source answered but has no data for the query.
    ``at`` is the instant the value is for: the scheduled poll time, so a retried
    poll yields the same instant and stores one sample.
    """

    value: float | None
    at: datetime
    alerts: tuple[ExternalAlert, ...] = ()


class SourceError(Exception):
    """The source could not be read.

    ``retryable`` is True for what may heal by itself (5xx, timeouts, refused or
    reset connections) and False for configuration errors a retry cannot fix (4xx,
    a redirect, a body that is not the expected JSON, bad options).
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable

    def __repr__(self) -> str:
        return f"SourceError({self.message!r}, retryable={self.retryable})"


def as_number(value: Any) -> float | None:
    """A finite float from a JSON value, else None.

    Numbers and numeric strings (``"12.5"``, ``" 3 "``) count; booleans are 1/0
    (a health flag is a useful metric); NaN, infinities, null, objects, lists and
    other strings are "no data".
    """
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def severity_from(raw: Any) -> Severity:
    """``warning``/``critical``/``outage`` (any case); anything else, ``info``
    included, is a warning: an alert the source raises is never dropped, and
    never louder than it says."""
    text = str(raw).strip().lower() if raw is not None else ""
    return Severity(text) if text in Severity.values else Severity.WARNING


# kind -> module holding ``fetch(source, monitor, at) -> Reading``; imported on
# first use, so importing this module pulls in no connector (and no cycle).
_CONNECTORS = {
    SourceKind.RETRACE: "monitoring.connectors.retrace",
    SourceKind.PROMETHEUS: "monitoring.connectors.prometheus",
    SourceKind.JSON: "monitoring.connectors.jsonpath",
    SourceKind.SIMULATOR: "monitoring.connectors.simulator",
}


def fetch(source: MetricSource, monitor: Monitor, at: datetime) -> Reading:
    """Poll ``source`` for ``monitor``'s query as of ``at`` (timezone-aware).

    Raises :class:`SourceError` when the source cannot be read, ``ValueError``
    for a push kind (alertmanager, push) or an unknown kind: those are never polled.
    """
    module = _CONNECTORS.get(str(source.kind))
    if module is None:
        raise ValueError(f"source kind {source.kind!r} is not polled (pull kinds: {', '.join(_CONNECTORS)})")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("fetch needs a timezone-aware poll time")
    return importlib.import_module(module).fetch(source, monitor, at)
