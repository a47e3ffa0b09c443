"""The beat's periodic rules: metering, hour quotas, continuous-run limits, expiry, course windows.

Each rule moves labs only through the lab services (so every change is a transition with an
event saying why), and each is safe to run twice: it selects by state and time, and the
transitions compare-and-set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Sum
from django.utils import timezone

from config.errors import QuotaExceeded
from labs.lifecycle import lab_note, unless_moved_on
from labs.models import Course, Lab, LabUsageMonth
from labs.services import lab_expire, lab_start, lab_stop
from labs.states import LIVE, LabState
from tenants.models import Quota, Role
from tenants.quotas import MONTHLY_LAB_HOURS, STUDENT_HOURS, hours_of, hours_used_up
from tenants.selectors import month_start
from workers.dispatch import TaskName, send_lab_task_on_commit
from workers.services.metering import meter_running_labs
from workers.services.operations import lab_fail

log = logging.getLogger(__name__)


@dataclass
class ScheduleReport:
    metered: int = 0
    stopped: dict[str, int] = field(default_factory=dict)
    started: int = 0
    refused: int = 0  # course-window starts the tenant's quota had no room for
    resent: int = 0
    abandoned: int = 0
    warned: int = 0
    expired: int = 0

    def count_stop(self, why: str) -> None:
        self.stopped[why] = self.stopped.get(why, 0) + 1


def _stop(lab: Lab, reason: str, why: str, report: ScheduleReport) -> None:
    with unless_moved_on():
        lab_stop(actor=None, lab=lab, reason=reason)
        report.count_stop(why)


def run_schedules(*, now=None) -> ScheduleReport:
    now = now or timezone.now()
    report = ScheduleReport(metered=meter_running_labs(now=now))
    resend_waiting_requests(now, report)
    enforce_monthly_hours(now, report)
    enforce_student_hours(now, report)
    enforce_continuous_running(now, report)
    expire_labs(now, report)
    run_course_windows(now, report)
    return report


def resend_waiting_requests(now, report: ScheduleReport) -> None:
    """Labs still waiting for placement: send placement again (a lost message, a broker outage at
    request time), and fail those waiting past NESTLAB_TRANSIENT_DEADLINE."""
    waiting = Lab.objects.filter(
        state=LabState.REQUESTED, state_changed_at__lte=now - timedelta(seconds=settings.NESTLAB_REQUEUE_AFTER)
    )
    deadline = now - timedelta(seconds=settings.NESTLAB_TRANSIENT_DEADLINE)
    for lab in waiting:
        if lab.state_changed_at <= deadline:
            minutes = int((now - lab.state_changed_at).total_seconds() // 60)
            if lab_fail(lab_id=lab.pk, reason=f"No host could take it in {minutes} minutes."):
                report.abandoned += 1
        else:
            send_lab_task_on_commit(TaskName.LAB_PLACE, lab.pk)
            report.resent += 1


def _running(queryset):
    return queryset.filter(state=LabState.RUNNING).select_related("tenant", "owner")


def enforce_monthly_hours(now, report: ScheduleReport) -> None:
    """Stop every running lab of a tenant whose lab hours for this month are used up."""
    month = month_start(now)
    used = dict(
        LabUsageMonth.objects.filter(month=month)
        .values("tenant_id")
        .annotate(s=Sum("running_seconds"))
        .values_list("tenant_id", "s")
    )
    for quota in Quota.objects.filter(tenant_id__in=used):
        seconds = used[quota.tenant_id]
        if not hours_used_up(seconds, quota.monthly_lab_hours):
            continue
        reason = MONTHLY_LAB_HOURS.used_up_reason(seconds=seconds, limit_hours=quota.monthly_lab_hours)
        for lab in _running(Lab.objects.filter(tenant_id=quota.tenant_id)):
            _stop(lab, reason, "monthly_lab_hours", report)


def enforce_student_hours(now, report: ScheduleReport) -> None:
    """Stop students' labs past their hours: course labs by the course's hours, others monthly.

    Three grouped queries for the usage and the limits, whatever the number of running labs.
    """
    month = month_start(now)
    labs = list(
        _running(
            Lab.objects.filter(owner__memberships__role=Role.STUDENT, owner__memberships__tenant_id=F("tenant_id"))
        )
        .select_related("course")
        .distinct()
    )
    if not labs:
        return
    course_seconds = dict(
        LabUsageMonth.objects.filter(lab_id__in=[lab.pk for lab in labs if lab.course_id])
        .values("lab_id")
        .annotate(s=Sum("running_seconds"))
        .values_list("lab_id", "s")
    )
    monthly_seconds = {
        (owner_id, tenant_id): seconds
        for owner_id, tenant_id, seconds in LabUsageMonth.objects.filter(
            month=month, lab__course__isnull=True, owner_id__in={lab.owner_id for lab in labs}
        )
        .values("owner_id", "tenant_id")
        .annotate(s=Sum("running_seconds"))
        .values_list("owner_id", "tenant_id", "s")
    }
    student_hours = dict(
        Quota.objects.filter(tenant_id__in={lab.tenant_id for lab in labs}).values_list(
            "tenant_id", STUDENT_HOURS.field
        )
    )
    for lab in labs:
        if lab.course_id:
            limit, used = lab.course.hours_per_student, course_seconds.get(lab.pk, 0)
            what = f"Course hours used up: {hours_of(used, limit)} for {lab.course.name}."
        else:
            limit, used = student_hours[lab.tenant_id], monthly_seconds.get((lab.owner_id, lab.tenant_id), 0)
            what = STUDENT_HOURS.used_up_reason(seconds=used, limit_hours=limit)
        if hours_used_up(used, limit):
            _stop(lab, what, "student_hours", report)


def enforce_continuous_running(now, report: ScheduleReport) -> None:
    """Stop labs that have run longer without a break than their template allows."""
    candidates = _running(Lab.objects.filter(template_version__max_continuous_running__isnull=False))
    for lab in candidates.select_related("template_version"):
        limit = lab.template_version.max_continuous_running
        if lab.running_since and now - lab.running_since >= limit:
            hours = limit.total_seconds() / 3600
            _stop(lab, f"Ran {hours:g} h without a break, the template's limit.", "max_continuous_running", report)


def expire_labs(now, report: ScheduleReport) -> None:
    """Warn before a lab expires, then delete it when it does."""
    warn_from = now + timedelta(seconds=settings.NESTLAB_EXPIRY_WARNING)
    live = Lab.objects.filter(state__in=LIVE).exclude(state=LabState.DELETING)
    for lab in live.filter(expires_at__lte=warn_from, expires_at__gt=now, expiry_warned_at__isnull=True):
        if Lab.objects.filter(pk=lab.pk, expiry_warned_at__isnull=True).update(expiry_warned_at=now):
            lab_note(lab=lab, event="expiry_warning", message=f"Expires at {lab.expires_at:%Y-%m-%d %H:%M} UTC.")
            report.warned += 1
    for lab in live.filter(expires_at__lte=now):
        with unless_moved_on():
            lab_expire(lab=lab)
            report.expired += 1


def run_course_windows(now, report: ScheduleReport) -> None:
    """Power a course's labs on shortly before class, once; power them off after it ends."""
    lead = timedelta(seconds=settings.NESTLAB_COURSE_LEAD)
    opening = Course.objects.filter(starts_at__lte=now + lead, ends_at__gt=now, labs_started_at__isnull=True)
    for course in opening:
        if not Course.objects.filter(pk=course.pk, labs_started_at__isnull=True).update(labs_started_at=now):
            continue
        for lab in Lab.objects.filter(course=course, state=LabState.STOPPED).select_related("template_version"):
            try:
                with unless_moved_on():
                    lab_start(actor=None, lab=lab)
                    report.started += 1
            except QuotaExceeded as refused:  # the lab stays stopped; its history says why
                lab_note(lab=lab, event="start_refused", message=f"Course window start refused: {refused.message}")
                report.refused += 1
    ended = Lab.objects.filter(course__ends_at__lte=now)
    for lab in _running(ended).select_related("course"):
        _stop(lab, f"Course {lab.course.name} ended at {lab.course.ends_at:%Y-%m-%d %H:%M} UTC.", "course_end", report)
