"""The lab lifecycle as data: every state, every event, the named sets and the one transition table.

No model import (as Ironic keeps ``states.py`` apart from the machine): models, selectors and
services read these; ``labs.lifecycle.transition()`` is the only code that applies them to a Lab.
``state_diagram()`` renders the table for the README (``manage.py lab_states``).
"""

from __future__ import annotations

from django.db import models

from config.errors import InvalidTransition


class LabState(models.TextChoices):
    REQUESTED = "requested", "Requested"  # admitted under quota; waiting for a worker to place it
    PROVISIONING = "provisioning", "Provisioning"  # has a host; the VM is being built on it
    STARTING = "starting", "Starting"  # a start was asked for; the worker is powering the VM on
    RUNNING = "running", "Running"  # the VM is on
    STOPPING = "stopping", "Stopping"  # a stop was asked for; graceful shutdown, then power off
    STOPPED = "stopped", "Stopped"  # the VM exists and is off; it still holds its allocation
    RESETTING = "resetting", "Resetting"  # being restored to its clean checkpoint
    CHECKPOINTING = "checkpointing", "Checkpointing"  # a named checkpoint is being taken
    RESTORING = "restoring", "Restoring"  # a named checkpoint is being applied
    DEGRADED = "degraded", "Degraded"  # its host stopped answering; nothing is deleted, we wait
    DELETING = "deleting", "Deleting"  # the VM, disk, folder and (maybe) switch are being removed
    DELETED = "deleted", "Deleted"  # gone from the host; allocation released; kept for history
    FAILED = "failed", "Failed"  # an operation failed for good; last_error says why


class LabEventName(models.TextChoices):
    REQUEST = "request", "request"  # lab_request admitted the lab (creates it in REQUESTED)
    PLACE = "place", "place"  # lab_place reserved capacity on a host
    BUILT = "built", "built"  # the worker finished building and starting the VM
    START = "start", "start"  # lab_start (user, course schedule)
    STARTED = "started", "started"  # the worker saw the VM come up
    STOP = "stop", "stop"  # lab_stop (user, schedule, quota enforcement)
    STOPPED = "stopped", "stopped"  # the worker saw the VM go off
    RESET = "reset", "reset"  # lab_reset
    CHECKPOINT = "checkpoint", "checkpoint"  # lab_checkpoint
    RESTORE = "restore", "restore"  # lab_restore
    SETTLED_RUNNING = "settled_running", "settled_running"  # an operation ended with the VM on
    SETTLED_STOPPED = "settled_stopped", "settled_stopped"  # an operation ended with the VM off
    POWERED_OFF = "powered_off", "powered_off"  # reconciler: the guest shut itself down
    POWERED_ON = "powered_on", "powered_on"  # reconciler: the VM was started outside Nestlab
    HOST_LOST = "host_lost", "host_lost"  # reconciler: the host stopped answering
    DELETE = "delete", "delete"  # lab_delete
    EXPIRE = "expire", "expire"  # the expiry schedule
    DELETED = "deleted", "deleted"  # the worker removed everything from the host
    FAIL = "fail", "fail"  # a permanent error or a stuck transient state
    VM_LOST = "vm_lost", "vm_lost"  # reconciler: a settled lab's VM is gone from its host


S = LabState
E = LabEventName

STABLE = frozenset({S.RUNNING, S.STOPPED, S.DEGRADED, S.FAILED, S.DELETED})
"""Nothing is in progress; only a user, a schedule or the reconciler moves the lab on."""

TRANSIENT = frozenset(
    {S.REQUESTED, S.PROVISIONING, S.STARTING, S.STOPPING, S.RESETTING, S.CHECKPOINTING, S.RESTORING, S.DELETING}
)
"""A worker owes the lab a step; the reconciler fails labs that stay here past their deadline."""

LIVE = frozenset(set(S) - {S.FAILED, S.DELETED})
"""States that hold (or are about to hold) host resources: quota and capacity count these."""

POWERED = frozenset({S.REQUESTED, S.PROVISIONING, S.STARTING, S.RUNNING, S.RESETTING, S.CHECKPOINTING, S.RESTORING})
"""States counted against the 'running labs' quota: the VM is on or about to be."""

INITIAL = S.REQUESTED

SETTLEABLE = frozenset({S.STARTING, S.STOPPING, S.RESETTING, S.CHECKPOINTING, S.RESTORING, S.DEGRADED})
"""States that end with the VM's power state (settled_running or settled_stopped): an operation on
a built lab (start, stop, reset, checkpoint, restore) finished or failed on the host (a failed user
operation never fails the lab), or a degraded lab's host answers again."""

# (source, event) -> target. Each row says what fires the event.
TRANSITIONS: dict[tuple[str, str], str] = {
    # workers.services.placement.lab_place (the lab_place task) reserved capacity on a host
    (S.REQUESTED, E.PLACE): S.PROVISIONING,
    # workers.services.operations.lab_build finished building and starting the VM
    (S.PROVISIONING, E.BUILT): S.RUNNING,
    # labs.services.lab_stop (a user; the schedules' hour limits and continuous-running limit)
    (S.RUNNING, E.STOP): S.STOPPING,
    # workers.services.operations.lab_power_off saw the VM go off
    (S.STOPPING, E.STOPPED): S.STOPPED,
    # labs.services.lab_start (a user; the schedules' course windows)
    (S.STOPPED, E.START): S.STARTING,
    # workers.services.operations.lab_power_on saw the VM come up
    (S.STARTING, E.STARTED): S.RUNNING,
    # labs.services.lab_reset
    (S.RUNNING, E.RESET): S.RESETTING,
    (S.STOPPED, E.RESET): S.RESETTING,
    # labs.services.lab_checkpoint
    (S.RUNNING, E.CHECKPOINT): S.CHECKPOINTING,
    (S.STOPPED, E.CHECKPOINT): S.CHECKPOINTING,
    # labs.services.lab_restore
    (S.RUNNING, E.RESTORE): S.RESTORING,
    (S.STOPPED, E.RESTORE): S.RESTORING,
    # workers.services.operations (reset, checkpoint and restore runs; any operation that failed on
    # the host, start and stop included) and the
    # reconciler when a degraded lab's host answers again: back to the VM's power state
    **{(state, E.SETTLED_RUNNING): S.RUNNING for state in SETTLEABLE},
    **{(state, E.SETTLED_STOPPED): S.STOPPED for state in SETTLEABLE},
    # the reconciler: the guest shut itself down, or the VM was started outside Nestlab (drift)
    (S.RUNNING, E.POWERED_OFF): S.STOPPED,
    (S.STOPPED, E.POWERED_ON): S.RUNNING,
    # the reconciler: the host stopped answering; nothing is deleted
    **{(state, E.HOST_LOST): S.DEGRADED for state in (S.RUNNING, S.STOPPED, S.STARTING, S.STOPPING)},
    # labs.services.lab_delete, from every live state and from failed
    **{(state, E.DELETE): S.DELETING for state in LIVE | {S.FAILED} if state != S.DELETING},
    # labs.services.lab_expire (the schedules' expiry), from every live state
    **{(state, E.EXPIRE): S.DELETING for state in LIVE if state != S.DELETING},
    # workers.services.operations.lab_teardown removed everything from the host
    (S.DELETING, E.DELETED): S.DELETED,
    # workers.services.operations.lab_fail: a task gave up, the reconciler found the lab stuck past
    # its deadline, or the schedules gave up waiting for placement
    **{(state, E.FAIL): S.FAILED for state in TRANSIENT},
    # the reconciler (lab_fail_settled): a built lab's VM is gone from its host
    **{(state, E.VM_LOST): S.FAILED for state in (S.RUNNING, S.STOPPED, S.DEGRADED)},
}


def target_of(state: str, event: str) -> str:
    """The state ``event`` leads to from ``state``, or InvalidTransition."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        allowed = sorted(event for (source, event) in TRANSITIONS if source == state)
        raise InvalidTransition(
            f"A lab that is {state} cannot {event}. Allowed now: {', '.join(allowed) or 'nothing'}.",
            state=state,
            event=event,
        ) from None


def state_diagram() -> str:
    """A Mermaid state diagram of the table, as shown in the README."""
    edges: dict[tuple[str, str], list[str]] = {}
    for (source, event), target in sorted(TRANSITIONS.items()):
        edges.setdefault((source, target), []).append(event)
    lines = ["stateDiagram-v2", f"    [*] --> {INITIAL}"]
    for (source, target), events in edges.items():
        lines.append(f"    {source} --> {target}: {', '.join(events)}")
    lines.append(f"    {S.DELETED} --> [*]")
    return "\n".join(lines)
