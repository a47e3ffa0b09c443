"""Lifetimes, durations and course dates are bounded in the models, so every entry point (the
admin included) refuses what the API refuses; rows saved before the bounds cannot overflow."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from labs.models import MAX_LAB_LIFETIME, Course, LabTemplateVersion
from labs.services import course_create, course_instructors_set, lab_request, template_revise
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("default_lifetime", timedelta(days=999_999_999)),
        ("default_lifetime", MAX_LAB_LIFETIME + timedelta(seconds=1)),
        ("default_lifetime", timedelta(minutes=59)),
        ("max_continuous_running", timedelta(hours=-4)),
        ("max_continuous_running", timedelta(0)),
        ("max_continuous_running", timedelta(days=999_999_999)),
    ],
)
def test_a_template_version_refuses_durations_out_of_bounds(acme_template, field, value):
    versions = LabTemplateVersion.objects.count()
    with pytest.raises(ValidationError) as error:
        template_revise(template=acme_template, **{field: value})
    assert field in error.value.message_dict
    assert LabTemplateVersion.objects.count() == versions


@pytest.mark.parametrize(
    "dates",
    [
        {"starts_at": datetime(1, 1, 1, tzinfo=UTC)},
        {"ends_at": datetime(9999, 12, 31, tzinfo=UTC)},
        {"starts_at": datetime(2100, 1, 2, tzinfo=UTC), "ends_at": datetime(2100, 1, 3, tzinfo=UTC)},
    ],
)
def test_a_course_refuses_dates_outside_2000_to_2099(acme, acme_template, dates):
    now = timezone.now()
    values = {"starts_at": now, "ends_at": now + timedelta(days=3), **dates}
    with pytest.raises(ValidationError) as error:
        course_create(tenant=acme, name="Far", template=acme_template, **values)
    assert set(dates) <= set(error.value.message_dict)
    assert not Course.objects.filter(name="Far").exists()


def test_a_course_refuses_a_lifetime_over_a_year(acme, acme_template):
    now = timezone.now()
    with pytest.raises(ValidationError, match="365 days"):
        course_create(
            tenant=acme,
            name="Long",
            template=acme_template,
            starts_at=now,
            ends_at=now + timedelta(days=1),
            lab_lifetime=timedelta(days=999_999_999),
        )


def test_a_lifetime_saved_before_the_bounds_is_capped_not_an_overflow(acme, acme_admin, acme_template):
    LabTemplateVersion.objects.filter(template=acme_template).update(default_lifetime=timedelta(days=999_999_999))
    lab = lab_request(actor=acme_admin, template=acme_template, owner=acme_admin)
    assert lab.expires_at <= timezone.now() + MAX_LAB_LIFETIME


def test_only_owners_admins_and_instructors_may_teach(acme, acme_template, acme_student, acme_instructor):
    course = factories.course(acme, "Taught", acme_template, instructors=[acme_instructor])
    with pytest.raises(ValidationError) as error:
        course_instructors_set(course=course, instructors=[acme_instructor, acme_student])
    assert acme_student.username in error.value.message_dict["instructors"][0]
    assert list(course.instructors.all()) == [acme_instructor]
