"""A failed user operation never destroys a lab: with a fault injected at the (fake) host, each
operation's task gives up and the lab goes back to a stable state, keeps its VM, its allocation
and its switch, and says why in last_error and an event. Only a failed build fails a lab."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labs.models import LabCheckpoint
from labs.services import lab_checkpoint, lab_checkpoint_remove, lab_reset, lab_restore, lab_start, lab_stop
from labs.states import LabState
from tests.workers.conftest import running_lab
from workers import tasks
from workers.hyperv.errors import HostError, HostUnreachable
from workers.models import Allocation
from workers.services import operations
from workers.services.reconciler import reconcile_host

BOOM = "The operation failed because the file was not found. (0x80070002)"


def stopped_lab(new_lab, admin):
    lab, host = running_lab(new_lab)
    lab_stop(actor=admin, lab=lab)
    operations.lab_power_off(lab_id=lab.pk)
    lab.refresh_from_db()
    return lab, host


def assert_intact(lab, host, driver_of, *, state, vm_state):
    lab.refresh_from_db()
    assert lab.state == state
    assert BOOM in lab.last_error
    [vm] = driver_of(host).vms  # the VM, its disk and its switch are all still there
    assert vm.name == lab.vm_name and vm.state == vm_state
    assert vm.switch_name in driver_of(host).switches
    assert Allocation.objects.filter(lab=lab).exists()
    event = lab.events.order_by("-at", "-id").first()
    assert event.to_state == state and BOOM in event.message
    assert not lab.events.filter(event="fail").exists()


def run_task(name, lab, *args, on_commit):
    with on_commit() as callbacks:
        getattr(tasks, name).apply(args=[str(lab.pk), *args])
    return callbacks


@pytest.fixture
def admin(roomy):
    return roomy[1]


def test_a_checkpoint_the_host_refuses_returns_the_lab_to_running(
    fake_fleet, new_lab, driver_of, admin, django_capture_on_commit_callbacks
):
    lab, host = running_lab(new_lab)
    driver_of(host).inject_fault("checkpoint_vm", error=HostError(BOOM))
    lab_checkpoint(actor=admin, lab=lab, name="before upgrade")
    callbacks = run_task(
        "lab_checkpoint", lab, "before upgrade", LabState.RUNNING, on_commit=django_capture_on_commit_callbacks
    )
    assert_intact(lab, host, driver_of, state=LabState.RUNNING, vm_state="Running")
    assert lab.last_error.startswith("checkpoint failed: HostError:")
    assert not LabCheckpoint.objects.filter(lab=lab).exists()  # the host never took it
    assert callbacks == []  # no cleanup was sent


def test_a_checkpoint_of_a_stopped_lab_that_fails_leaves_it_stopped(
    fake_fleet, new_lab, driver_of, admin, django_capture_on_commit_callbacks
):
    lab, host = stopped_lab(new_lab, admin)
    driver_of(host).inject_fault("checkpoint_vm", error=HostError(BOOM))
    lab_checkpoint(actor=admin, lab=lab, name="snap")
    run_task("lab_checkpoint", lab, "snap", LabState.STOPPED, on_commit=django_capture_on_commit_callbacks)
    assert_intact(lab, host, driver_of, state=LabState.STOPPED, vm_state="Off")


def test_a_failed_start_leaves_the_lab_stopped(
    fake_fleet, new_lab, driver_of, admin, django_capture_on_commit_callbacks
):
    lab, host = stopped_lab(new_lab, admin)
    driver_of(host).inject_fault("start_vm", error=HostError(BOOM))
    lab_start(actor=admin, lab=lab)
    run_task("lab_power_on", lab, on_commit=django_capture_on_commit_callbacks)
    assert_intact(lab, host, driver_of, state=LabState.STOPPED, vm_state="Off")
    assert lab.running_since is None and lab.last_error.startswith("start failed:")


def test_a_failed_stop_leaves_the_lab_running(
    fake_fleet, new_lab, driver_of, admin, django_capture_on_commit_callbacks
):
    lab, host = running_lab(new_lab)
    driver_of(host).inject_fault("stop_vm", error=HostError(BOOM))
    lab_stop(actor=admin, lab=lab)
    run_task("lab_power_off", lab, on_commit=django_capture_on_commit_callbacks)
    assert_intact(lab, host, driver_of, state=LabState.RUNNING, vm_state="Running")
    assert lab.running_since is not None


def test_a_failed_stop_after_the_vm_went_off_settles_on_what_the_host_says(
    fake_fleet, new_lab, driver_of, admin, django_capture_on_commit_callbacks
):
    lab, host = running_lab(new_lab)
    driver_of(host).inject_fault("stop_vm", error=HostError(BOOM))
    driver_of(host).vms[0].state = "Off"  # the guest shut down, but the host call still failed
    lab_stop(actor=admin, lab=lab)
    run_task("lab_power_off", lab, on_commit=django_capture_on_commit_callbacks)
    assert_intact(lab, host, driver_of, state=LabState.STOPPED, vm_state="Off")
    assert lab.running_since is None


@pytest.mark.parametrize("was", [LabState.RUNNING, LabState.STOPPED])
def test_a_failed_reset_returns_the_lab_to_the_state_it_was_in(
    fake_fleet, new_lab, driver_of, admin, django_capture_on_commit_callbacks, was
):
    lab, host = running_lab(new_lab) if was == LabState.RUNNING else stopped_lab(new_lab, admin)
    driver_of(host).inject_fault("reset_vm", error=HostError(BOOM))
    lab_reset(actor=admin, lab=lab)
    run_task("lab_reset", lab, was, on_commit=django_capture_on_commit_callbacks)
    assert_intact(lab, host, driver_of, state=was, vm_state="Running" if was == LabState.RUNNING else "Off")


def test_a_failed_restore_returns_the_lab_to_running_and_keeps_the_checkpoint(
    fake_fleet, new_lab, driver_of, admin, django_capture_on_commit_callbacks
):
    lab, host = running_lab(new_lab)
    lab_checkpoint(actor=admin, lab=lab, name="snap")
    operations.lab_checkpoint_run(lab_id=lab.pk, name="snap", was=LabState.RUNNING)
    lab.refresh_from_db()
    driver_of(host).inject_fault("restore_vm", error=HostError(BOOM))
    lab_restore(actor=admin, lab=lab, name="snap")
    run_task("lab_restore", lab, "snap", LabState.RUNNING, on_commit=django_capture_on_commit_callbacks)
    assert_intact(lab, host, driver_of, state=LabState.RUNNING, vm_state="Running")
    assert LabCheckpoint.objects.filter(lab=lab, name="snap").exists()


def test_a_failed_checkpoint_removal_keeps_the_lab_and_the_record(
    fake_fleet, new_lab, driver_of, admin, django_capture_on_commit_callbacks
):
    lab, host = running_lab(new_lab)
    lab_checkpoint(actor=admin, lab=lab, name="snap")
    operations.lab_checkpoint_run(lab_id=lab.pk, name="snap", was=LabState.RUNNING)
    lab.refresh_from_db()
    driver_of(host).inject_fault("remove_checkpoint", error=HostError(BOOM))
    lab_checkpoint_remove(actor=admin, lab=lab, name="snap")
    run_task("lab_checkpoint_remove", lab, "snap", on_commit=django_capture_on_commit_callbacks)
    lab.refresh_from_db()
    assert lab.state == LabState.RUNNING and BOOM in lab.last_error
    assert lab.events.filter(event="checkpoint_remove_failed", message__contains=BOOM).exists()
    assert LabCheckpoint.objects.filter(lab=lab, name="snap").exists()
    assert len(driver_of(host).vms) == 1


def test_a_transient_error_that_outlasts_the_retries_also_settles(
    fake_fleet, new_lab, driver_of, admin, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(tasks, "MAX_RETRIES", 0)
    lab, host = running_lab(new_lab)
    driver_of(host).inject_fault("checkpoint_vm", error=HostUnreachable(BOOM))
    driver_of(host).inject_fault("vm_status", error=HostUnreachable("still down"))
    lab_checkpoint(actor=admin, lab=lab, name="snap")
    run_task("lab_checkpoint", lab, "snap", LabState.RUNNING, on_commit=django_capture_on_commit_callbacks)
    assert_intact(lab, host, driver_of, state=LabState.RUNNING, vm_state="Running")


def test_a_failed_build_still_fails_the_lab_and_cleans_up(
    fake_fleet, new_lab, driver_of, django_capture_on_commit_callbacks
):
    lab = new_lab()
    host = operations.lab_place_for_build(lab_id=lab.pk)
    driver_of(host).inject_fault("start_vm", error=HostError(BOOM))
    callbacks = run_task("lab_build", lab, on_commit=django_capture_on_commit_callbacks)
    lab.refresh_from_db()
    assert lab.state == LabState.FAILED and BOOM in lab.last_error
    assert len(callbacks) == 1  # the cleanup


@pytest.mark.parametrize(
    ("operation", "vm_state", "settled"),
    [
        ("checkpoint", "Running", LabState.RUNNING),
        ("start", "Off", LabState.STOPPED),
        ("stop", "Off", LabState.STOPPED),
        ("reset", "Running", LabState.RUNNING),
    ],
)
def test_a_lab_stuck_in_an_operation_settles_to_its_vms_power_state_instead_of_failing(
    fake_fleet, new_lab, driver_of, admin, settings, django_capture_on_commit_callbacks, operation, vm_state, settled
):
    settings.NESTLAB_TRANSIENT_DEADLINE = 1800
    lab, host = running_lab(new_lab) if operation != "start" else stopped_lab(new_lab, admin)
    with django_capture_on_commit_callbacks():  # the task is lost: nobody runs it
        {
            "checkpoint": lambda: lab_checkpoint(actor=admin, lab=lab, name="snap"),
            "start": lambda: lab_start(actor=admin, lab=lab),
            "stop": lambda: lab_stop(actor=admin, lab=lab),
            "reset": lambda: lab_reset(actor=admin, lab=lab),
        }[operation]()
    driver_of(host).vms[0].state = vm_state
    with django_capture_on_commit_callbacks() as callbacks:
        report = reconcile_host(host_id=host.pk, now=timezone.now() + timedelta(minutes=31))
    lab.refresh_from_db()
    assert report.stuck == 1 and report.cleanups == [] and callbacks == []
    assert lab.state == settled and "did not finish" in lab.last_error
    assert len(driver_of(host).vms) == 1 and Allocation.objects.filter(lab=lab).exists()
    assert (lab.running_since is None) == (settled == LabState.STOPPED)


@pytest.mark.parametrize(
    ("host_has_it", "host_answers", "record_kept"),
    [(True, True, True), (False, True, False), (False, False, True)],
    ids=["the host took it", "the host has none", "the host does not answer"],
)
def test_a_failed_checkpoint_forgets_its_record_only_when_the_host_says_it_has_none(
    fake_fleet, new_lab, driver_of, admin, host_has_it, host_answers, record_kept
):
    # The give-up may follow a checkpoint the host took before the error reached us (a dropped
    # answer): forgetting that record would hide a checkpoint the user can restore.
    lab, host = running_lab(new_lab)
    lab_checkpoint(actor=admin, lab=lab, name="snap")
    if host_has_it:
        driver_of(host).checkpoint_vm(lab.vm_name, "snap")
    if not host_answers:
        driver_of(host).inject_fault("checkpoint_names", error=HostUnreachable("no answer"))
    operations.lab_checkpoint_failed(lab_id=lab.pk, name="snap", was=LabState.RUNNING, reason=BOOM)
    lab.refresh_from_db()
    assert lab.state == LabState.RUNNING and BOOM in lab.last_error
    assert LabCheckpoint.objects.filter(lab=lab, name="snap").exists() is record_kept
