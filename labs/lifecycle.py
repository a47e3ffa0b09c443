"""The lab lifecycle: every state, the named sets, and the one transition table.

This module is the only place that knows which state follows which. ``transition()`` is the only
code that writes ``Lab.state``: it does a compare-and-set update (so two workers can never both
move the same lab), appends a LabEvent, and raises ``InvalidTransition`` for anything the table
does not allow. ``state_diagram()`` renders the table for the README (``manage.py lab_states``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models, transaction
from django.utils import timezone

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

FAILURE = frozenset({S.FAILED})

LIVE = frozenset(set(S) - {S.FAILED, S.DELETED})
"""States that hold (or are about to hold) host resources: quota and capacity count these."""

POWERED = frozenset({S.REQUESTED, S.PROVISIONING, S.STARTING, S.RUNNING, S.RESETTING, S.CHECKPOINTING, S.RESTORING})
"""States counted against the 'running labs' quota: the VM is on or about to be."""

INITIAL = S.REQUESTED

_ENDABLE = LIVE  # delete and expire are allowed from every live state
# settled_* also ends a start or stop that failed on the host: the lab goes back to the power
# state the host reports (a failed user operation never fails the lab).
_BUSY = frozenset({S.STARTING, S.STOPPING, S.RESETTING, S.CHECKPOINTING, S.RESTORING, S.DEGRADED})

TRANSITIONS: dict[tuple[str, str], str] = {
    (S.REQUESTED, E.PLACE): S.PROVISIONING,
    (S.PROVISIONING, E.BUILT): S.RUNNING,
    (S.RUNNING, E.STOP): S.STOPPING,
    (S.STOPPING, E.STOPPED): S.STOPPED,
    (S.STOPPED, E.START): S.STARTING,
    (S.STARTING, E.STARTED): S.RUNNING,
    (S.RUNNING, E.RESET): S.RESETTING,
    (S.STOPPED, E.RESET): S.RESETTING,
    (S.RUNNING, E.CHECKPOINT): S.CHECKPOINTING,
    (S.STOPPED, E.CHECKPOINT): S.CHECKPOINTING,
    (S.RUNNING, E.RESTORE): S.RESTORING,
    (S.STOPPED, E.RESTORE): S.RESTORING,
    **{(busy, E.SETTLED_RUNNING): S.RUNNING for busy in _BUSY},
    **{(busy, E.SETTLED_STOPPED): S.STOPPED for busy in _BUSY},
    (S.RUNNING, E.POWERED_OFF): S.STOPPED,
    (S.STOPPED, E.POWERED_ON): S.RUNNING,
    **{(state, E.HOST_LOST): S.DEGRADED for state in (S.RUNNING, S.STOPPED, S.STARTING, S.STOPPING)},
    **{(state, E.DELETE): S.DELETING for state in _ENDABLE | {S.FAILED} if state != S.DELETING},
    **{(state, E.EXPIRE): S.DELETING for state in _ENDABLE if state != S.DELETING},
    (S.DELETING, E.DELETED): S.DELETED,
    **{(state, E.FAIL): S.FAILED for state in TRANSIENT},
    **{(state, E.VM_LOST): S.FAILED for state in (S.RUNNING, S.STOPPED, S.DEGRADED)},
}


@dataclass(frozen=True)
class Transition:
    source: str
    event: str
    target: str


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


def allowed_events(state: str) -> list[str]:
    return sorted(event for (source, event) in TRANSITIONS if source == state)


def transition(lab, event: str, *, actor=None, message: str = "", **changes):
    """Move ``lab`` along ``event`` by compare-and-set, and append the LabEvent.

    ``changes`` are other Lab fields written in the same UPDATE (for example ``host`` or
    ``last_error``). Raises InvalidTransition if the table forbids the move, or if another
    process moved the lab first (the in-memory ``lab`` is then refreshed). Returns the lab,
    updated in place.
    """
    from labs.models import Lab, LabEvent

    source = lab.state
    target = target_of(source, event)
    now = timezone.now()
    # No savepoint inside a caller's transaction (two fewer round trips): a lost compare-and-set
    # is raised after the block, so it never poisons the caller's transaction; a database error
    # inside it aborts the caller's transaction anyway, as it should.
    with transaction.atomic(savepoint=False):
        updated = Lab.objects.filter(pk=lab.pk, state=source).update(
            state=target, state_changed_at=now, updated_at=now, **changes
        )
        if updated == 1:
            LabEvent.objects.create(
                lab_id=lab.pk, at=now, actor=actor, event=event, from_state=source, to_state=target, message=message
            )
    if updated != 1:
        lab.refresh_from_db(fields=["state"])
        raise InvalidTransition(
            f"The lab changed from {source} to {lab.state} while '{event}' was being applied; try again.",
            state=lab.state,
            event=event,
        )
    lab.state = target
    lab.state_changed_at = now
    lab.updated_at = now
    for field, value in changes.items():
        setattr(lab, field, value)
    return lab


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
