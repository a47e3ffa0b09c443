"""Issuing a course: up-front refusal naming the shortfall, dry-run plans, idempotence, progress."""

import pytest

from config.errors import NoCapacity, NotAllowed, QuotaExceeded
from labs.models import Lab
from labs.selectors import course_progress
from labs.services import course_issue
from tests import factories


@pytest.fixture
def klass(db):
    tenant = factories.tenant("school", max_labs=10, max_running_labs=10, max_vcpus=100, max_memory_mb=100_000)
    instructor = factories.member(tenant, "school-teacher", "instructor")
    students = [factories.member(tenant, f"school-s{n}", "student") for n in range(6)]
    template = factories.template(tenant, "class-lab", vcpus=2, memory_mb=4096, disk_gb=40)
    course = factories.course(tenant, "Class", template, instructors=[instructor], students=students)
    return tenant, instructor, course


def test_a_dry_run_shows_a_platform_admin_the_hosts_and_changes_nothing(klass, platform_admin):
    _, _, course = klass
    factories.host("hv1", memory_mb=4096 + 4 * 4096)
    factories.host("hv2", memory_mb=4096 + 4 * 4096)
    plan = course_issue(actor=platform_admin, course=course, dry_run=True)
    assert (plan.to_issue, plan.issued, len(plan.labs)) == (6, 0, 6)
    assert sorted(entry["host"] for entry in plan.labs) == ["hv1"] * 3 + ["hv2"] * 3
    assert {row["host"]: row["memory_mb"] for row in plan.capacity_left} == {"hv1": 4096, "hv2": 4096}
    assert (plan.fits, plan.capacity) == (6, "room for all 6 labs")
    assert Lab.objects.count() == 0


def test_a_dry_run_tells_an_instructor_whether_the_class_fits_and_nothing_about_hosts(klass):
    _, instructor, course = klass
    factories.host("hv1", memory_mb=4096 + 4 * 4096)
    factories.host("hv2", memory_mb=4096 + 4 * 4096)
    plan = course_issue(actor=instructor, course=course, dry_run=True)
    assert (plan.fits, plan.capacity) == (6, "room for all 6 labs")
    assert plan.capacity_left == []
    assert all(set(entry) == {"student"} for entry in plan.labs)
    assert "hv" not in repr(plan)


def test_a_dry_run_on_a_short_fleet_says_by_how_much_instead_of_refusing(klass):
    tenant, instructor, course = klass
    factories.host("hv1", memory_mb=4096 + 4 * 4096)
    plan = course_issue(actor=instructor, course=course, dry_run=True)
    assert (plan.fits, plan.capacity) == (4, "room for 4 of 6: the fleet is 2 labs short")
    assert plan.capacity_left == [] and "hv1" not in repr(plan)
    assert Lab.objects.count() == 0


def test_issuing_gives_each_student_one_lab_and_is_idempotent(klass):
    _, instructor, course = klass
    factories.host("hv1")
    assert course_issue(actor=instructor, course=course).issued == 6
    again = course_issue(actor=instructor, course=course)
    assert (again.already_issued, again.issued) == (6, 0)
    assert Lab.objects.filter(course=course).count() == 6
    assert course_progress(course)["requested"] == 6


def test_the_whole_class_is_refused_up_front_when_the_quota_cannot_take_it(klass):
    tenant, instructor, course = klass
    factories.host("hv1")
    from tenants.services import quota_update

    quota_update(tenant=tenant, max_labs=5)
    with pytest.raises(QuotaExceeded, match=r"'max_labs' exceeded: 0 labs in use \+ 6 labs requested > limit 5"):
        course_issue(actor=instructor, course=course)
    assert Lab.objects.count() == 0


def test_the_whole_class_is_refused_up_front_when_the_fleet_is_short(klass):
    _, instructor, course = klass
    factories.host("hv1", memory_mb=4096 + 4 * 4096)
    with pytest.raises(NoCapacity, match="free capacity for 4 of the 6 labs.*2 short"):
        course_issue(actor=instructor, course=course)
    assert Lab.objects.count() == 0


def test_only_instructors_of_the_course_and_admins_may_issue(klass):
    tenant, _, course = klass
    stranger = factories.member(tenant, "other-teacher", "instructor")
    with pytest.raises(NotAllowed):
        course_issue(actor=stranger, course=course)
