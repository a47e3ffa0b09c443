"""Running-time metering: seconds a lab's VM was on, per lab and calendar month.

The meter is advanced by compare-and-set on ``Lab.metered_until``, so two beat ticks (or a tick
and a stop) never count the same seconds twice. Seconds are booked to the month in which the
tick happens; a tick interval is a minute, so month boundaries blur by at most that.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labs.models import Lab, LabUsageMonth
from tenants.selectors import month_start


def meter_lab(*, lab_id, now=None) -> int:
    """Book the lab's running seconds up to ``now``. Returns the seconds booked (0 if not running)."""
    now = now or timezone.now()
    lab = Lab.objects.filter(pk=lab_id).values("running_since", "metered_until", "tenant_id", "owner_id").first()
    if not lab or lab["running_since"] is None:
        return 0
    since = max(lab["running_since"], lab["metered_until"] or lab["running_since"])
    seconds = int((now - since).total_seconds())
    if seconds <= 0:
        return 0
    with transaction.atomic():
        claimed = Lab.objects.filter(pk=lab_id, metered_until=lab["metered_until"]).update(
            metered_until=since + timezone.timedelta(seconds=seconds)
        )
        if not claimed:
            return 0  # someone else booked these seconds
        row, _ = LabUsageMonth.objects.get_or_create(
            lab_id=lab_id,
            month=month_start(now),
            defaults={"tenant_id": lab["tenant_id"], "owner_id": lab["owner_id"]},
        )
        LabUsageMonth.objects.filter(pk=row.pk).update(running_seconds=F("running_seconds") + seconds)
    return seconds


def meter_running_labs(*, now=None) -> int:
    """Book every running lab's seconds. Returns how many labs were metered."""
    now = now or timezone.now()
    ids = list(Lab.objects.filter(running_since__isnull=False).values_list("pk", flat=True))
    return sum(1 for lab_id in ids if meter_lab(lab_id=lab_id, now=now))
