"""Tenant slugs name host objects, which Hyper-V compares without case: so they are stored
lower-case and unique ignoring case, by validation, by the database and in the admin; and two
tenants' labs never land on one switch."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from tenants.models import Tenant
from tenants.services import tenant_create
from tests import factories


def test_a_slug_is_stored_lower_case(db):
    assert tenant_create(slug="Initech", name="Initech").slug == "initech"


def test_a_slug_differing_only_in_case_is_refused_naming_the_field(acme):
    with pytest.raises(ValidationError) as refused:
        tenant_create(slug="ACME", name="Acme again")
    assert "slug" in refused.value.message_dict
    assert Tenant.objects.filter(slug__iexact="acme").count() == 1


@pytest.mark.parametrize("slug", ["con", "-dash", "_x", "a_b"])
def test_a_slug_the_host_would_refuse_is_refused(db, slug):
    with pytest.raises(ValidationError) as refused:
        tenant_create(slug=slug, name="Bad")
    assert "slug" in refused.value.message_dict


def test_the_database_refuses_a_second_slug_differing_only_in_case(acme):
    with pytest.raises(IntegrityError, match="tenant_slug_unique_ignoring_case"), transaction.atomic():
        Tenant.objects.create(slug="acme-2", name="x")
        Tenant.objects.filter(slug="acme-2").update(slug="acme")
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenant.objects.create(slug="ACME", name="x")


def test_every_write_stores_lower_case_and_the_database_refuses_anything_else(db):
    assert Tenant.objects.create(slug="Globex", name="Globex").slug == "globex"
    assert Tenant.objects.filter(slug="globex").exists()
    with pytest.raises(IntegrityError, match="tenant_slug_lower_case"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO tenants_tenant (slug, name, active, created_at) VALUES ('Initech', 'x', true, now())"
            )


def _tenant_form(slug):
    return {
        "slug": slug,
        "name": "Initech",
        "active": "on",
        "quota-TOTAL_FORMS": 1,
        "quota-INITIAL_FORMS": 0,
        "quota-MIN_NUM_FORMS": 1,
        "quota-MAX_NUM_FORMS": 1,
        "quota-0-max_vcpus": 64,
        "quota-0-max_memory_mb": 131072,
        "quota-0-max_storage_gb": 2048,
        "quota-0-max_labs": 20,
        "quota-0-max_running_labs": 20,
        "quota-0-monthly_lab_hours": 2000,
        "quota-0-student_max_labs": 2,
        "quota-0-student_hours": 40,
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
    }


def test_the_admin_stores_slugs_lower_case_and_refuses_case_twins(admin_client, acme):
    response = admin_client.post("/admin/tenants/tenant/add/", _tenant_form("Initech"))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Tenant.objects.filter(slug="initech").exists()
    response = admin_client.post("/admin/tenants/tenant/add/", _tenant_form("ACME"))
    assert response.status_code == 200 and "already exists" in response.content.decode()
    response = admin_client.post("/admin/tenants/tenant/add/", _tenant_form("con"))
    assert response.status_code == 200 and "device name" in response.content.decode()
    assert Tenant.objects.count() == 2


def test_a_template_version_with_odd_memory_is_refused_by_the_model(acme):
    with pytest.raises(ValidationError) as refused:
        factories.template(acme, "odd", memory_mb=4097)
    assert "memory_mb" in refused.value.message_dict
