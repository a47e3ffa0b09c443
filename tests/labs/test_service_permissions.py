"""Rules the API enforced through its views, held by the services themselves, so every entry
point (API, admin, commands, the portal to come) gets the same answer."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from config.errors import NotAllowed
from labs.models import Course, Enrollment
from labs.roster import RosterEntry, roster_import
from labs.services import course_create
from tests import factories


@pytest.fixture
def course(acme, acme_template, acme_instructor):
    return factories.course(acme, "Nested 101", acme_template, instructors=[acme_instructor])


@pytest.mark.parametrize("persona", ["acme_student", "other_instructor", "globex_admin"])
def test_only_the_courses_teachers_and_managers_import_its_roster(persona, course, acme, acme_student, globex_admin):
    actor = {
        "acme_student": acme_student,
        "other_instructor": factories.member(acme, "acme-instructor2", "instructor"),
        "globex_admin": globex_admin,
    }[persona]
    users = get_user_model().objects.count()
    with pytest.raises(NotAllowed):
        roster_import(actor=actor, course=course, entries=[RosterEntry(row=1, email="new@example.test", name="New")])
    assert get_user_model().objects.count() == users and not Enrollment.objects.filter(course=course).exists()


def test_the_courses_instructor_imports_its_roster(course, acme_instructor):
    result = roster_import(
        actor=acme_instructor, course=course, entries=[RosterEntry(row=1, email="new@example.test", name="New")]
    )
    assert result.rows == 1 and Enrollment.objects.filter(course=course).count() == 1


@pytest.mark.parametrize(("persona", "allowed"), [("acme_admin", True), ("acme_instructor", False),
                                                  ("acme_student", False), ("globex_admin", False)])  # fmt: skip
def test_only_the_tenants_managers_create_its_courses(
    persona, allowed, acme, acme_template, acme_admin, acme_instructor, acme_student, globex_admin
):
    actor = {"acme_admin": acme_admin, "acme_instructor": acme_instructor, "acme_student": acme_student,
             "globex_admin": globex_admin}[persona]  # fmt: skip
    start = timezone.now()
    create = lambda: course_create(  # noqa: E731
        actor=actor, tenant=acme, name="By service", template=acme_template,
        starts_at=start, ends_at=start + timedelta(days=1),
    )  # fmt: skip
    if allowed:
        create()
    else:
        with pytest.raises(NotAllowed):
            create()
    assert Course.objects.filter(name="By service").exists() is allowed
