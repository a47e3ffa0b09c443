"""Reads about tenants: usage counted from live rows, set against the quota."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from labs.models import Lab, LabUsageMonth
from labs.states import LIVE, POWERED, LabState
from tenants.models import Membership, Quota, Role, Tenant
from tenants.quotas import QUOTA_LIMITS, usage_of


@dataclass(frozen=True)
class UsageLine:
    quota: str
    used: float
    limit: int
    unit: str

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit else 0.0


def month_start(now=None):
    now = timezone.localtime(now or timezone.now())
    return now.date().replace(day=1)


def tenant_live_usage(tenant_id: int, *, owner_id: int | None = None, course_id: int | None = None) -> dict:
    """One aggregate query over the tenant's live labs (and optionally one owner's, one course's)."""
    # Reset, checkpoint and restore keep the power state the lab had (the host restarts only a VM
    # that was running), so they count as running only if it was: running_since is set exactly
    # while the VM is on.
    keeps_power = (LabState.RESETTING, LabState.CHECKPOINTING, LabState.RESTORING)
    running = Q(state__in=POWERED) & ~Q(state__in=keeps_power, running_since__isnull=True)
    aggregates = {
        "labs": Count("pk"),
        "running": Count("pk", filter=running),
        "vcpus": Coalesce(Sum("template_version__vcpus"), 0),
        "memory_mb": Coalesce(Sum("template_version__memory_mb"), 0),
        "storage_gb": Coalesce(Sum("template_version__disk_gb"), 0),
    }
    if owner_id is not None:
        aggregates["owner_labs"] = Count("pk", filter=Q(owner_id=owner_id))
        if course_id is not None:
            aggregates["owner_course_labs"] = Count("pk", filter=Q(owner_id=owner_id, course_id=course_id))
    return Lab.objects.filter(tenant_id=tenant_id, state__in=LIVE).aggregate(**aggregates)


def running_seconds_this_month(tenant_id: int, *, owner_id: int | None = None, now=None) -> dict:
    rows = LabUsageMonth.objects.filter(tenant_id=tenant_id, month=month_start(now))
    aggregates = {"tenant": Coalesce(Sum("running_seconds"), 0)}
    if owner_id is not None:
        aggregates["owner"] = Coalesce(Sum("running_seconds", filter=Q(owner_id=owner_id)), 0)
    return rows.aggregate(**aggregates)


def tenant_usage(tenant: Tenant) -> list[UsageLine]:
    """Every tenant-wide limit of ``QUOTA_LIMITS`` with its current usage, for the admin and the
    API (per-student limits are met per student, so they have no tenant-wide line)."""
    quota = Quota.objects.get(tenant=tenant)
    live = tenant_live_usage(tenant.pk)
    seconds = running_seconds_this_month(tenant.pk)
    return [
        UsageLine(limit.field, usage_of(limit, live=live, seconds=seconds), getattr(quota, limit.field), limit.unit)
        for limit in QUOTA_LIMITS
        if not limit.per_student
    ]


def tenant_student_usage(tenant: Tenant) -> list[UsageLine]:
    """Every per-student limit of ``QUOTA_LIMITS`` with the busiest student's usage (for the admin).

    Two grouped queries, whatever the number of students."""
    quota = Quota.objects.get(tenant=tenant)
    students = Membership.objects.filter(tenant=tenant, role=Role.STUDENT).values("user_id")
    busiest_labs = (
        Lab.objects.filter(tenant=tenant, state__in=LIVE, owner_id__in=students)
        .values("owner_id")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .values_list("n", flat=True)
        .first()
    )
    # As the request checks and the schedules count them: a student's hours outside courses.
    busiest_seconds = (
        LabUsageMonth.objects.filter(
            tenant=tenant, month=month_start(), owner_id__in=students, lab__course__isnull=True
        )
        .values("owner_id")
        .annotate(s=Sum("running_seconds"))
        .order_by("-s")
        .values_list("s", flat=True)
        .first()
    )
    live = {"owner_labs": busiest_labs or 0}
    seconds = {"owner": busiest_seconds or 0}
    return [
        UsageLine(limit.field, usage_of(limit, live=live, seconds=seconds), getattr(quota, limit.field), limit.unit)
        for limit in QUOTA_LIMITS
        if limit.per_student
    ]
