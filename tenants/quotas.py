"""The quota limits, declared once: each limit's field, unit, how its usage is counted, and its words.

Every user reads this table: the ``Quota`` model (its fields' check constraints), ``lab_request``
and the power-on admission (``labs.services``), the usage selector and endpoint
(``tenants.selectors.tenant_usage``), the admin, the quota services and the schedules that stop
labs whose hours are used up (``workers.services.schedules``). It imports no model, so any of them
may import it. Usage is always counted from rows (live labs, ``LabUsageMonth``), never stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from config.errors import QuotaExceeded

SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class QuotaLimit:
    """One limit of a tenant's ``Quota``."""

    field: str  # the Quota field that holds the limit
    unit: str  # what it counts, in the error's and the usage's words
    counts: str  # how usage is counted, in words
    usage_key: str  # the key of the usage: tenant_live_usage() for labs, running_seconds_this_month() for hours
    per_lab: Callable | None = None  # what one lab of a template version takes (lab limits; None for hours)
    per_student: bool = False  # counted per student (owner) rather than for the whole tenant
    powered_on: bool = False  # met again when an existing lab is powered on
    used_up_words: str = ""  # hour limits: the reason the schedules give when they stop a lab

    @property
    def hours(self) -> bool:
        return self.per_lab is None

    def exceeded(self, *, used: float, requested: float, limit: float) -> QuotaExceeded:
        """The refusal, naming this limit, the usage, what was asked and the limit."""
        return QuotaExceeded(quota=self.field, used=used, requested=requested, limit=limit, unit=self.unit)

    def used_up_reason(self, *, seconds: float, limit_hours: int) -> str:
        return f"{self.used_up_words}: {hours_of(seconds, limit_hours)}."


def _one(version) -> int:
    return 1


# In the Quota model's order, which is also the order they are checked and listed in.
QUOTA_LIMITS: tuple[QuotaLimit, ...] = (
    QuotaLimit("max_vcpus", "vCPUs", "vCPUs of the live labs' template versions", "vcpus", lambda v: v.vcpus),
    QuotaLimit("max_memory_mb", "MB", "memory of the live labs' template versions", "memory_mb", lambda v: v.memory_mb),
    QuotaLimit("max_storage_gb", "GB", "disk of the live labs' template versions", "storage_gb", lambda v: v.disk_gb),
    QuotaLimit("max_labs", "labs", "live labs (every state but deleted and failed)", "labs", _one),
    QuotaLimit("max_running_labs", "labs", "labs powered on or being powered on", "running", _one, powered_on=True),
    QuotaLimit(
        "monthly_lab_hours",
        "hours",
        "hours the tenant's labs ran this calendar month",
        "tenant",
        used_up_words="Monthly lab hours used up",
    ),
    QuotaLimit("student_max_labs", "labs", "a student's live labs", "owner_labs", _one, per_student=True),
    QuotaLimit(
        "student_hours",
        "hours",
        "hours a student's labs outside courses ran this calendar month",
        "owner",
        per_student=True,
        used_up_words="Student hours for this month used up",
    ),
)
QUOTA_LIMIT_FIELDS = tuple(limit.field for limit in QUOTA_LIMITS)
LIMITS_BY_FIELD = {limit.field: limit for limit in QUOTA_LIMITS}
MONTHLY_LAB_HOURS = LIMITS_BY_FIELD["monthly_lab_hours"]
STUDENT_HOURS = LIMITS_BY_FIELD["student_hours"]


def hours_used_up(seconds: float, limit_hours: int) -> bool:
    """An hour limit is used up once the running time reaches it (request, start and schedules agree)."""
    return seconds >= limit_hours * SECONDS_PER_HOUR


def hours_of(seconds: float, limit_hours: int) -> str:
    return f"{seconds / SECONDS_PER_HOUR:.1f} of {limit_hours} h"


def usage_of(limit: QuotaLimit, *, live: dict, seconds: dict) -> float:
    """The usage of ``limit`` from the live-lab aggregates and the month's running seconds."""
    if limit.hours:
        return round(seconds[limit.usage_key] / SECONDS_PER_HOUR, 2)
    return live[limit.usage_key]


def quota_check_labs(
    *,
    quota,
    usage: dict,
    version,
    count: int,
    usage_includes_request: bool,
    per_student: bool = False,
    powered_on_only: bool = False,
) -> None:
    """Raise QuotaExceeded, naming the limit, if ``count`` more labs of ``version`` do not fit.

    Checks the tenant's lab limits, or with ``per_student`` the student's; ``powered_on_only``
    narrows them to those a lab meets again when it is powered on.
    """
    for limit in QUOTA_LIMITS:
        if limit.hours or limit.per_student != per_student or (powered_on_only and not limit.powered_on):
            continue
        allowed = getattr(quota, limit.field)
        requested = limit.per_lab(version) * count
        used = usage[limit.usage_key] - (requested if usage_includes_request else 0)
        if used + requested > allowed:
            raise limit.exceeded(used=used, requested=requested, limit=allowed)


def quota_check_hours(*, quota, seconds: dict, is_student: bool, in_course: bool) -> None:
    """The monthly hour limits a lab meets whenever it is to run (requested or started).

    A course lab's hours are the course's business (one lab per student; the schedules stop it at
    ``course.hours_per_student``); a student's other labs draw on the student's monthly hours.
    """
    for limit in QUOTA_LIMITS:
        if not limit.hours or (limit.per_student and (not is_student or in_course)):
            continue
        allowed = getattr(quota, limit.field)
        if hours_used_up(seconds[limit.usage_key], allowed):
            raise limit.exceeded(used=round(seconds[limit.usage_key] / SECONDS_PER_HOUR, 2), requested=0, limit=allowed)
