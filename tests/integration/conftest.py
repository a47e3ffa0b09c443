import pytest

from tests.integration.harness import Worker, purge_broker
from workers.hyperv.simulator.testing import run_simulator


@pytest.fixture
def worker(transactional_db, settings):
    """A real Celery worker process, on a clean broker, seeing the test database."""
    settings.NESTLAB_DRIVER_FACTORY = "workers.services.hostcalls.winrm_driver"
    purge_broker()
    process = Worker().start()
    yield process
    process.stop()
    purge_broker()


@pytest.fixture
def sims():
    """Three simulated Hyper-V hosts (zero latency), started lazily and stopped after the test."""
    started = []

    def start(count=3, **options):
        options.setdefault("memory_mb", 131072)
        for _ in range(count):
            context = run_simulator(**options)
            started.append((context, context.__enter__()))
        return [handle for _, handle in started]

    yield start
    for context, _handle in started:
        context.__exit__(None, None, None)
