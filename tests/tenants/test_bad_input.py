"""Bad input is refused with an error naming the field, by validation and by the database."""

import subprocess
import sys

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from labs.models import LabTemplate, LabTemplateVersion
from tenants.models import Quota
from tenants.services import membership_add, quota_update
from tests import factories
from workers.models import Host, TenantSegment


@pytest.mark.parametrize("value", [0, -1])
@pytest.mark.parametrize("field", ["max_vcpus", "max_labs", "monthly_lab_hours", "student_max_labs"])
def test_zero_or_negative_quota_is_refused_naming_the_field(acme, field, value):
    with pytest.raises(ValidationError) as refused:
        quota_update(tenant=acme, **{field: value})
    assert field in refused.value.message_dict
    assert getattr(Quota.objects.get(tenant=acme), field) > 0


def test_the_database_refuses_a_zero_quota_too(acme):
    with pytest.raises(IntegrityError, match="quota_max_labs_positive"), transaction.atomic():
        Quota.objects.filter(tenant=acme).update(max_labs=0)


def test_unknown_quota_names_are_refused(acme):
    with pytest.raises(ValidationError) as refused:
        quota_update(tenant=acme, max_unicorns=3)
    assert "max_unicorns" in refused.value.message_dict


def test_a_template_with_one_vcpu_is_refused(acme):
    with pytest.raises(ValidationError) as refused:
        factories.template(acme, "tiny", vcpus=1)
    assert "vcpus" in refused.value.message_dict
    assert not LabTemplate.objects.filter(name="tiny").exists()


def test_the_database_refuses_one_vcpu_too(acme_template):
    with pytest.raises(IntegrityError, match="vcpus_at_least_2"), transaction.atomic():
        LabTemplateVersion.objects.filter(template=acme_template).update(vcpus=1)


def test_a_template_with_dynamic_memory_is_refused(acme):
    with pytest.raises(ValidationError) as refused:
        factories.template(acme, "dyn", dynamic_memory=True)
    assert "dynamic_memory" in refused.value.message_dict


def test_a_relative_base_image_path_is_refused(acme):
    with pytest.raises(ValidationError) as refused:
        factories.template(acme, "rel", base_image_path="images/base.vhdx")
    assert "base_image_path" in refused.value.message_dict


@pytest.mark.parametrize("vlan", [0, 4095])
def test_a_vlan_outside_1_to_4094_is_refused(acme, vlan):
    with pytest.raises(ValidationError) as refused:
        TenantSegment(tenant=acme, vlan_id=vlan).full_clean()
    assert "vlan_id" in refused.value.message_dict
    with pytest.raises(IntegrityError, match="segment_vlan_in_range"), transaction.atomic():
        TenantSegment.objects.create(tenant=acme, vlan_id=vlan)


def test_a_vlan_is_unique_across_tenants(acme, globex):
    TenantSegment.objects.create(tenant=acme, vlan_id=100)
    with pytest.raises(IntegrityError), transaction.atomic():
        TenantSegment.objects.create(tenant=globex, vlan_id=100)


def test_a_duplicate_membership_is_refused(acme, acme_student):
    with pytest.raises(ValidationError) as refused:
        membership_add(tenant=acme, user=acme_student, role="admin")
    assert refused.value.message_dict


def test_an_unknown_host_transport_is_refused(db):
    host = Host(
        name="hv9",
        endpoint="hv9.example.test",
        transport="telnet",
        username="u",
        logical_cpus=8,
        memory_mb=32768,
        storage_gb=500,
    )
    with pytest.raises(ValidationError) as refused:
        host.full_clean()
    assert "transport" in refused.value.message_dict
    with pytest.raises(IntegrityError, match="host_transport_valid"), transaction.atomic():
        host.save()


def _settings_error(env: dict) -> str:
    code = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings'); django.setup()"
    base = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": "x" * 40,
        "ALLOWED_HOSTS": "a",
        "NESTLAB_ENCRYPTION_KEY": "Q2hhbmdlTWUtdGhpcy1pcy1hLXRlc3Qta2V5LTAwMDA=",
    }
    done = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True)
    assert done.returncode != 0
    return done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DEBUG": "perhaps"}, "DEBUG"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"CELERY_BROKER_URL": "http://x"}, "CELERY_BROKER_URL"),
        ({"NESTLAB_PLACEMENT_POLICY": "random"}, "NESTLAB_PLACEMENT_POLICY"),
        ({"NESTLAB_ENCRYPTION_KEY": ""}, "NESTLAB_ENCRYPTION_KEY"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_the_variable(env, named):
    assert f"environment variable {named}" in _settings_error(env)
