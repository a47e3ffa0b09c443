"""Powering a lab on is admitted under the same quota lock and limits as a request."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from config.errors import QuotaExceeded
from labs.models import Lab, LabEvent, LabUsageMonth
from labs.services import lab_request, lab_reset, lab_restore, lab_start
from labs.states import LabState
from tenants.selectors import month_start, tenant_live_usage
from tenants.services import quota_update


def _labs(tenant, actor, template, *states):
    labs = [lab_request(actor=actor, template=template) for _ in states]
    for lab, state in zip(labs, states, strict=True):
        Lab.objects.filter(pk=lab.pk).update(state=state)
        lab.state = state
    return labs


def test_a_start_past_the_running_labs_limit_is_refused_and_changes_nothing(
    acme, acme_admin, acme_template, django_capture_on_commit_callbacks
):
    *_, stopped = _labs(acme, acme_admin, acme_template, LabState.RUNNING, LabState.RUNNING, LabState.STOPPED)
    quota_update(tenant=acme, max_running_labs=2)
    events = LabEvent.objects.count()
    with django_capture_on_commit_callbacks() as sent, pytest.raises(QuotaExceeded) as refused:
        lab_start(actor=acme_admin, lab=stopped)
    assert refused.value.detail == {"quota": "max_running_labs", "used": 2, "requested": 1, "limit": 2}
    assert "'max_running_labs' exceeded: 2 labs in use + 1 labs requested > limit 2" in refused.value.message
    assert not sent
    assert LabEvent.objects.count() == events
    assert Lab.objects.get(pk=stopped.pk).state == LabState.STOPPED
    assert stopped.state == LabState.STOPPED  # the caller's copy is not left half-moved


def test_a_start_within_the_running_labs_limit_is_admitted(acme, acme_admin, acme_template):
    _, stopped = _labs(acme, acme_admin, acme_template, LabState.RUNNING, LabState.STOPPED)
    quota_update(tenant=acme, max_running_labs=2)
    lab_start(actor=acme_admin, lab=stopped)
    assert Lab.objects.get(pk=stopped.pk).state == LabState.STARTING


def test_a_start_is_refused_when_the_tenants_monthly_hours_are_used_up(acme, acme_admin, acme_template):
    quota_update(tenant=acme, monthly_lab_hours=1)
    (stopped,) = _labs(acme, acme_admin, acme_template, LabState.STOPPED)
    LabUsageMonth.objects.create(lab=stopped, tenant=acme, owner=acme_admin, month=month_start(), running_seconds=3600)
    with pytest.raises(QuotaExceeded) as refused:
        lab_start(actor=acme_admin, lab=stopped)
    assert refused.value.detail["quota"] == "monthly_lab_hours"
    assert Lab.objects.get(pk=stopped.pk).state == LabState.STOPPED


def test_a_students_start_is_refused_past_their_monthly_hours(acme, acme_student, acme_template):
    quota_update(tenant=acme, student_hours=2)
    (stopped,) = _labs(acme, acme_student, acme_template, LabState.STOPPED)
    LabUsageMonth.objects.create(
        lab=stopped, tenant=acme, owner=acme_student, month=month_start(), running_seconds=2 * 3600
    )
    with pytest.raises(QuotaExceeded) as refused:
        lab_start(actor=acme_student, lab=stopped)
    assert refused.value.detail["quota"] == "student_hours"


def test_the_api_answers_409_naming_the_running_labs_limit(acme, acme_admin, acme_template):
    _, stopped = _labs(acme, acme_admin, acme_template, LabState.RUNNING, LabState.STOPPED)
    quota_update(tenant=acme, max_running_labs=1)
    client = APIClient()
    client.force_authenticate(acme_admin)
    response = client.post(f"/api/v1/labs/{stopped.pk}/start/")
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["quota"], body["used"], body["limit"]) == ("quota_exceeded", "max_running_labs", 1, 1)
    assert Lab.objects.get(pk=stopped.pk).state == LabState.STOPPED


@pytest.mark.parametrize("operation", ["reset", "restore"])
def test_reset_and_restore_of_a_stopped_lab_leave_it_off_so_they_do_not_count_as_running(
    acme, acme_admin, acme_template, operation
):
    _, stopped = _labs(acme, acme_admin, acme_template, LabState.RUNNING, LabState.STOPPED)
    quota_update(tenant=acme, max_running_labs=1)
    if operation == "reset":
        lab_reset(actor=acme_admin, lab=stopped)
    else:
        stopped.checkpoints.create(name="cp0")
        lab_restore(actor=acme_admin, lab=stopped, name="cp0")
    assert tenant_live_usage(acme.pk)["running"] == 1  # the worker settles it back to stopped


def test_reset_of_a_running_lab_still_counts_as_running(acme, acme_admin, acme_template):
    (running,) = _labs(acme, acme_admin, acme_template, LabState.RUNNING)
    Lab.objects.filter(pk=running.pk).update(running_since=timezone.now() - timedelta(hours=1))
    running.refresh_from_db()
    lab_reset(actor=acme_admin, lab=running)
    assert tenant_live_usage(acme.pk)["running"] == 1
