"""Wait until a condition holds, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

WAIT_SECONDS = 60


class WaitTimeout(AssertionError):
    """The condition did not hold in time (an assertion failure in a test)."""


def wait_until(
    condition: Callable[[], object],
    what: str,
    seconds: float = WAIT_SECONDS,
    check: Callable[[], None] | None = None,
    *,
    every: float = 0.05,
    details: Callable[[], str] | None = None,
) -> float:
    """Poll ``condition`` every ``every`` seconds until it holds; return the seconds it took.

    ``check`` runs before each poll and may raise (say, a process it depends on
    died); ``details`` adds to the failure message (say, the tail of a log).
    Raises :class:`WaitTimeout` after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check is not None:
            check()
        if condition():
            return time.monotonic() - started
        time.sleep(every)
    message = f"{what}: not within {seconds:g}s"
    raise WaitTimeout(f"{message}\n{details()}" if details is not None else message)
