"""When a lab task gives up (workers.tasks._run): the real Celery tasks run eagerly with ``apply()``
against in-process fake hosts, and what they send after commit is read back from the test broker.

A build or teardown that gives up fails the lab and sends its cleanup; a user operation that gives
up settles the lab back with ``last_error`` and sends nothing. Transient errors are retried first."""

import uuid

import pytest

from config.celery import app
from labs.models import LabEvent
from labs.services import lab_delete, lab_stop
from labs.states import LabState
from workers import tasks
from workers.dispatch import TaskName, host_queue
from workers.hyperv.errors import HostError, HostUnreachable
from workers.models import Allocation
from workers.services import operations

BOOM = "The operation failed because the file was not found. (0x80070002)"


class Broker:
    """The tasks that reached one queue of the test broker (Redis in CI), taken off it."""

    def __init__(self, queue: str):
        self.queue = queue

    def _simple(self, connection):
        return connection.SimpleQueue(self.queue, no_ack=True)

    def clear(self) -> None:
        with app.connection_for_read() as connection:
            self._simple(connection).clear()

    def taken(self) -> list[tuple[str, list]]:
        found = []
        with app.connection_for_read() as connection:
            simple = self._simple(connection)
            while True:
                try:
                    message = simple.get_nowait()
                except simple.Empty:
                    break
                found.append((message.headers["task"], message.payload[0]))
        return found


@pytest.fixture
def placed(fake_fleet, new_lab, driver_of):
    """A requested lab placed on a fake host, and that host's driver and queue, emptied."""
    lab = new_lab()
    host = operations.lab_place_for_build(lab_id=lab.pk)
    broker = Broker(host_queue(host.site))
    broker.clear()
    yield lab, driver_of(host), broker
    broker.clear()


def _apply(task, lab, *args, capture):
    """Run the task eagerly, as a worker would, then commit what it queued for after the commit."""
    with capture(execute=True):
        task.apply(args=[str(lab.pk), *args])
    lab.refresh_from_db()


def _assert_failed_and_cleanup_sent(lab, broker, reason_start):
    assert lab.state == LabState.FAILED
    assert lab.last_error.startswith(reason_start) and BOOM in lab.last_error
    fail = LabEvent.objects.get(lab=lab, event="fail")
    assert fail.to_state == LabState.FAILED and fail.message == lab.last_error and fail.actor is None
    assert broker.taken() == [(TaskName.LAB_CLEANUP.value, [str(lab.pk)])]


def test_a_permanent_error_during_a_build_fails_the_lab_at_once_and_sends_its_cleanup(
    placed, django_capture_on_commit_callbacks
):
    lab, driver, broker = placed
    driver.inject_fault("start_vm", error=HostError(BOOM))  # once: a retry would have built the lab
    _apply(tasks.lab_build, lab, capture=django_capture_on_commit_callbacks)
    _assert_failed_and_cleanup_sent(lab, broker, "HostError: ")
    assert driver.calls["start_vm"] == 1  # not retried
    # and the cleanup it sent removes everything the build left
    _apply(tasks.lab_cleanup, lab, capture=django_capture_on_commit_callbacks)
    assert driver.vms == [] and not Allocation.objects.filter(lab=lab).exists()


def test_a_transient_error_during_a_build_is_retried_and_the_build_completes(
    placed, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(tasks, "MAX_RETRIES", 3)
    lab, driver, broker = placed
    driver.inject_fault("start_vm", times=3, error=HostUnreachable(BOOM))
    _apply(tasks.lab_build, lab, capture=django_capture_on_commit_callbacks)
    assert lab.state == LabState.RUNNING and lab.last_error == ""
    assert driver.calls["start_vm"] == 4  # the first run and three retries
    assert broker.taken() == []


def test_a_transient_error_past_max_retries_during_a_build_gives_up_the_same_way(
    placed, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(tasks, "MAX_RETRIES", 2)
    lab, driver, broker = placed
    driver.inject_fault("start_vm", times=100, error=HostUnreachable(BOOM))
    _apply(tasks.lab_build, lab, capture=django_capture_on_commit_callbacks)
    _assert_failed_and_cleanup_sent(lab, broker, "HostUnreachable: ")
    assert driver.calls["start_vm"] == 3  # the first run and MAX_RETRIES retries, then it gave up


def test_a_permanent_error_during_a_teardown_fails_the_lab_and_sends_its_cleanup(
    placed, roomy, django_capture_on_commit_callbacks
):
    lab, driver, broker = placed
    operations.lab_build(lab_id=lab.pk)
    lab.refresh_from_db()
    lab_delete(actor=roomy[1], lab=lab)
    broker.taken()  # the teardown the delete sent
    driver.inject_fault("delete_vm", error=HostError(BOOM))
    _apply(tasks.lab_teardown, lab, capture=django_capture_on_commit_callbacks)
    _assert_failed_and_cleanup_sent(lab, broker, "HostError: ")


@pytest.mark.parametrize(
    "error", [HostError(BOOM), HostUnreachable(BOOM)], ids=["permanent", "transient past the retries"]
)
def test_a_user_operation_that_gives_up_settles_the_lab_back_and_sends_nothing(
    placed, roomy, django_capture_on_commit_callbacks, monkeypatch, error
):
    monkeypatch.setattr(tasks, "MAX_RETRIES", 1)
    lab, driver, broker = placed
    operations.lab_build(lab_id=lab.pk)
    lab.refresh_from_db()
    with django_capture_on_commit_callbacks():  # the power-off task is run below instead
        lab_stop(actor=roomy[1], lab=lab)
    driver.inject_fault("stop_vm", times=100, error=error)
    _apply(tasks.lab_power_off, lab, capture=django_capture_on_commit_callbacks)
    assert lab.state == LabState.RUNNING  # the VM's power state: never failed
    assert lab.last_error == f"stop failed: {type(error).__name__}: {BOOM}"
    settled = LabEvent.objects.filter(lab=lab).order_by("-at", "-id").first()
    assert (settled.from_state, settled.to_state) == (LabState.STOPPING, LabState.RUNNING)
    assert BOOM in settled.message
    assert driver.calls["stop_vm"] == (1 if isinstance(error, HostError) else 2)
    assert not LabEvent.objects.filter(lab=lab, event="fail").exists()
    assert broker.taken() == []  # no cleanup
    assert driver.vm(lab.vm_name).state == "Running"


def test_a_task_for_a_lab_that_does_not_exist_does_nothing(placed, django_capture_on_commit_callbacks):
    """A message outlived its lab's row (a database restored from a backup, say)."""
    _, driver, broker = placed
    calls = dict(driver.calls)
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.lab_build.apply(args=[str(uuid.uuid4())])
    assert result.successful() and driver.calls == calls and broker.taken() == []
