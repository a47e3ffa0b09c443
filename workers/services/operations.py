"""What workers do to hosts for a lab: build, power, reset, checkpoints, teardown, failure.

Each function takes ids, loads rows, checks that the lab is in the state the operation belongs
to (a duplicate or late delivery finds it moved on and does nothing), talks to the host through
the driver outside any database transaction, holding one of the host's operation slots, and
then moves the lab on through ``labs.lifecycle.transition``. Driver errors propagate: the task
retries the transient ones. For the rest, a failed *build* fails the lab (``lab_fail``, then
``lab_cleanup``); a failed user operation on a built lab (start, stop, reset, checkpoint, restore,
checkpoint removal) never does: ``lab_operation_failed`` puts the lab back in a stable state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.errors import HostBusy
from labs.lifecycle import lab_note, lab_notes_add, transition, unless_moved_on
from labs.models import Lab, LabCheckpoint
from labs.states import TRANSIENT, LabEventName, LabState
from workers.hyperv.errors import HypervisorError, NotFound
from workers.hyperv.interface import VmSpec
from workers.models import Allocation, Host
from workers.services.hostcalls import driver_for, host_slot, lab_lease
from workers.services.metering import meter_lab
from workers.services.networks import (
    network_prepare,
    segment_release_if_unused,
    switch_ensure,
    switch_forget,
    switch_release,
)
from workers.services.placement import allocation_release, lab_place

log = logging.getLogger(__name__)
E = LabEventName


def _load(lab_id) -> Lab:
    return Lab.objects.select_related("tenant", "template_version", "host", "owner").get(pk=lab_id)


@contextmanager
def _claim(lab_id, state: str) -> Iterator[Lab | None]:
    """Hold the lab's worker lease and yield the lab if it is in ``state``, else None.

    A duplicate or late delivery finds the lab moved on and does nothing."""
    with lab_lease(lab_id):
        lab = _load(lab_id)
        if lab.state != state:
            log.info("lab %s is %s, not %s: nothing to do", lab_id, lab.state, state)
            yield None
        else:
            yield lab


def _settle(lab: Lab, was: str, **changes) -> None:
    event = E.SETTLED_RUNNING if was == LabState.RUNNING else E.SETTLED_STOPPED
    transition(lab, event, **changes)


def vm_spec(lab: Lab, switch_name: str, vlan_id: int | None, nat_segment: str | None = None) -> VmSpec:
    shape = lab.template_version
    return VmSpec(
        name=lab.vm_name,
        lab_id=lab.pk if isinstance(lab.pk, UUID) else UUID(str(lab.pk)),
        tenant_slug=lab.tenant.slug,
        vcpus=shape.vcpus,
        memory_mb=shape.memory_mb,
        disk_gb=shape.disk_gb,
        base_image_path=shape.base_image_path,
        vm_root=lab.host.vm_root,
        generation=shape.generation,
        config_version=shape.config_version,
        secure_boot=shape.secure_boot,
        switch_name=switch_name,
        vlan_id=vlan_id,
        nat_segment=nat_segment,
        nat_pool=str(settings.NESTLAB_NAT_POOL) if nat_segment else None,
    )


def lab_place_for_build(*, lab_id) -> Host | None:
    """Reserve capacity (idempotent). Returns the host, or None if the lab no longer needs one."""
    with unless_moved_on():
        return lab_place(lab_id=lab_id).host
    return None  # no longer waiting for a host (deleted meanwhile, say)


def lab_build(*, lab_id) -> None:
    """Build and start the lab's VM on its host: switch, disk, VM, nesting, guards, tag, checkpoint.

    Every step is an idempotent ensure keyed by the lab's VM name, so a second delivery, or a run
    after a crash at any step, completes the lab instead of making a second VM.
    """
    with _claim(lab_id, LabState.PROVISIONING) as lab:
        if lab is None:
            return
        driver = driver_for(lab.host)
        with host_slot(lab.host), driver.session():
            switch, vlan_id = network_prepare(lab, external_adapter=lab.host.external_adapter)
            asked_host = switch_ensure(lab, switch, driver)
            steps: list[tuple[str, object]] = [("build.switch", timezone.now())]
            spec = vm_spec(lab, switch.name, vlan_id, switch.nat_prefix)
            record = lambda step: steps.append((f"build.{step}", timezone.now()))  # noqa: E731
            try:
                try:
                    vm_id = driver.ensure_vm(spec, on_step=record)
                except NotFound:
                    if asked_host:
                        raise
                    switch_forget(lab, switch.name)  # our record said it was there; ask the host
                    switch_ensure(lab, switch, driver)
                    vm_id = driver.ensure_vm(spec, on_step=record)
            finally:  # the steps done are history even when a later one failed
                lab_notes_add(lab=lab, events=steps)
            driver.start_vm(lab.vm_name)
        now = timezone.now()
        transition(
            lab, E.BUILT, running_since=now, metered_until=now, vm_id=vm_id, message=f"running on {lab.host.name}"
        )


def lab_power_on(*, lab_id) -> None:
    with _claim(lab_id, LabState.STARTING) as lab:
        if lab is None:
            return
        with host_slot(lab.host):
            driver_for(lab.host).start_vm(lab.vm_name)
        now = timezone.now()
        transition(lab, E.STARTED, running_since=now, metered_until=now)


def lab_power_off(*, lab_id) -> None:
    with _claim(lab_id, LabState.STOPPING) as lab:
        if lab is None:
            return
        with host_slot(lab.host):
            driver_for(lab.host).stop_vm(lab.vm_name, graceful_timeout_s=settings.NESTLAB_STOP_GRACE)
        meter_lab(lab_id=lab.pk)
        transition(lab, E.STOPPED, running_since=None)


def lab_reset_run(*, lab_id, was: str) -> None:
    with _claim(lab_id, LabState.RESETTING) as lab:
        if lab is None:
            return
        with host_slot(lab.host):
            driver_for(lab.host).reset_vm(lab.vm_name)
        _settle(lab, was)


def lab_checkpoint_run(*, lab_id, name: str, was: str) -> None:
    with _claim(lab_id, LabState.CHECKPOINTING) as lab:
        if lab is None:
            return
        with host_slot(lab.host):
            driver_for(lab.host).checkpoint_vm(lab.vm_name, name)
        _settle(lab, was, message=f"checkpoint {name} taken")


def lab_restore_run(*, lab_id, name: str, was: str) -> None:
    with _claim(lab_id, LabState.RESTORING) as lab:
        if lab is None:
            return
        with host_slot(lab.host):
            driver_for(lab.host).restore_vm(lab.vm_name, name)
        _settle(lab, was, message=f"checkpoint {name} applied")


def lab_checkpoint_remove_run(*, lab_id, name: str) -> None:
    """Remove a named checkpoint from the host, then forget it. Idempotent (absent is success)."""
    with lab_lease(lab_id):
        lab = _load(lab_id)
        if lab.host_id is None or lab.state not in (LabState.RUNNING, LabState.STOPPED):
            return
        with host_slot(lab.host):
            driver_for(lab.host).remove_checkpoint(lab.vm_name, name)
        LabCheckpoint.objects.filter(lab_id=lab_id, name=name).delete()


def _remove_from_host(lab: Lab) -> None:
    """Delete the VM, its disk and folder, and its switch if nothing else uses it. Idempotent."""
    if lab.host_id is None:
        return
    driver = driver_for(lab.host)
    with host_slot(lab.host):
        driver.delete_vm(lab.vm_name, vm_root=lab.host.vm_root)
        switch_release(lab, driver)


def lab_teardown(*, lab_id) -> None:
    """Remove a deleting lab from its host, then release its capacity and mark it deleted."""
    with _claim(lab_id, LabState.DELETING) as lab:
        if lab is None:
            return
        meter_lab(lab_id=lab.pk)
        _remove_from_host(lab)
        with transaction.atomic():
            allocation_release(lab=lab)
            transition(lab, E.DELETED, running_since=None)
    segment_release_if_unused(lab.tenant)


def lab_fail(*, lab_id, reason: str) -> bool:
    """Fail a lab stuck in a transient state, keeping the reason. Returns False if it had moved on."""
    lab = Lab.objects.filter(pk=lab_id).first()
    if lab is None or lab.state not in TRANSIENT:
        return False
    with unless_moved_on():
        transition(lab, E.FAIL, message=reason, last_error=reason[:2000], running_since=None)
        return True
    return False


def lab_cleanup(*, lab_id) -> None:
    """Remove what a failed lab left on its host, then release its capacity. Idempotent.

    Capacity is released only after the host confirms the VM is gone; if the host cannot be
    reached the error propagates, the task retries, and the reconciler tries again later.
    """
    with _claim(lab_id, LabState.FAILED) as lab:
        if lab is None or not Allocation.objects.filter(lab=lab).exists():
            return
        _remove_from_host(lab)
        allocation_release(lab=lab)
        lab_note(lab=lab, event="cleanup", message="removed from host; capacity released")
    segment_release_if_unused(lab.tenant)


#: The state each user operation holds a built lab in while the worker runs it, and its name.
OPERATIONS = {
    LabState.STARTING: "start",
    LabState.STOPPING: "stop",
    LabState.RESETTING: "reset",
    LabState.CHECKPOINTING: "checkpoint",
    LabState.RESTORING: "restore",
}


#: How long a give-up waits for one of the host's operation slots to ask it a read-only question.
ASK_HOST_WAIT_S = 5


def _ask_host(lab: Lab, question: str, ask):
    """``ask(driver)`` under one of the host's operation slots, or None if the host does not say
    (no host, busy, unreachable, the VM is gone, any error): the caller then falls back."""
    if lab.host_id is None:
        return None
    try:
        with host_slot(lab.host, wait_s=ASK_HOST_WAIT_S):
            return ask(driver_for(lab.host))
    except (HypervisorError, HostBusy) as exc:
        log.info("lab %s: no %s from %s: %s", lab.pk, question, lab.host.name, getattr(exc, "host_message", exc))
        return None


def _host_power(lab: Lab) -> str | None:
    """The VM's power state as the host reports it ("Running", "Off", ...), or None."""
    return _ask_host(lab, "power state", lambda driver: driver.vm_status(lab.vm_name).state)


def lab_settle(
    lab: Lab, *, message: str, was: str | None = None, running: bool | None = None, now=None, **changes
) -> bool:
    """Move a built lab out of an operation's transient state to the stable state its VM is in.

    ``running`` says the VM's power when the caller knows it (the reconciler, from the inventory
    it just read). Otherwise the host is asked (an operation may have got half way: a stop that
    powered off, a start that did not), and if it does not say, the lab returns to ``was``, the
    state it was in before. A VM that vanished is left to the reconciler (``vm_lost``). Meters
    running time when the lab ends up off. Returns False if the lab had moved on meanwhile.
    """
    now = now or timezone.now()
    if running is None:
        power = _host_power(lab)
        running = power == "Running" if power in ("Running", "Off") else was == LabState.RUNNING
    if running:
        if lab.running_since is None:
            changes.update(running_since=now, metered_until=now)
        event = E.SETTLED_RUNNING
    else:
        if lab.running_since is not None:
            meter_lab(lab_id=lab.pk, now=now)
        changes.update(running_since=None)
        event = E.SETTLED_STOPPED
    with unless_moved_on():
        transition(lab, event, message=message, **changes)
        return True
    return False


def lab_operation_failed(*, lab_id, state: str, was: str, reason: str) -> bool:
    """A user operation failed for good on the host: the lab goes back to a stable state (see
    ``lab_settle``) with ``last_error`` and an event saying why. It is never failed or deleted:
    only a failed build fails a lab. Returns False if the lab is no longer in ``state``."""
    lab = Lab.objects.select_related("host").filter(pk=lab_id).first()
    if lab is None or lab.state != state or state not in OPERATIONS:
        return False
    message = f"{OPERATIONS[state]} failed: {reason}"
    return lab_settle(lab, was=was, message=message, last_error=message[:2000])


def lab_checkpoint_remove_failed(*, lab_id, name: str, reason: str) -> None:
    """Removing a checkpoint failed for good: the lab stays as it is; say why, keep the record."""
    lab = Lab.objects.filter(pk=lab_id).first()
    if lab is None:
        return
    message = f"removing checkpoint {name} failed: {reason}"
    Lab.objects.filter(pk=lab_id).update(last_error=message[:2000], updated_at=timezone.now())
    lab_note(lab=lab, event="checkpoint_remove_failed", message=message)


def lab_checkpoint_failed(*, lab_id, name: str, was: str, reason: str) -> bool:
    """Taking a checkpoint failed for good: forget its record only if the host answers that it
    has no checkpoint of that name (it may have taken it before the error; a kept record can be
    restored or removed), then settle the lab as any failed operation (``lab_operation_failed``)."""
    lab = Lab.objects.select_related("host").filter(pk=lab_id).first()
    if lab is not None and lab.state == LabState.CHECKPOINTING:
        names = _ask_host(lab, "checkpoint list", lambda driver: driver.checkpoint_names(lab.vm_name))
        if names is not None and name.lower() not in {taken.lower() for taken in names}:
            LabCheckpoint.objects.filter(lab_id=lab_id, name=name).delete()
    return lab_operation_failed(lab_id=lab_id, state=LabState.CHECKPOINTING, was=was, reason=reason)
