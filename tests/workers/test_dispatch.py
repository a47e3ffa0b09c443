"""The task dispatcher sends registered tasks, by name, to the right queue, after commit."""

import pytest
from django.conf import settings

from config.celery import app
from labs.services import lab_request, lab_stop
from tests import factories
from workers import tasks
from workers.dispatch import TaskName, send_lab_task_on_commit
from workers.services import operations
from workers.services.hosts import host_doctor_request


def _registered_nestlab_tasks() -> set[str]:
    assert tasks.lab_place.name in app.tasks  # importing workers.tasks registered them
    return {name for name in app.tasks if name.startswith(("workers.", "labs.", "tenants.", "config."))}


def test_every_task_name_is_a_registered_task_and_every_task_has_a_name():
    assert set(TaskName.values) == _registered_nestlab_tasks()


def test_the_beat_schedule_and_routes_name_registered_tasks():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled | set(settings.CELERY_TASK_ROUTES) <= set(TaskName.values)


@pytest.fixture
def sent(monkeypatch):
    messages = []
    monkeypatch.setattr(app, "send_task", lambda name, args, queue: messages.append((name, args, queue)))
    return messages


def test_a_bare_or_unknown_task_name_is_refused_before_anything_is_sent(db, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValueError):
        send_lab_task_on_commit("lab_place", "00000000-0000-0000-0000-000000000000")
    assert sent == []


def test_a_lab_task_goes_to_its_hosts_site_queue_once_committed(
    fake_fleet, new_lab, sent, django_capture_on_commit_callbacks
):
    lab = new_lab()
    host = operations.lab_place_for_build(lab_id=lab.pk)
    operations.lab_build(lab_id=lab.pk)
    lab.refresh_from_db()
    with django_capture_on_commit_callbacks() as callbacks:
        lab_stop(actor=None, lab=lab)
        assert sent == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert sent == [(TaskName.LAB_POWER_OFF.value, [str(lab.pk)], f"hosts.{host.site}")]


def test_a_lab_without_a_host_goes_to_the_default_queue(roomy, fake_fleet, sent, django_capture_on_commit_callbacks):
    tenant, admin = roomy
    with django_capture_on_commit_callbacks(execute=True):
        lab = lab_request(actor=admin, template=factories.template(tenant, "dispatch"))
    assert sent == [(TaskName.LAB_PLACE.value, [str(lab.pk)], settings.CELERY_TASK_DEFAULT_QUEUE)]


def test_the_host_doctor_goes_to_the_hosts_site_queue_once_committed(
    fake_fleet, sent, django_capture_on_commit_callbacks
):
    host = fake_fleet[0]
    with django_capture_on_commit_callbacks(execute=True):
        host_doctor_request(actor=None, host=host)
    assert sent == [(TaskName.HOST_DOCTOR.value, [host.pk], f"hosts.{host.site}")]
