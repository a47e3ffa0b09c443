"""Provisioning survives duplicate delivery, worker crashes, host restarts, flaky hosts and outages.

Real Celery worker processes, PostgreSQL, Redis and simulated hosts over HTTP.
"""

import subprocess
import sys
import time
from collections import Counter

import pytest

from labs.models import Lab
from labs.services import lab_request
from labs.states import LIVE, LabState
from tests import factories
from tests.integration.harness import ROOT, Worker, database_url, host_for, wait_until
from workers import tasks
from workers.dispatch import TaskName, send_lab_task
from workers.models import Allocation, HostState
from workers.services.reconciler import reconcile_host

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

SETTLED = {LabState.RUNNING, LabState.FAILED}


def _tenant_with_labs(count, hosts_needed=3):
    tenant = factories.tenant(
        "chaos", max_labs=200, max_running_labs=200, max_vcpus=1000, max_memory_mb=1_000_000, max_storage_gb=100_000
    )
    admin = factories.member(tenant, "chaos-admin", "admin")
    template = factories.template(tenant, "t")
    return tenant, admin, template


def _vms_by_lab(handles):
    owners = Counter()
    for sim in handles:
        for vm in sim.state()["vms"]:
            if vm["notes"].startswith("nestlab:"):
                owners[vm["notes"].split()[0].removeprefix("nestlab:")] += 1
    return owners


def _assert_nothing_leaks(handles, hosts):
    """No tagged VM without a live lab, no allocation without a live lab, no lab with two VMs."""
    live = {str(pk) for pk in Lab.objects.filter(state__in=LIVE).values_list("pk", flat=True)}
    owners = _vms_by_lab(handles)
    assert set(owners) <= live, f"tagged VMs without a live lab: {set(owners) - live}"
    assert max(owners.values(), default=1) == 1, f"labs with two VMs: {[k for k, n in owners.items() if n > 1]}"
    stray = Allocation.objects.exclude(lab__state__in=LIVE)
    assert not stray.exists(), f"allocations without a live lab: {list(stray.values_list('lab_id', flat=True))}"


def test_every_task_sent_twice_still_yields_one_vm_per_lab(worker, sims):
    handles = sims(2)
    hosts = [host_for(sim, f"dup{n}") for n, sim in enumerate(handles)]
    _, admin, template = _tenant_with_labs(10)
    labs = [lab_request(actor=admin, template=template) for _ in range(10)]
    for lab in labs:  # lab_request already sent lab_place once on commit; send everything again
        tasks.lab_place.apply_async(args=[str(lab.pk)])
        tasks.lab_place.apply_async(args=[str(lab.pk)])
    wait_until(
        lambda: (
            Lab.objects.filter(state=LabState.PROVISIONING).count() + Lab.objects.filter(state=LabState.RUNNING).count()
            == 10
        ),
        timeout=60,
        what="all labs placed",
    )
    for lab in Lab.objects.filter(pk__in=[lab.pk for lab in labs]).select_related("host"):
        send_lab_task(TaskName.LAB_BUILD, lab)
        send_lab_task(TaskName.LAB_BUILD, lab)
    wait_until(
        lambda: Lab.objects.filter(state=LabState.RUNNING).count() == 10,
        timeout=90,
        what=f"10 running labs\n{worker.log_tail()}",
    )
    time.sleep(1)  # let any late duplicate finish
    owners = _vms_by_lab(handles)
    assert len(owners) == 10 and set(owners.values()) == {1}
    assert Allocation.objects.count() == 10
    for lab in Lab.objects.select_related("host"):  # and deleting twice is as harmless
        from labs.services import lab_delete

        lab_delete(actor=admin, lab=lab)
        send_lab_task(TaskName.LAB_TEARDOWN, lab)
    wait_until(lambda: Lab.objects.filter(state=LabState.DELETED).count() == 10, timeout=60, what="all deleted")
    assert _vms_by_lab(handles) == Counter() and Allocation.objects.count() == 0
    assert {h.pk for h in hosts}


def test_chaos_kills_restarts_and_flaky_hosts_leave_nothing_behind(transactional_db, settings, sims):
    """40 labs provision while the worker is SIGKILLed twice, a host restarts and 10% of key cmdlets drop."""
    from tests.integration.harness import purge_broker

    settings.NESTLAB_DRIVER_FACTORY = "workers.services.hostcalls.winrm_driver"
    settings.NESTLAB_ORPHAN_GRACE = 0
    purge_broker()
    handles = sims(3, latency="realistic", time_scale=0.05, seed=7)
    hosts = [host_for(sim, f"chaos{n}") for n, sim in enumerate(handles)]
    for sim in handles:
        for cmdlet in ("New-VM", "New-VHD", "Set-VMProcessor", "Start-VM", "Checkpoint-VM", "New-VMSwitch"):
            sim.add_fault("drop", cmdlet=cmdlet, probability=0.1)
    _, admin, template = _tenant_with_labs(40)
    fast_recovery = {
        "CELERY_VISIBILITY_TIMEOUT": "8",
        "NESTLAB_HOST_LEASE_SECONDS": "12",
        "NESTLAB_WINRM_CALL_DEADLINE": "20",
    }
    worker = Worker(env=fast_recovery).start()
    try:
        labs = [lab_request(actor=admin, template=template) for _ in range(40)]
        time.sleep(2.5)
        worker.kill()
        worker = Worker(env=fast_recovery).start()
        time.sleep(1.5)
        handles[1].restart()
        time.sleep(1.5)
        worker.kill()
        worker = Worker(env=fast_recovery).start()
        wait_until(
            lambda: set(Lab.objects.filter(pk__in=[lab.pk for lab in labs]).values_list("state", flat=True)) <= SETTLED,
            timeout=240,
            interval=1,
            what=f"every lab running or failed: {Counter(Lab.objects.values_list('state', flat=True))}\n"
            f"{worker.log_tail()}",
        )
    finally:
        worker.stop()
    for sim in handles:
        sim.clear_faults()
    for host in hosts:
        reconcile_host(host_id=host.pk)
    from workers.services import operations

    for lab in Lab.objects.filter(state=LabState.FAILED):  # cleanup the reconciler asked for, done here
        operations.lab_cleanup(lab_id=lab.pk)

    states = Counter(Lab.objects.values_list("state", flat=True))
    assert set(states) <= SETTLED, states
    assert all(lab.last_error for lab in Lab.objects.filter(state=LabState.FAILED))
    assert states[LabState.RUNNING] >= 30, states  # transient faults are retried, not fatal
    _assert_nothing_leaks(handles, hosts)


def test_a_lost_host_goes_offline_and_its_labs_recover_when_it_returns(worker, sims):
    handles = sims(1)
    [host] = [host_for(handles[0], "lossy")]
    _, admin, template = _tenant_with_labs(3)
    labs = [lab_request(actor=admin, template=template) for _ in range(3)]
    wait_until(lambda: Lab.objects.filter(state=LabState.RUNNING).count() == 3, timeout=60, what="3 running")

    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            f"/tmp/nestlab-beat-{host.pk}-{time.time_ns()}",
        ],
        cwd=ROOT,
        env={
            **__import__("os").environ,
            "DATABASE_URL": database_url(),
            "NESTLAB_RECONCILE_INTERVAL": "5",
            "NESTLAB_SCHEDULE_INTERVAL": "3600",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        handles[0].outage(seconds=15)
        wait_until(
            lambda: Lab.objects.filter(state=LabState.DEGRADED).count() == 3,
            timeout=30,
            interval=0.5,
            what=f"labs degraded\n{worker.log_tail()}",
        )
        host.refresh_from_db()
        assert host.state == HostState.OFFLINE
        assert Allocation.objects.count() == 3  # nothing was deleted
        wait_until(
            lambda: Lab.objects.filter(state=LabState.RUNNING).count() == 3,
            timeout=40,
            interval=0.5,
            what=f"labs recovered\n{worker.log_tail()}",
        )
        host.refresh_from_db()
        assert host.state == HostState.ENABLED
        assert set(_vms_by_lab(handles)) == {str(lab.pk) for lab in labs}
    finally:
        beat.terminate()
        beat.wait(10)


def test_a_checkpoint_the_host_refuses_returns_the_lab_to_running_with_its_vm(worker, sims):
    """Through a real worker and hvsim: the host fails Checkpoint-VM; the lab is running again,
    says why in last_error and an event, and its VM, disk and allocation are all still there."""
    from labs.services import lab_checkpoint

    [sim] = sims(1)
    host_for(sim, "cp0")
    _, admin, template = _tenant_with_labs(1)
    lab = lab_request(actor=admin, template=template)
    wait_until(
        lambda: Lab.objects.get(pk=lab.pk).state == LabState.RUNNING,
        timeout=60,
        what=f"the lab running\n{worker.log_tail()}",
    )
    sim.add_fault("error", cmdlet="Checkpoint-VM", message="The checkpoint store is corrupt.", times=20)
    lab_checkpoint(actor=admin, lab=Lab.objects.get(pk=lab.pk), name="before upgrade")
    wait_until(
        lambda: Lab.objects.get(pk=lab.pk).last_error != "",
        timeout=60,
        what=f"the checkpoint to fail\n{worker.log_tail()}",
    )
    lab.refresh_from_db()
    assert lab.state == LabState.RUNNING and "The checkpoint store is corrupt." in lab.last_error
    assert lab.events.filter(event="settled_running", message__contains="checkpoint failed").exists()
    assert not lab.events.filter(event="fail").exists() and not lab.checkpoints.exists()
    [vm] = [vm for vm in sim.state()["vms"] if vm["name"] == lab.vm_name]
    assert vm["state"] == "Running"
    assert Allocation.objects.filter(lab=lab).exists()
