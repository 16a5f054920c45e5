"""Threads released together at a barrier: the concurrency tests' races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
THREAD_TIMEOUT = 60  # seconds; a thread still alive after this means a hang


def run_in_threads(count: int, work: Callable[[int], T], *, timeout: float = THREAD_TIMEOUT) -> list[T]:
    """Start ``count`` threads together on ``work(i)``, each with its own database
    connection (closed when it ends); return the results in index order and
    re-raise the first failure. A thread still running after ``timeout`` fails."""
    from django.db import connection

    barrier = threading.Barrier(count, timeout=timeout)
    errors: list[BaseException] = []
    results: list = [None] * count

    def body(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as exc:  # reported to the caller below
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    if errors:
        raise errors[0]
    return results
