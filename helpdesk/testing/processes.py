"""Processes a test or a benchmark starts: each in its own process group, logging
to a file, stopped as a whole or killed by its pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The repository: where ``celery -A helpdesk`` and ``gunicorn helpdesk.wsgi`` find the project.
ROOT = Path(__file__).resolve().parent.parent.parent


class ProcessExited(AssertionError):
    """A process the test or benchmark depends on is gone."""


def celery_command(*args: str) -> list[str]:
    """``celery -A helpdesk <args>`` with this virtualenv's Celery."""
    script = Path(sys.executable).with_name("celery")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "celery"]
    return [*base, "-A", "helpdesk", *args]


def process_start(
    command: list[str], env: dict[str, str] | None, log_path: Path, *, cwd: Path = ROOT, append: bool = False
) -> subprocess.Popen:
    """Start ``command`` in its own process group (so it is stopped as a whole),
    stdout and stderr to ``log_path``; ``env`` None: this process's environment."""
    with open(log_path, "ab" if append else "wb") as out:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def process_stop(process: subprocess.Popen) -> None:
    """Warm shutdown, then kill the process group if it does not stop in time."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def process_kill(pid: int) -> None:
    """SIGKILL by pid: the process vanishes without a goodbye (a crash, the OOM killer)."""
    os.kill(pid, signal.SIGKILL)


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after ``comm`` (which may hold spaces): state, ppid, ..."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = proc_stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (exited, or a zombie waiting to be reaped)."""
    fields = proc_stat(pid)
    return fields is None or fields[0] == "Z"


@dataclass
class Proc:
    """A started process with a name and the file its output goes to."""

    name: str
    process: subprocess.Popen
    log_path: Path

    @classmethod
    def start(cls, name: str, command: list[str], env: dict[str, str] | None, log_path: Path) -> Proc:
        return cls(name, process_start(command, env, log_path), log_path)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def assert_alive(self) -> None:
        if not self.alive():
            raise ProcessExited(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-4000:]}")

    def stop(self) -> None:
        process_stop(self.process)
