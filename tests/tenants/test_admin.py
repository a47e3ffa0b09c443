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
