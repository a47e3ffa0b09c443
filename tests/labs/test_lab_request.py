from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from config.errors import NotAllowed, QuotaExceeded, TenantInactive
from labs.models import Lab, LabEvent, LabUsageMonth
from labs.services import lab_request
from labs.states import LabState
from tenants.selectors import month_start
from tenants.services import quota_update
from tests import factories


def _nothing_left_behind(tenant):
    assert Lab.objects.filter(tenant=tenant).count() == 0
    assert LabEvent.objects.filter(lab__tenant=tenant).count() == 0


def test_a_request_creates_a_requested_lab_with_its_event(acme, acme_admin, acme_template):
    lab = lab_request(actor=acme_admin, template=acme_template)
    assert lab.state == LabState.REQUESTED
    assert lab.template_version.version == 1
    assert lab.vm_name == f"nestlab-{lab.pk}"
    assert lab.expires_at > timezone.now() + timedelta(days=6)
    assert list(lab.events.values_list("event", "to_state")) == [("request", "requested")]


@pytest.mark.parametrize(
    ("limit", "value", "template_shape"),
    [
        ("max_labs", 1, {}),
        ("max_vcpus", 3, {}),
        ("max_memory_mb", 6000, {}),
        ("max_storage_gb", 50, {}),
        ("max_running_labs", 1, {}),
    ],
)
def test_the_second_lab_past_a_tenant_limit_is_refused_naming_it(acme, acme_admin, limit, value, template_shape):
    template = factories.template(acme, "t", **template_shape)
    quota_update(tenant=acme, **{limit: value})
    lab_request(actor=acme_admin, template=template)
    with pytest.raises(QuotaExceeded) as refused:
        lab_request(actor=acme_admin, template=template)
    assert refused.value.detail["quota"] == limit
    assert refused.value.detail["limit"] == value
    assert f"Quota '{limit}' exceeded" in refused.value.message
    assert Lab.objects.filter(tenant=acme).count() == 1


def test_the_refusal_names_usage_request_and_limit(acme, acme_admin):
    template = factories.template(acme, "big", vcpus=4, memory_mb=8192)
    quota_update(tenant=acme, max_vcpus=6)
    lab_request(actor=acme_admin, template=template)
    with pytest.raises(QuotaExceeded, match=r"'max_vcpus' exceeded: 4 vCPUs in use \+ 4 vCPUs requested > limit 6"):
        lab_request(actor=acme_admin, template=template)


def test_a_refused_request_leaves_nothing_behind(acme, acme_admin, acme_template):
    quota_update(tenant=acme, max_memory_mb=2048)
    with pytest.raises(QuotaExceeded):
        lab_request(actor=acme_admin, template=acme_template)
    _nothing_left_behind(acme)


def test_deleted_and_failed_labs_do_not_count(acme, acme_admin, acme_template):
    from labs.lifecycle import transition
    from labs.states import LabEventName

    quota_update(tenant=acme, max_labs=1)
    first = lab_request(actor=acme_admin, template=acme_template)
    transition(first, LabEventName.FAIL, message="test")
    second = lab_request(actor=acme_admin, template=acme_template)
    assert second.state == LabState.REQUESTED


def test_students_are_held_to_the_per_student_limit(acme, acme_student, acme_student2, acme_template):
    quota_update(tenant=acme, student_max_labs=1)
    lab_request(actor=acme_student, template=acme_template)
    with pytest.raises(QuotaExceeded) as refused:
        lab_request(actor=acme_student, template=acme_template)
    assert refused.value.detail["quota"] == "student_max_labs"
    assert lab_request(actor=acme_student2, template=acme_template).owner == acme_student2


def test_students_may_only_use_self_service_templates(acme, acme_student):
    closed = factories.template(acme, "closed", self_service=False)
    with pytest.raises(NotAllowed, match="self-service"):
        lab_request(actor=acme_student, template=closed)
    _nothing_left_behind(acme)


def test_students_cannot_request_for_someone_else(acme, acme_student, acme_student2, acme_template):
    with pytest.raises(NotAllowed):
        lab_request(actor=acme_student, owner=acme_student2, template=acme_template)


def test_another_tenants_template_is_refused(acme, globex, acme_admin):
    foreign = factories.template(globex, "theirs")
    with pytest.raises(ValidationError) as refused:
        lab_request(actor=acme_admin, template=foreign, tenant=acme)
    assert "template" in refused.value.message_dict


def test_a_non_member_owner_is_refused(acme, globex_admin, acme_admin, acme_template):
    with pytest.raises(ValidationError) as refused:
        lab_request(actor=acme_admin, owner=globex_admin, template=acme_template)
    assert "owner" in refused.value.message_dict


def test_course_labs_are_one_per_enrolled_student(acme, acme_instructor, acme_student, acme_student2, acme_template):
    course = factories.course(acme, "Nested 101", acme_template, instructors=[acme_instructor], students=[acme_student])
    lab = lab_request(actor=acme_instructor, owner=acme_student, template=acme_template, course=course)
    assert lab.enrollment.course == course
    with pytest.raises(QuotaExceeded) as refused:
        lab_request(actor=acme_instructor, owner=acme_student, template=acme_template, course=course)
    assert refused.value.detail["quota"] == "labs_per_student_per_course"
    with pytest.raises(ValidationError, match="not enrolled"):
        lab_request(actor=acme_instructor, owner=acme_student2, template=acme_template, course=course)


def test_an_instructor_of_another_course_cannot_issue(acme, acme_student, acme_template):
    other = factories.member(acme, "other-instructor", "instructor")
    course = factories.course(acme, "Nested 102", acme_template, students=[acme_student])
    with pytest.raises(NotAllowed):
        lab_request(actor=other, owner=acme_student, template=acme_template, course=course)


def test_exhausted_monthly_hours_refuse_new_labs(acme, acme_admin, acme_template):
    quota_update(tenant=acme, monthly_lab_hours=1)
    lab = lab_request(actor=acme_admin, template=acme_template)
    LabUsageMonth.objects.create(lab=lab, tenant=acme, owner=acme_admin, month=month_start(), running_seconds=3600)
    with pytest.raises(QuotaExceeded) as refused:
        lab_request(actor=acme_admin, template=acme_template)
    assert refused.value.detail["quota"] == "monthly_lab_hours"


def test_an_inactive_tenant_cannot_request(acme, acme_admin, acme_template):
    acme.active = False
    acme.save()
    with pytest.raises(TenantInactive, match="inactive"):
        lab_request(actor=acme_admin, template=acme_template)
    _nothing_left_behind(acme)


def test_labs_pin_the_template_version_they_were_built_from(acme, acme_admin, acme_template):
    from labs.services import template_revise

    first = lab_request(actor=acme_admin, template=acme_template)
    template_revise(template=acme_template, vcpus=4)
    second = lab_request(actor=acme_admin, template=acme_template)
    first.refresh_from_db()
    assert (first.template_version.version, first.template_version.vcpus) == (1, 2)
    assert (second.template_version.version, second.template_version.vcpus) == (2, 4)


def test_a_student_out_of_monthly_hours_cannot_request_more_labs(acme, acme_student, acme_student2, acme_template):
    quota_update(tenant=acme, student_hours=2)
    lab = lab_request(actor=acme_student, template=acme_template)
    LabUsageMonth.objects.create(lab=lab, tenant=acme, owner=acme_student, month=month_start(), running_seconds=7200)
    with pytest.raises(QuotaExceeded) as refused:
        lab_request(actor=acme_student, template=acme_template)
    assert (refused.value.detail["quota"], refused.value.detail["limit"]) == ("student_hours", 2)
    assert lab_request(actor=acme_student2, template=acme_template).owner == acme_student2
