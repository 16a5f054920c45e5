"""Helpers for the fault tests: a private redis-server, Celery workers killed with
SIGKILL by pid, and counting what a worker's file e-mail backend wrote.

Every process is started by the test on a free port and stopped by its pid.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpdesk.tests.brokers import redis_problem
from helpdesk.tests.processes import Worker, celery_command, celery_env, start, stop

WAIT_SECONDS = 60


def wait_until(condition: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS, check=None) -> float:
    """Poll ``condition`` every 50 ms until it holds; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check is not None:
            check()
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"{what}: not within {seconds}s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require_redis_server() -> None:
    if not shutil.which("redis-server"):
        message = "needs the redis-server binary"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class RedisServer:
    """A throw-away redis-server without persistence, killed and restarted on the same port."""

    port: int
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(lambda: redis_problem(self.url) is None, f"redis-server on port {self.port} answering", 10)

    def kill(self) -> None:
        """SIGKILL by pid: the broker vanishes without a goodbye to its clients."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None
        wait_until(lambda: redis_problem(self.url) is not None, f"redis-server on port {self.port} gone", 10)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


def start_celery_worker(
    *, broker_url: str, log_path: Path, name: str, concurrency: int = 1, **env: str
) -> Worker:
    """A prefork worker (a parent and ``concurrency`` children) on the test database,
    consuming the default queue of a broker of the test's own."""
    command = celery_command(
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
        "-n",
        f"{name}@%h",
    )
    worker = Worker(start(command, celery_env(broker_url=broker_url, **env), log_path), log_path, "celery")
    wait_until(lambda: " ready." in worker.log(), f"worker {name} starting", check=worker.assert_alive)
    return worker


def start_celery_beat(*, broker_url: str, log_path: Path, schedule: Path, **env: str) -> subprocess.Popen:
    command = celery_command("beat", "-s", str(schedule), "--max-interval=1", "--loglevel=INFO")
    return start(command, celery_env(broker_url=broker_url, **env), log_path)


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children


def kill_worker(worker: Worker) -> list[int]:
    """kill -9 the worker's pool children (the processes running tasks) and then
    its parent, each by pid. Returns the pids killed."""
    parent = worker.process.pid
    children = child_pids(parent)
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    os.kill(parent, signal.SIGKILL)
    worker.process.wait(timeout=10)
    for pid in children:  # reaped by init; wait until they are gone
        wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists() or _zombie(pid), f"child {pid} gone", 10)
    return [*children, parent]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def emails_written(directory: Path) -> Counter:
    """(recipient, subject) -> how many messages Django's file e-mail backend wrote."""
    separator = b"\n" + b"-" * 79 + b"\n"
    sent: Counter = Counter()
    if not directory.exists():
        return sent
    for path in directory.iterdir():
        for chunk in path.read_bytes().split(separator):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk, policy=email.policy.default)
            sent[(str(message["To"]), str(message["Subject"]))] += 1
    return sent
