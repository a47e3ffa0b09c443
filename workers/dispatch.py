"""The task dispatcher: how services send work to the Celery workers.

Services send a task by its registered name, never by importing ``workers.tasks`` (only Celery's
autodiscovery and tests import that module), so requests and tasks import in one direction:
entry points -> services -> this module. Sending happens once the current transaction commits.

- Lab tasks go to the queue ``hosts.<site>`` of the lab's host, so an operator can run one worker
  pool per site next to its hosts; a lab without a host yet goes to the default queue.
- Host tasks go to the host's site queue.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models, transaction

from config.celery import app
from labs.models import Lab


class TaskName(models.TextChoices):
    """Every task Nestlab sends, by the name Celery registers it under (tests check both ways)."""

    LAB_PLACE = "workers.tasks.lab_place", "place and build a requested lab"
    LAB_BUILD = "workers.tasks.lab_build", "build a placed lab on its host"
    LAB_POWER_ON = "workers.tasks.lab_power_on", "power a lab on"
    LAB_POWER_OFF = "workers.tasks.lab_power_off", "power a lab off"
    LAB_RESET = "workers.tasks.lab_reset", "restore a lab's clean checkpoint"
    LAB_CHECKPOINT = "workers.tasks.lab_checkpoint", "take a named checkpoint"
    LAB_RESTORE = "workers.tasks.lab_restore", "apply a named checkpoint"
    LAB_CHECKPOINT_REMOVE = "workers.tasks.lab_checkpoint_remove", "remove a named checkpoint"
    LAB_TEARDOWN = "workers.tasks.lab_teardown", "remove a deleted lab from its host"
    LAB_CLEANUP = "workers.tasks.lab_cleanup", "remove a failed lab's leftovers"
    RECONCILE_ALL = "workers.tasks.reconcile_all", "fan out one reconcile per host"
    RECONCILE_HOST = "workers.tasks.reconcile_host", "reconcile one host"
    RUN_SCHEDULES = "workers.tasks.run_schedules", "run the schedules"
    HOST_DOCTOR = "workers.tasks.host_doctor", "run the host doctor"


def host_queue(site: str) -> str:
    return f"hosts.{site}"


def send_task(name: TaskName, *, args: list, queue: str) -> None:
    """Send ``name`` now. Raises ValueError for a name that is not a TaskName."""
    app.send_task(TaskName(name).value, args=args, queue=queue)


def send_lab_task(name: TaskName, lab: Lab, *args) -> None:
    """Send a lab task now, to its host's site queue (the default queue while it has no host)."""
    host = lab.host if lab.host_id else None
    queue = host_queue(host.site) if host else settings.CELERY_TASK_DEFAULT_QUEUE
    send_task(name, args=[str(lab.pk), *args], queue=queue)


def send_lab_task_on_commit(name: TaskName, lab_id, *args) -> None:
    """Send once the transaction commits. A broker outage is logged, never raised: the change
    is committed, and the schedules re-send work for labs that wait too long."""
    name = TaskName(name)

    def send():
        lab = Lab.objects.select_related("host").filter(pk=lab_id).first()
        if lab is not None:
            send_lab_task(name, lab, *args)

    transaction.on_commit(send, robust=True)


def send_host_task_on_commit(name: TaskName, host, *args) -> None:
    """Send a host task to the host's site queue once the transaction commits."""
    name = TaskName(name)
    site = host.site
    args = [host.pk, *args]
    # robust: a broker outage is logged, never raised after the change committed (as for labs)
    transaction.on_commit(lambda: send_task(name, args=args, queue=host_queue(site)), robust=True)
