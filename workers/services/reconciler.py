"""The reconciler: make the database and one host agree, from the host's tagged VMs.

It only ever looks at VMs whose Notes carry the Nestlab tag (the driver lists nothing else), so
a VM it did not make is never touched. Per host and pass:
- a host that does not answer goes offline and its settled labs become degraded (nothing is
  deleted); when it answers again it returns to its earlier state and degraded labs recover
  from what the host reports;
- a settled lab whose VM vanished fails, with the reason;
- power-state drift is corrected (a guest that shut itself down makes its lab stopped);
- labs stuck in a transient state past NESTLAB_TRANSIENT_DEADLINE: a built lab stuck in a user
  operation (starting, stopping, resetting, checkpointing, restoring) settles to the power state
  its VM has on the host, with last_error saying so; it is never failed while its VM exists.
  A lab stuck before its VM was built (requested, provisioning), or while being deleted, fails
  and is cleaned up;
- failed labs that still hold capacity are cleaned up;
- tagged VMs without a live lab are deleted once seen for NESTLAB_ORPHAN_GRACE seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labs.lifecycle import transition, unless_moved_on
from labs.models import Lab
from labs.states import LIVE, TRANSIENT, LabEventName, LabState
from workers.dispatch import TaskName, send_lab_task_on_commit
from workers.hyperv.errors import HypervisorError
from workers.hyperv.interface import TaggedVm
from workers.models import Allocation, Host, OrphanSighting
from workers.services.hostcalls import driver_for
from workers.services.hosts import HostChange, host_state_change
from workers.services.metering import meter_lab
from workers.services.operations import OPERATIONS, lab_fail, lab_settle
from workers.services.placement import allocation_release

log = logging.getLogger(__name__)
E = LabEventName
_RUNNING_VM = {"Running"}
_OFF_VM = {"Off"}


@dataclass
class ReconcileReport:
    host: str
    answered: bool = True
    degraded: int = 0
    recovered: int = 0
    vanished: int = 0
    drift: int = 0
    stuck: int = 0
    orphans_deleted: int = 0
    cleanups: list[str] = field(default_factory=list)


def _try(lab: Lab, event: str, **changes) -> bool:
    with unless_moved_on():
        transition(lab, event, **changes)
        return True
    return False


def host_mark_offline(host: Host, reason: str, report: ReconcileReport) -> None:
    """The host does not answer: offline, and its settled labs degraded. Nothing is deleted."""
    host_state_change(actor=None, host=host, change=HostChange.LOST, last_error=reason[:2000])
    for lab in Lab.objects.filter(
        host=host, state__in=[LabState.RUNNING, LabState.STOPPED, LabState.STARTING, LabState.STOPPING]
    ):
        if _try(lab, E.HOST_LOST, message=f"host {host.name} does not answer: {reason}"):
            report.degraded += 1


def reconcile_host(*, host_id, now=None) -> ReconcileReport:
    now = now or timezone.now()
    host = Host.objects.get(pk=host_id)
    report = ReconcileReport(host=host.name)
    try:
        driver = driver_for(host)
        vms = driver.list_tagged_vms()
    except HypervisorError as exc:
        report.answered = False
        host_mark_offline(host, f"{type(exc).__name__}: {exc.host_message}", report)
        return report
    host_state_change(actor=None, host=host, change=HostChange.ANSWERED, last_seen=timezone.now(), last_error="")

    vms_by_lab: dict = {}
    for vm in vms:
        if vm.lab_id is not None:
            vms_by_lab.setdefault(vm.lab_id, []).append(vm)
    labs = list(Lab.objects.filter(host=host).exclude(state=LabState.DELETED).select_related("host"))
    for lab in labs:
        _reconcile_lab(lab, vms_by_lab.get(lab.pk, []), now, report)
    known = {lab.pk for lab in labs}
    _collect_orphans(host, driver, [vm for vm in vms if vm.lab_id not in known], now, report)
    return report


def _reconcile_lab(lab: Lab, vms: list[TaggedVm], now, report: ReconcileReport) -> None:
    deadline = timedelta(seconds=settings.NESTLAB_TRANSIENT_DEADLINE)
    vm = vms[0] if len(vms) == 1 else None
    if len(vms) > 1:
        log.error("lab %s has %d VMs on %s; leaving them for an operator", lab.pk, len(vms), lab.host.name)
    if lab.state == LabState.DEGRADED:
        if vm is None:
            if not vms and lab_fail_settled(lab, "Its VM was gone when the host came back."):
                report.vanished += 1
            return
        event = E.SETTLED_RUNNING if vm.state in _RUNNING_VM else E.SETTLED_STOPPED
        changes = {"running_since": now, "metered_until": now} if vm.state in _RUNNING_VM else {"running_since": None}
        if _try(lab, event, message="host answers again", **changes):
            report.recovered += 1
    elif lab.state in (LabState.RUNNING, LabState.STOPPED):
        if not vms:
            if lab_fail_settled(lab, f"Its VM {lab.vm_name} vanished from host {lab.host.name}."):
                report.vanished += 1
        elif vm is not None and lab.state == LabState.RUNNING and vm.state in _OFF_VM:
            meter_lab(lab_id=lab.pk, now=now)
            if _try(
                lab, E.POWERED_OFF, message="the VM was shut down from inside or outside Nestlab", running_since=None
            ):
                report.drift += 1
        elif vm is not None and lab.state == LabState.STOPPED and vm.state in _RUNNING_VM:
            if _try(
                lab, E.POWERED_ON, message="the VM was started outside Nestlab", running_since=now, metered_until=now
            ):
                report.drift += 1
    elif lab.state in TRANSIENT and now - lab.state_changed_at > deadline:
        minutes = int((now - lab.state_changed_at).total_seconds() // 60)
        reason = f"Stuck in {lab.state} for {minutes} minutes."
        if lab.state in OPERATIONS and vms:
            if vm is not None and _settle_stuck(lab, vm, reason, now):
                report.stuck += 1
            return  # its VM exists: never fail it (two VMs of one name wait for an operator)
        if lab_fail(lab_id=lab.pk, reason=reason):
            report.stuck += 1
            _enqueue_cleanup(lab, report)
    elif lab.state == LabState.FAILED and Allocation.objects.filter(lab=lab).exists():
        _enqueue_cleanup(lab, report)


def _settle_stuck(lab: Lab, vm: TaggedVm, reason: str, now) -> bool:
    """A built lab whose operation never finished: back to the power state its VM has, from the
    inventory just read (a checkpoint row it may not have got is kept; restoring it would say)."""
    message = f"{OPERATIONS[lab.state]} did not finish: {reason} The VM is {vm.state.lower()}."
    return lab_settle(lab, message=message, running=vm.state in _RUNNING_VM, now=now, last_error=message)


def lab_fail_settled(lab: Lab, reason: str) -> bool:
    """Fail a running or stopped lab whose VM is gone; nothing is left to remove, so release now."""
    with transaction.atomic():
        if not _try(lab, E.VM_LOST, message=reason, last_error=reason, running_since=None):
            return False
        allocation_release(lab=lab)
    return True


def _enqueue_cleanup(lab: Lab, report: ReconcileReport) -> None:
    send_lab_task_on_commit(TaskName.LAB_CLEANUP, lab.pk)
    report.cleanups.append(str(lab.pk))


def _collect_orphans(host: Host, driver, strays: list[TaggedVm], now, report: ReconcileReport) -> None:
    grace = timedelta(seconds=settings.NESTLAB_ORPHAN_GRACE)
    live_elsewhere = set(
        Lab.objects.filter(pk__in=[vm.lab_id for vm in strays if vm.lab_id], state__in=LIVE).values_list(
            "pk", flat=True
        )
    )
    seen_ids = set()
    for vm in strays:
        if vm.lab_id in live_elsewhere:
            continue  # a live lab placed on another host: its own host will report it; never delete it
        seen_ids.add(vm.vm_id)
        sighting, _ = OrphanSighting.objects.get_or_create(
            host=host, vm_id=vm.vm_id, defaults={"vm_name": vm.name, "first_seen": now}
        )
        if now - sighting.first_seen >= grace:
            try:
                driver.delete_vm(vm.name, vm_root=host.vm_root)
            except HypervisorError as exc:
                log.warning("orphan %s on %s not deleted yet: %s", vm.name, host.name, exc.host_message)
                continue
            sighting.delete()
            report.orphans_deleted += 1
    OrphanSighting.objects.filter(host=host).exclude(vm_id__in=seen_ids).delete()
