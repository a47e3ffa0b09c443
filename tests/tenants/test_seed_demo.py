import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from labs import services as lab_services
from labs.models import Course, Enrollment, LabTemplate
from tenants.models import Membership, Quota, Tenant
from workers.hyperv.doctor import nesting_refusal
from workers.hyperv.simulator.hyperv import facts as hvsim_facts


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


@pytest.mark.django_db
def test_the_demo_templates_nest_on_every_demo_host_intel_and_amd():
    # make run's hosts: hvsim defaults (Windows Server 2022), hv3 with an AMD CPU.
    supported = hvsim_facts.SUPPORTED_VERSIONS[20348]
    with override_settings(DEBUG=True):
        call_command("seed_demo")
    versions = [template.versions.order_by("-version").first() for template in LabTemplate.objects.all()]
    assert len(versions) == 3
    for version in versions:
        for cpu in hvsim_facts.CPU_MANUFACTURER.values():
            refusal = nesting_refusal(version.config_version, cpu_manufacturer=cpu, supported_config_versions=supported)
            assert refusal is None


@pytest.mark.django_db
def test_seed_demo_revises_demo_templates_seeded_with_a_version_amd_cannot_nest():
    with override_settings(DEBUG=True):
        call_command("seed_demo")
        template = LabTemplate.objects.get(name="acme-lab")
        lab_services.template_revise(template=template, config_version="9.0")
        call_command("seed_demo")
        call_command("seed_demo")
    history = list(template.versions.order_by("version").values_list("config_version", flat=True))
    assert history == ["10.0", "9.0", "10.0"]
