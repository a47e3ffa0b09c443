import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from labs.models import Course, Enrollment, LabTemplate
from tenants.models import Membership, Quota, Tenant


def _counts():
    return (
        Tenant.objects.count(),
        get_user_model().objects.count(),
        Membership.objects.count(),
        LabTemplate.objects.count(),
        Course.objects.count(),
        Enrollment.objects.count(),
    )


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_complete():
    with override_settings(DEBUG=True):
        call_command("seed_demo")
        first = _counts()
        call_command("seed_demo")
    assert _counts() == first == (2, 9, 8, 3, 1, 2)
    quota = Quota.objects.get(tenant__slug="acme")
    assert (quota.max_vcpus, quota.max_memory_mb, quota.max_labs) == (16, 32768, 4)
    assert get_user_model().objects.get(username="acme-student1").check_password("nestlab-demo")
    course = Course.objects.get()
    assert list(course.instructors.values_list("username", flat=True)) == ["acme-instructor"]
    assert LabTemplate.objects.filter(tenant__isnull=True).count() == 1


@pytest.mark.django_db
def test_seed_demo_refuses_without_debug_or_force():
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
    assert Tenant.objects.count() == 0
