"""The quota table is the one declaration of the limits: the model, the checks, the usage and the
schedules all follow it."""

from __future__ import annotations

import pytest
from django.db import models
from django.utils import timezone

from config.errors import QuotaExceeded
from labs.models import Lab, LabUsageMonth
from labs.services import lab_request
from labs.states import LabState
from tenants.models import Quota
from tenants.quotas import QUOTA_LIMIT_FIELDS, QUOTA_LIMITS
from tenants.selectors import month_start, tenant_usage
from tenants.services import quota_update
from workers.services.schedules import ScheduleReport, enforce_monthly_hours, enforce_student_hours

pytestmark = pytest.mark.django_db


def test_every_limit_of_the_quota_model_is_a_row_of_the_table():
    limits = [f.name for f in Quota._meta.concrete_fields if isinstance(f, models.PositiveIntegerField)]
    assert limits == list(QUOTA_LIMIT_FIELDS)


def test_the_usage_lists_every_tenant_wide_limit_with_the_tables_unit(acme, acme_admin, acme_template):
    lab_request(actor=acme_admin, template=acme_template)
    lines = tenant_usage(acme)
    assert [(line.quota, line.unit) for line in lines] == [
        (limit.field, limit.unit) for limit in QUOTA_LIMITS if not limit.per_student
    ]
    used = {line.quota: line.used for line in lines}
    assert (used["max_labs"], used["max_vcpus"], used["monthly_lab_hours"]) == (1, 2, 0)


@pytest.mark.parametrize(("seconds", "used_up"), [(3599, False), (3600, True), (3601, True)])
def test_requests_and_the_schedules_agree_when_monthly_hours_are_used_up(
    acme, acme_admin, acme_template, seconds, used_up
):
    quota_update(tenant=acme, monthly_lab_hours=1)
    lab = lab_request(actor=acme_admin, template=acme_template)
    Lab.objects.filter(pk=lab.pk).update(state=LabState.RUNNING)
    LabUsageMonth.objects.create(lab=lab, tenant=acme, owner=acme_admin, month=month_start(), running_seconds=seconds)

    refused = None
    try:
        lab_request(actor=acme_admin, template=acme_template)
    except QuotaExceeded as exc:
        refused = exc.detail["quota"]
    report = ScheduleReport()
    enforce_monthly_hours(timezone.now(), report)

    assert (refused == "monthly_lab_hours") is used_up
    assert (report.stopped == {"monthly_lab_hours": 1}) is used_up


@pytest.mark.parametrize(("seconds", "used_up"), [(7199, False), (7200, True)])
def test_requests_and_the_schedules_agree_when_a_students_hours_are_used_up(
    acme, acme_student, acme_template, seconds, used_up
):
    quota_update(tenant=acme, student_hours=2)
    lab = lab_request(actor=acme_student, template=acme_template)
    Lab.objects.filter(pk=lab.pk).update(state=LabState.RUNNING)
    LabUsageMonth.objects.create(lab=lab, tenant=acme, owner=acme_student, month=month_start(), running_seconds=seconds)

    refused = None
    try:
        lab_request(actor=acme_student, template=acme_template)
    except QuotaExceeded as exc:
        refused = exc.detail["quota"]
    report = ScheduleReport()
    enforce_student_hours(timezone.now(), report)

    assert (refused == "student_hours") is used_up
    assert (report.stopped == {"student_hours": 1}) is used_up
