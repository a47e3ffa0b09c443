"""The reconciler against fake hosts: orphans, vanished VMs, drift, stuck labs, host loss."""

from datetime import timedelta

from django.utils import timezone

from labs.states import LabState
from tests.workers.conftest import running_lab
from workers.hyperv.errors import HostUnreachable
from workers.models import Allocation, HostState, OrphanSighting
from workers.services import operations
from workers.services.reconciler import reconcile_host


def test_a_lab_whose_vm_vanished_fails_with_the_reason_and_frees_capacity(fake_fleet, new_lab, driver_of):
    lab, host = running_lab(new_lab)
    driver_of(host).vms.clear()
    report = reconcile_host(host_id=host.pk)
    lab.refresh_from_db()
    assert report.vanished == 1
    assert lab.state == LabState.FAILED and "vanished" in lab.last_error
    assert not Allocation.objects.filter(lab=lab).exists()


def test_a_guest_shutdown_makes_the_lab_stopped(fake_fleet, new_lab, driver_of):
    lab, host = running_lab(new_lab)
    driver_of(host).vms[0].state = "Off"
    assert reconcile_host(host_id=host.pk).drift == 1
    lab.refresh_from_db()
    assert lab.state == LabState.STOPPED and lab.running_since is None
    assert lab.events.filter(event="powered_off").exists()


def test_a_vm_started_outside_nestlab_makes_the_lab_running(fake_fleet, new_lab, driver_of, roomy):
    from labs.services import lab_stop

    lab, host = running_lab(new_lab)
    lab_stop(actor=roomy[1], lab=lab)
    operations.lab_power_off(lab_id=lab.pk)
    driver_of(host).vms[0].state = "Running"
    reconcile_host(host_id=host.pk)
    lab.refresh_from_db()
    assert lab.state == LabState.RUNNING and lab.running_since is not None


def test_orphans_are_deleted_only_after_the_grace_period(fake_fleet, driver_of, settings):
    settings.NESTLAB_ORPHAN_GRACE = 600
    host = fake_fleet[0]
    driver = driver_of(host)
    driver.add_foreign_vm(
        "nestlab-00000000-0000-0000-0000-000000000001", notes="nestlab:00000000-0000-0000-0000-000000000001 tenant:gone"
    )
    now = timezone.now()
    assert reconcile_host(host_id=host.pk, now=now).orphans_deleted == 0
    assert OrphanSighting.objects.count() == 1 and len(driver.vms) == 1
    assert reconcile_host(host_id=host.pk, now=now + timedelta(seconds=601)).orphans_deleted == 1
    assert driver.vms == [] and OrphanSighting.objects.count() == 0


def test_untagged_vms_are_never_touched(fake_fleet, driver_of, settings):
    settings.NESTLAB_ORPHAN_GRACE = 0
    host = fake_fleet[0]
    driver_of(host).add_foreign_vm("domain-controller", notes="production DC, do not touch")
    driver_of(host).add_foreign_vm("scratch")
    reconcile_host(host_id=host.pk, now=timezone.now() + timedelta(days=30))
    assert sorted(vm.name for vm in driver_of(host).vms) == ["domain-controller", "scratch"]


def test_labs_stuck_in_a_transient_state_fail_and_are_cleaned_up(
    fake_fleet, new_lab, settings, django_capture_on_commit_callbacks
):
    settings.NESTLAB_TRANSIENT_DEADLINE = 1800
    lab = new_lab()
    host = operations.lab_place_for_build(lab_id=lab.pk)  # placed, never built: a lost task
    with django_capture_on_commit_callbacks() as callbacks:
        report = reconcile_host(host_id=host.pk, now=timezone.now() + timedelta(minutes=31))
    lab.refresh_from_db()
    assert report.stuck == 1 and report.cleanups == [str(lab.pk)]
    assert lab.state == LabState.FAILED and "Stuck in provisioning" in lab.last_error
    assert len(callbacks) == 1  # the cleanup task, sent once the failure is committed


def test_an_unreachable_host_goes_offline_and_its_labs_degrade_then_recover(fake_fleet, new_lab, driver_of):
    lab, host = running_lab(new_lab)
    driver_of(host).inject_fault("list_tagged_vms", times=1, error=HostUnreachable("connection refused"))
    report = reconcile_host(host_id=host.pk)
    host.refresh_from_db()
    lab.refresh_from_db()
    assert not report.answered and host.state == HostState.OFFLINE and "connection refused" in host.last_error
    assert lab.state == LabState.DEGRADED
    assert Allocation.objects.filter(lab=lab).exists() and len(driver_of(host).vms) == 1  # nothing deleted

    report = reconcile_host(host_id=host.pk)
    host.refresh_from_db()
    lab.refresh_from_db()
    assert report.recovered == 1 and host.state == HostState.ENABLED and lab.state == LabState.RUNNING


def test_a_drained_host_stays_drained_after_an_outage(fake_fleet, driver_of):
    from workers.services.hosts import host_drain

    host = fake_fleet[0]
    host_drain(actor=None, host=host)
    driver_of(host).inject_fault("list_tagged_vms", error=HostUnreachable("down"))
    reconcile_host(host_id=host.pk)
    reconcile_host(host_id=host.pk)
    host.refresh_from_db()
    assert host.state == HostState.DRAINING


def test_failed_labs_that_still_hold_capacity_are_cleaned_up(fake_fleet, new_lab, driver_of, roomy):
    from labs.services import lab_stop

    lab, host = running_lab(new_lab)
    lab_stop(actor=roomy[1], lab=lab)
    assert operations.lab_fail(lab_id=lab.pk, reason="stop failed for good")  # the cleanup task was lost
    report = reconcile_host(host_id=host.pk)
    assert report.cleanups == [str(lab.pk)]
    operations.lab_cleanup(lab_id=lab.pk)
    assert driver_of(host).vms == [] and not Allocation.objects.filter(lab=lab).exists()
