"""CPU seconds of the processes in the window, read from ``/proc/<pid>/stat``."""

from __future__ import annotations

import os
import threading
from collections import Counter

from bench.common import say
from helpdesk.testing.processes import proc_stat

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_of(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _cpu_with_children(fields: list[str]) -> float:
    """Own CPU plus that of reaped children (cutime, cstime)."""
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLOCK_TICKS


def proc_scan(sessions: dict[int, str], postmaster: int | None) -> tuple[dict[int, tuple[str, float]], float]:
    """pid -> (group, CPU seconds) for every process in the given sessions, and
    the CPU of the whole PostgreSQL server: the postmaster with its reaped
    children plus its live children. Backends that connect for one task and exit
    are in the latter, however short they live."""
    found: dict[int, tuple[str, float]] = {}
    server = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = proc_stat(pid)
        if fields is None:
            continue
        group = sessions.get(int(fields[3]))
        if group is not None:
            found[pid] = (group, _cpu_of(fields))
        if postmaster is not None:
            if pid == postmaster:
                server += _cpu_with_children(fields)
            elif int(fields[1]) == postmaster:
                server += _cpu_of(fields)
    return found, server


class CpuMeter:
    """CPU seconds per group between ``begin()`` and ``end()``; a sampler thread
    (every second) sees processes that start and exit in between (pool children,
    database backends).

    Groups: the sessions given (worker, beat, http); ``pg_bench``: backends of
    the bench database alive at a sample (a lower bound when they reconnect
    often); ``pg_other``: backends of other databases alive at a sample (other
    work on a shared server); and ``pg_server``: the whole PostgreSQL server
    (exact, all databases)."""

    def __init__(self, sessions: dict[int, str], pg_url: str, db_name: str) -> None:
        self.sessions = sessions
        self.db_name = db_name
        self.pg_url = pg_url
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.server_first = self.server_last = 0.0
        self.pids_seen: Counter = Counter()
        self.other_active: list[int] = []
        self._stop = threading.Event()
        self._active = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._pg = None
        self.postmaster: int | None = None
        self.backend_error = ""

    def _backends(self) -> dict[int, tuple[str, float]]:
        import psycopg2

        if self._pg is None:
            self._pg = psycopg2.connect(self.pg_url)
            self._pg.autocommit = True
        with self._pg.cursor() as cursor:
            cursor.execute(
                "SELECT pid, datname = %s, state = 'active' FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
                [self.db_name],
            )
            rows = cursor.fetchall()
            if self.postmaster is None:
                cursor.execute("SELECT pg_backend_pid()")
                own = proc_stat(cursor.fetchone()[0])
                self.postmaster = int(own[1]) if own else None
        found = {}
        for pid, ours, _ in rows:
            fields = proc_stat(pid)
            if fields is not None:
                found[pid] = ("pg_bench" if ours else "pg_other", _cpu_of(fields))
        self.other_active.append(sum(1 for _, ours, active in rows if active and not ours))
        return found

    def snapshot(self) -> tuple[dict[int, tuple[str, float]], float]:
        backends = {}
        try:
            backends = self._backends()
        except Exception as exc:  # reported: the PostgreSQL figures are then missing
            if not self.backend_error:
                say(f"cannot read the database backends: {exc!r}")
            self.backend_error = repr(exc)
            self._pg = None
        found, server = proc_scan(self.sessions, self.postmaster)
        found.update(backends)
        return found, server

    def begin(self) -> None:
        self.snapshot()  # finds the postmaster
        snap, server = self.snapshot()
        with self._lock:
            self.first = {pid: cpu for pid, (_, cpu) in snap.items()}
            self.last = dict(snap)
            self.server_first = self.server_last = server
            self.other_active.clear()
            self._active = True
        self._thread.start()

    def _merge(self, snap: dict[int, tuple[str, float]], server: float) -> None:
        for pid, value in snap.items():
            self.first.setdefault(pid, 0.0)  # born inside the window
            self.last[pid] = value
        self.server_last = server

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            snap, server = self.snapshot()
            with self._lock:
                if not self._active:
                    return
                self._merge(snap, server)

    def end(self) -> dict[str, float]:
        snap, server = self.snapshot()
        with self._lock:
            self._merge(snap, server)
            self._active = False
        self._stop.set()
        self._thread.join(timeout=5)
        if self._pg is not None:
            self._pg.close()
        totals: Counter = Counter()
        counts: Counter = Counter()
        for pid, (group, cpu) in self.last.items():
            totals[group] += max(cpu - self.first.get(pid, 0.0), 0.0)
            counts[group] += 1
        if self.postmaster is not None:
            totals["pg_server"] = self.server_last - self.server_first
        self.pids_seen = counts
        return dict(totals)
