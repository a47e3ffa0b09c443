"""Real processes for integration tests: a Celery worker and Nestlab hosts backed by hvsim.

The worker is started as `celery -A config worker` in its own process, with the same settings as
the tests but pointed at the test database, so it sees what the test commits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from tests import factories

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge_broker() -> None:
    """Drop every message of the test broker, so no earlier test's task reaches this one."""
    from config.celery import app

    with app.connection_for_write() as connection:
        client = getattr(connection.default_channel, "client", None)
        if client is not None:
            client.flushdb()


class Worker:
    """A `celery worker` subprocess on the default and hosts.default queues."""

    def __init__(self, *, concurrency: int = 4, pool: str = "prefork", env: dict[str, str] | None = None):
        self.concurrency = concurrency
        self.pool = pool
        self.extra_env = env or {}
        self.process: subprocess.Popen | None = None
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"nestlab-worker-{os.getpid()}.log"

    def start(self) -> Worker:
        env = {**os.environ, "DATABASE_URL": database_url(), **self.extra_env}
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(self.concurrency),
            "--pool",
            self.pool,
            "--queues",
            f"{settings.CELERY_TASK_DEFAULT_QUEUE},hosts.default",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"test-{os.getpid()}@%h",
        ]
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process owns it until stop()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and its pool), as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def host_for(sim, name: str, *, memory_mb: int = 65536, transport: str | None = None, **extra):
    """A Host row for a running simulator: Basic over HTTP (which only simulators may use) or
    HTTPS, unless ``transport`` says otherwise ("ntlm": NTLM with message encryption over HTTP)."""
    return factories.host(
        name,
        endpoint=sim.host,
        port=sim.port,
        transport=transport or ("ssl" if sim.tls else "plaintext"),
        use_tls=sim.tls,
        password=sim.password,
        cpus=extra.pop("cpus", 32),
        memory_mb=memory_mb,
        reserved_mb=4096,
        storage_gb=extra.pop("storage_gb", 2048),
        username=sim.user,
        **extra,
    )


def wait_until(condition: Callable[[], object], *, timeout: float, interval: float = 0.25, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(interval)
