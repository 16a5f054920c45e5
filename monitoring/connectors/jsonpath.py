"""Any HTTP endpoint returning JSON: ``GET base_url``, the monitor's query is a dotted path.

``metrics.avg_response_ms`` walks objects by key; a segment that is an integer
(``items.0.value``, ``items.-1.value``) indexes a list, counting from the end
when negative. An empty path is the whole document. Keys containing dots cannot
be addressed. A missing key, an index out of range or a value that is not a
number (numeric strings count, booleans are 1/0) is "no data" (None).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitoring.connectors.base import Reading, as_number
from monitoring.connectors.transport import get_json

if TYPE_CHECKING:
    from monitoring.models import MetricSource, Monitor

_INDEX = re.compile(r"-?\d+")
_MISSING = object()


def resolve(document: Any, path: str) -> Any:
    """The value at dotted ``path`` in ``document``, or a private sentinel when absent."""
    node = document
    path = path.strip()
    if not path:
        return node
    for segment in path.split("."):
        if isinstance(node, dict):
            if segment not in node:
                return _MISSING
            node = node[segment]
        elif isinstance(node, list) and _INDEX.fullmatch(segment):
            index = int(segment)
            if not -len(node) <= index < len(node):
                return _MISSING
            node = node[index]
        else:
            return _MISSING
    return node


def value_at(document: Any, path: str) -> float | None:
    found = resolve(document, path)
    return None if found is _MISSING else as_number(found)


def fetch(source: MetricSource, monitor: Monitor, at: datetime) -> Reading:
    return Reading(value=value_at(get_json(source, source.base_url), monitor.query), at=at)
