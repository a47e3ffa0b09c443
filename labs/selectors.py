"""Reads about labs and courses."""

from __future__ import annotations

from django.db.models import Count

from labs.models import Course, Enrollment, EnrollmentStatus, Lab
from labs.states import LabState


def course_progress(course: Course) -> dict:
    """How far issuing the course has got: enrolled students, labs by state, and failures with reasons.

    Two queries whatever the class size.
    """
    by_state = dict(
        Lab.objects.filter(course=course)
        .exclude(state=LabState.DELETED)
        .values("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    enrolled = Enrollment.objects.filter(course=course, status=EnrollmentStatus.ENROLLED).count()
    failures = [
        {"lab": str(lab_id), "student": username, "reason": reason}
        for lab_id, username, reason in Lab.objects.filter(course=course, state=LabState.FAILED).values_list(
            "pk", "owner__username", "last_error"
        )
    ]
    in_flight = sum(by_state.get(s, 0) for s in (LabState.REQUESTED, LabState.PROVISIONING))
    return {
        "enrolled": enrolled,
        "requested": by_state.get(LabState.REQUESTED, 0),
        "provisioning": by_state.get(LabState.PROVISIONING, 0),
        "running": by_state.get(LabState.RUNNING, 0),
        "stopped": by_state.get(LabState.STOPPED, 0),
        "failed": by_state.get(LabState.FAILED, 0),
        "other": sum(
            n
            for s, n in by_state.items()
            if s not in {LabState.REQUESTED, LabState.PROVISIONING, LabState.RUNNING, LabState.STOPPED, LabState.FAILED}
        ),
        "in_flight": in_flight,
        "failures": failures,
    }
