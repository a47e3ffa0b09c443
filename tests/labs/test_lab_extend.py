"""lab_extend through the service: who may, by how much, which labs, and what it records."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from config.errors import InvalidTransition, NotAllowed
from labs.lifecycle import transition
from labs.models import MAX_LAB_LIFETIME, Lab, LabEvent
from labs.services import MAX_EXTENSION_HOURS, lab_extend, lab_request
from labs.states import LabEventName, LabState
from tests import factories


@pytest.fixture
def course(acme, acme_template, acme_instructor, acme_student):
    return factories.course(acme, "Nested 101", acme_template, instructors=[acme_instructor], students=[acme_student])


@pytest.fixture
def student_lab(course, acme_instructor, acme_student, acme_template):
    """A course lab the course's instructor requested for a student, who owns it."""
    return lab_request(actor=acme_instructor, template=acme_template, owner=acme_student, course=course)


def _snapshot(lab):
    row = Lab.objects.get(pk=lab.pk)
    return row.state, row.expires_at, LabEvent.objects.filter(lab=row, event="extend").count()


@pytest.fixture
def personas(acme, acme_admin, acme_instructor, acme_student, acme_student2, globex_admin, platform_admin):
    return {
        "acme_admin": acme_admin,
        "acme_instructor": acme_instructor,  # teaches the lab's course
        "platform_admin": platform_admin,
        "acme_student": acme_student,  # owns the lab, but students do not extend
        "acme_student2": acme_student2,
        "other_instructor": factories.member(acme, "acme-instructor2", "instructor"),  # not of this course
        "globex_admin": globex_admin,
    }


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("acme_admin", True),
        ("acme_instructor", True),
        ("platform_admin", True),
        ("acme_student", False),
        ("acme_student2", False),
        ("other_instructor", False),
        ("globex_admin", False),
    ],
)
def test_who_may_extend_a_students_course_lab(student_lab, personas, persona, allowed):
    before = _snapshot(student_lab)
    if allowed:
        lab_extend(actor=personas[persona], lab=student_lab, hours=2)
        assert _snapshot(student_lab)[1] == before[1] + timedelta(hours=2)
    else:
        with pytest.raises(NotAllowed):
            lab_extend(actor=personas[persona], lab=student_lab, hours=2)
        assert _snapshot(student_lab) == before


def test_an_owner_who_is_not_a_student_extends_their_own_lab(acme_instructor, acme_template):
    own = lab_request(actor=acme_instructor, template=acme_template)
    before = own.expires_at
    lab_extend(actor=acme_instructor, lab=own, hours=1)
    own.refresh_from_db()
    assert own.expires_at == before + timedelta(hours=1)


@pytest.mark.parametrize("hours", [0, -1, MAX_EXTENSION_HOURS + 1, 10**9, True, 1.5, "3", None])
def test_hours_outside_1_to_720_are_refused_naming_the_field(student_lab, acme_admin, hours):
    before = _snapshot(student_lab)
    with pytest.raises(ValidationError) as refused:
        lab_extend(actor=acme_admin, lab=student_lab, hours=hours)
    assert refused.value.message_dict["hours"] == ["Give a whole number of hours from 1 to 720."]
    assert _snapshot(student_lab) == before


@pytest.mark.parametrize("hours", [1, MAX_EXTENSION_HOURS])
def test_the_bounds_themselves_are_accepted_and_move_the_expiry_exactly(student_lab, acme_admin, hours):
    before = _snapshot(student_lab)[1]
    returned = lab_extend(actor=acme_admin, lab=student_lab, hours=hours)
    assert returned.expires_at == _snapshot(student_lab)[1] == before + timedelta(hours=hours)


def test_the_extension_is_recorded_with_its_actor_and_clears_the_expiry_warning(student_lab, acme_instructor):
    Lab.objects.filter(pk=student_lab.pk).update(expiry_warned_at=timezone.now())
    lab_extend(actor=acme_instructor, lab=student_lab, hours=5)
    student_lab.refresh_from_db()
    assert student_lab.expiry_warned_at is None
    [event] = LabEvent.objects.filter(lab=student_lab, event="extend")
    assert event.actor == acme_instructor
    assert (event.from_state, event.to_state) == (student_lab.state, student_lab.state)  # no state change
    assert event.message == f"+5 h, now expires {student_lab.expires_at:%Y-%m-%d %H:%M} UTC"


def test_a_lab_already_past_its_expiry_is_extended_from_now(student_lab, acme_admin):
    """The expiry schedule has not come round yet: the hours count from now, not from the past."""
    Lab.objects.filter(pk=student_lab.pk).update(expires_at=timezone.now() - timedelta(days=2))
    earliest = timezone.now() + timedelta(hours=3)
    lab_extend(actor=acme_admin, lab=student_lab, hours=3)
    latest = timezone.now() + timedelta(hours=3)
    assert earliest <= _snapshot(student_lab)[1] <= latest


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.integers(min_value=1, max_value=365 * 24),  # hours after creation: always in the future here
    steps=st.lists(st.integers(min_value=1, max_value=MAX_EXTENSION_HOURS), min_size=1, max_size=15),
)
def test_extensions_never_take_a_lab_past_365_days_from_its_creation(student_lab, acme_admin, start, steps):
    created = Lab.objects.get(pk=student_lab.pk).created_at
    cap = created + MAX_LAB_LIFETIME
    Lab.objects.filter(pk=student_lab.pk).update(expires_at=created + timedelta(hours=start))
    for hours in steps:
        expiry = _snapshot(student_lab)[1]
        if expiry + timedelta(hours=hours) <= cap:
            lab_extend(actor=acme_admin, lab=student_lab, hours=hours)
            assert _snapshot(student_lab)[1] == expiry + timedelta(hours=hours)
        else:
            with pytest.raises(ValidationError) as refused:
                lab_extend(actor=acme_admin, lab=student_lab, hours=hours)
            left = int((cap - expiry).total_seconds() // 3600)
            assert f"at most {left} more hours" in refused.value.message_dict["hours"][0]
            assert _snapshot(student_lab)[1] == expiry
        assert _snapshot(student_lab)[1] <= cap


def _failed(lab):
    transition(lab, LabEventName.FAIL, message="build failed")


def _deleted(lab):
    transition(lab, LabEventName.DELETE)
    transition(lab, LabEventName.DELETED)


@pytest.mark.parametrize("finish", [_failed, _deleted], ids=["failed", "deleted"])
def test_a_lab_that_is_no_longer_live_is_not_extended(student_lab, acme_admin, finish):
    finish(student_lab)
    before = _snapshot(student_lab)
    assert before[0] in (LabState.FAILED, LabState.DELETED)
    with pytest.raises(InvalidTransition, match=f"A lab that is {before[0]} cannot be extended"):
        lab_extend(actor=acme_admin, lab=student_lab, hours=1)
    assert _snapshot(student_lab) == before
