from labs.services import lab_request


def test_tenant_page_shows_usage_against_each_limit(admin_client, acme, acme_admin, acme_template):
    lab_request(actor=acme_admin, template=acme_template)
    page = admin_client.get(f"/admin/tenants/tenant/{acme.pk}/change/").content.decode()
    assert "max_labs: 1 of 20 labs (5%)" in page
    assert "max_vcpus: 2 of 64 vCPUs" in page


def test_a_member_added_in_the_admin_gets_the_roles_grants(admin_client, acme, acme_admin, acme_template):
    from tenants.models import Membership
    from tenants.permissions import may
    from tests import factories

    lab = lab_request(actor=acme_admin, template=acme_template)
    newcomer = factories.user("acme-newadmin")
    response = admin_client.post(
        "/admin/tenants/membership/add/", {"tenant": acme.pk, "user": newcomer.pk, "role": "admin"}
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    assert may(newcomer, lab, "view")
    membership = Membership.objects.get(user=newcomer)
    response = admin_client.post(f"/admin/tenants/membership/{membership.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not may(newcomer, lab, "view")


def test_tenant_page_shows_the_busiest_students_usage_against_the_per_student_limits(
    admin_client, acme, acme_student, acme_student2, acme_template
):
    from labs.models import LabUsageMonth
    from tenants.selectors import month_start

    first = lab_request(actor=acme_student, template=acme_template)
    lab_request(actor=acme_student, template=acme_template)
    lab_request(actor=acme_student2, template=acme_template)
    LabUsageMonth.objects.create(lab=first, tenant=acme, owner=acme_student, month=month_start(), running_seconds=5400)
    page = admin_client.get(f"/admin/tenants/tenant/{acme.pk}/change/").content.decode()
    assert "student_max_labs: 2 of 2 labs (100%) (busiest student)" in page
    assert "student_hours: 1.5 of 40 hours (4%) (busiest student)" in page


def _tenant_form(quota_pk="", tenant_pk="", **fields):
    """The tenant add/change form as the admin posts it: the tenant, its one quota, no members."""
    limits = {
        "max_vcpus": 48, "max_memory_mb": 65536, "max_storage_gb": 900, "max_labs": 9, "max_running_labs": 5,
        "monthly_lab_hours": 700, "student_max_labs": 2, "student_hours": 30,
    }  # fmt: skip
    return {
        "name": "Initech", "active": "on",
        "quota-TOTAL_FORMS": 1, "quota-INITIAL_FORMS": 1 if quota_pk else 0, "quota-MIN_NUM_FORMS": 1,
        "quota-MAX_NUM_FORMS": 1, "quota-0-id": quota_pk, "quota-0-tenant": tenant_pk,
        **{f"quota-0-{name}": value for name, value in limits.items()},
        "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0,
        **fields,
    }  # fmt: skip


def test_a_tenant_added_in_the_admin_goes_through_the_services(admin_client, caplog, db):
    from tenants.models import Quota, Tenant

    caplog.set_level("INFO")
    response = admin_client.post("/admin/tenants/tenant/add/", _tenant_form(slug="INITECH"))
    assert response.status_code == 302, response.content.decode()[:3000]
    tenant = Tenant.objects.get(slug="initech")  # the service stores the slug lower-case
    assert Quota.objects.get(tenant=tenant).max_labs == 9 and Quota.objects.filter(tenant=tenant).count() == 1
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "tenant created" in logged and "quota set" in logged and "by admin" in logged


def test_a_tenant_changed_in_the_admin_keeps_its_slug_and_records_the_change(admin_client, caplog, acme):
    from tenants.models import Quota, Tenant

    caplog.set_level("INFO")
    quota = Quota.objects.get(tenant=acme)
    form = _tenant_form(quota_pk=quota.pk, tenant_pk=acme.pk, slug="renamed", name="Acme Renamed")
    response = admin_client.post(f"/admin/tenants/tenant/{acme.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    acme = Tenant.objects.get(pk=acme.pk)
    assert (acme.slug, acme.name) == ("acme", "Acme Renamed")  # the slug is read-only once it exists
    assert Quota.objects.get(tenant=acme).max_running_labs == 5
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "tenant changed" in logged and "quota set" in logged
