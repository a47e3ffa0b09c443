"""Celery tasks: ids in, one service call, the retry policy. Nothing else lives here.

- Every task is idempotent (the services check state first and every host step is an ensure),
  which is what makes late acknowledgement (CELERY_TASK_ACKS_LATE) and redelivery safe.
- Transient errors (host unreachable, timeouts, no capacity yet) are retried with exponential
  backoff and jitter, capped at MAX_BACKOFF seconds, so waits are short re-enqueued polls rather
  than long ETAs. A busy host or lab is polled again within a second, without using up retries.
  Permanent errors, or transient ones that outlast MAX_RETRIES, fail a lab being built (or
  deleted) with the reason, and its leftovers are cleaned up. A user operation on a built lab
  (start, stop, reset, checkpoint, restore, checkpoint removal) that fails never fails the lab:
  it goes back to a stable state with ``last_error`` and an event (operations.lab_operation_failed).
- Host work is routed to the queue ``hosts.<site>`` of the lab's host, so an operator can run one
  worker pool per site, next to its hosts. Placement and schedules use the default queue.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.db import InterfaceError, OperationalError

from labs.lifecycle import unless_moved_on
from labs.models import Lab
from labs.states import LabState
from workers.dispatch import TaskName, host_queue, send_lab_task_on_commit
from workers.models import Host
from workers.services import hosts, operations, reconciler, schedules

log = logging.getLogger(__name__)

MAX_RETRIES = 12
MAX_BACKOFF = 60


def _is_transient(exc: Exception) -> bool:
    """Retrying can help: a transient host or domain error, or the database going away or
    choosing this transaction as a deadlock victim."""
    return getattr(exc, "transient", False) or isinstance(exc, (OperationalError, InterfaceError))


def _backoff(retries: int) -> float:
    return min(MAX_BACKOFF, 2**retries) * random.uniform(0.5, 1.0)


def _run(task, lab_id, operation, *, on_give_up=None):
    """Run ``operation()``; retry transient errors; on a permanent one call ``on_give_up(reason)``,
    or, without one (build and teardown), fail the lab and clean up after it."""
    try:
        # Someone moved the lab on meanwhile (a delete during a build, say): their operation
        # owns it now, and failing it here would undo their decision.
        with unless_moved_on() as moved:
            return operation()
        log.info("lab %s moved on during %s: %s", lab_id, task.name, moved.error)
        return None
    except Lab.DoesNotExist:
        log.info("lab %s is gone; %s has nothing to do", lab_id, task.name)
        return None
    except Exception as exc:
        if getattr(exc, "wait_and_retry", False):
            # A busy host or lab is not a failure: poll again soon, without using up retries.
            # The reconciler fails a lab that stays in a transient state past its deadline.
            raise task.retry(exc=exc, countdown=random.uniform(0.2, 1.0), max_retries=None) from None
        if _is_transient(exc) and task.request.retries < MAX_RETRIES:
            raise task.retry(exc=exc, countdown=_backoff(task.request.retries)) from None
        reason = getattr(exc, "host_message", None) or getattr(exc, "message", None) or str(exc)
        log.warning("lab %s: %s failed for good: %s", lab_id, task.name, reason)
        reason = f"{type(exc).__name__}: {reason}"
        if on_give_up is not None:
            on_give_up(reason)
        elif operations.lab_fail(lab_id=lab_id, reason=reason):
            send_lab_task_on_commit(TaskName.LAB_CLEANUP, lab_id)
        return None


def _settle_on_failure(lab_id, state: str, was: str):
    """The give-up of a user operation: back to a stable state, never failed."""
    return lambda reason: operations.lab_operation_failed(lab_id=lab_id, state=state, was=was, reason=reason)


lab_task = shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)


@lab_task
def lab_place(self, lab_id: str) -> None:
    """Place the lab, then build it: right here if this worker serves the host's site (one task
    instead of two), otherwise on that site's queue."""
    host = _run(self, lab_id, lambda: operations.lab_place_for_build(lab_id=lab_id))
    if host is None:
        return
    queue = host_queue(host.site)
    if queue in self.app.amqp.queues.consume_from:
        # A retry re-runs this task: placement is then a no-op and the build resumes.
        _run(self, lab_id, lambda: operations.lab_build(lab_id=lab_id))
    else:
        lab_build.apply_async(args=[lab_id], queue=queue)


@lab_task
def lab_build(self, lab_id: str) -> None:
    _run(self, lab_id, lambda: operations.lab_build(lab_id=lab_id))


@lab_task
def lab_power_on(self, lab_id: str) -> None:
    _run(
        self,
        lab_id,
        lambda: operations.lab_power_on(lab_id=lab_id),
        on_give_up=_settle_on_failure(lab_id, LabState.STARTING, LabState.STOPPED),
    )


@lab_task
def lab_power_off(self, lab_id: str) -> None:
    _run(
        self,
        lab_id,
        lambda: operations.lab_power_off(lab_id=lab_id),
        on_give_up=_settle_on_failure(lab_id, LabState.STOPPING, LabState.RUNNING),
    )


@lab_task
def lab_reset(self, lab_id: str, was: str) -> None:
    _run(
        self,
        lab_id,
        lambda: operations.lab_reset_run(lab_id=lab_id, was=was),
        on_give_up=_settle_on_failure(lab_id, LabState.RESETTING, was),
    )


@lab_task
def lab_checkpoint(self, lab_id: str, name: str, was: str) -> None:
    _run(
        self,
        lab_id,
        lambda: operations.lab_checkpoint_run(lab_id=lab_id, name=name, was=was),
        on_give_up=lambda reason: operations.lab_checkpoint_failed(lab_id=lab_id, name=name, was=was, reason=reason),
    )


@lab_task
def lab_restore(self, lab_id: str, name: str, was: str) -> None:
    _run(
        self,
        lab_id,
        lambda: operations.lab_restore_run(lab_id=lab_id, name=name, was=was),
        on_give_up=_settle_on_failure(lab_id, LabState.RESTORING, was),
    )


@lab_task
def lab_checkpoint_remove(self, lab_id: str, name: str) -> None:
    _run(
        self,
        lab_id,
        lambda: operations.lab_checkpoint_remove_run(lab_id=lab_id, name=name),
        on_give_up=lambda reason: operations.lab_checkpoint_remove_failed(lab_id=lab_id, name=name, reason=reason),
    )


@lab_task
def lab_teardown(self, lab_id: str) -> None:
    _run(self, lab_id, lambda: operations.lab_teardown(lab_id=lab_id))


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def lab_cleanup(self, lab_id: str) -> None:
    """Leftovers of a failed lab. Transient errors retry; the reconciler tries again after that."""
    try:
        operations.lab_cleanup(lab_id=lab_id)
    except Exception as exc:
        if _is_transient(exc) and self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from None
        log.warning("cleanup of lab %s left for the reconciler: %s", lab_id, exc)


@shared_task(acks_late=True)
def reconcile_all() -> None:
    """Fan out one reconcile per host, each on its site's queue."""
    for host_id, site in Host.objects.values_list("pk", "site"):
        reconcile_host.apply_async(args=[host_id], queue=host_queue(site))


@shared_task(acks_late=True)
def reconcile_host(host_id: int) -> dict:
    return vars(reconciler.reconcile_host(host_id=host_id))


@shared_task(acks_late=True)
def run_schedules() -> dict:
    return vars(schedules.run_schedules())


@shared_task(acks_late=True)
def host_doctor(host_id: int) -> None:
    hosts.host_doctor_run(host_id=host_id)
