"""Brokers for tests: point the Celery app of this process at a given broker, and
a redis-server of a test's own that can be killed and restarted.

Celery reads the ``CELERY_BROKER_URL`` environment variable *before*
``app.conf.broker_url`` (celery.app.utils.Settings.broker_url), and it caches a
connection pool and a producer pool built for the old URL. Changing only
``conf.broker_url`` therefore has no effect; :func:`celery_broker` changes
both, drops the pools, and restores everything afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpdesk.celery import app as celery_app
from helpdesk.testing.processes import process_kill, process_start, process_stop
from helpdesk.testing.waiting import wait_until

# Nothing listens on port 1: connections are refused at once.
CLOSED_BROKER_URL = "redis://127.0.0.1:1/0"
_DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/13"
_ENV_KEYS = ("CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL", "CELERY_BROKER_READ_URL")


def redis_test_url() -> str:
    """The Redis database tests may use as a broker.

    ``HELPDESK_TEST_REDIS_URL`` if set, else the configured broker when it is
    Redis, else Redis db 13 on localhost.
    """
    explicit = os.environ.get("HELPDESK_TEST_REDIS_URL")
    if explicit:
        return explicit
    configured = os.environ.get("CELERY_BROKER_URL", "")
    return configured if configured.startswith(("redis://", "rediss://")) else _DEFAULT_TEST_REDIS_URL


def redis_problem(url: str) -> str | None:
    """None when Redis answers PING at ``url``, else why not."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def reset_producer_pools() -> None:
    """Forget the cached broker connections so the next publish uses the current URL.

    The app's pools live in kombu's process-wide pool groups, keyed by connection
    URL; closing one without removing it would leave a closed pool that the next
    user of the same URL gets back ("Acquire on closed pool"). kombu.pools.reset()
    closes them all and empties the groups.
    """
    from kombu import pools

    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    pools.reset()


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Within the block this process publishes to, and /readyz checks, ``url``."""
    saved_env = {key: os.environ.get(key) for key in _ENV_KEYS}
    saved_conf = celery_app.conf["broker_url"]
    for key in _ENV_KEYS:
        os.environ.pop(key, None)
    os.environ["CELERY_BROKER_URL"] = url
    celery_app.conf.broker_url = url
    reset_producer_pools()
    try:
        yield
    finally:
        reset_producer_pools()
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        celery_app.conf.broker_url = saved_conf


def require_redis_server() -> None:
    """Skip without the redis-server binary on a developer's machine; fail in CI, where it must be there."""
    import pytest

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
        self.process = process_start(command, None, self.log_path, append=True)
        wait_until(lambda: redis_problem(self.url) is None, f"redis-server on port {self.port} answering", 10)

    def kill(self) -> None:
        """SIGKILL by pid: the broker vanishes without a goodbye to its clients."""
        if self.process is not None:
            process_kill(self.process.pid)
            self.process.wait(timeout=10)
            self.process = None
        wait_until(lambda: redis_problem(self.url) is not None, f"redis-server on port {self.port} gone", 10)

    def stop(self) -> None:
        if self.process is not None:
            process_stop(self.process)
            self.process = None
