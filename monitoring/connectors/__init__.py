"""Metric-source connectors: ``fetch(source, monitor, at) -> Reading`` for every pull kind.

Kinds: ``retrace`` (docs/RETRACE.md), ``prometheus``, ``json`` and ``simulator``;
the push kinds (Alertmanager webhooks, raw samples) are received, never fetched.
"""

from monitoring.connectors.base import ExternalAlert, Reading, SourceError, fetch

__all__ = ["ExternalAlert", "Reading", "SourceError", "fetch"]
