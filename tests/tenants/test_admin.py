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
