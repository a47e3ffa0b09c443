"""A role changed in the admin reaches the row and the grants (``membership_change_role`` reads the
row itself: the admin hands it an instance its form has already changed)."""

import pytest

from labs.services import lab_request
from tenants.models import Membership
from tenants.permissions import may

pytestmark = pytest.mark.django_db


def test_a_role_changed_in_the_admin_is_saved_with_its_grants(
    client, platform_admin, acme_admin, acme_student, acme_template
):
    lab = lab_request(actor=acme_admin, template=acme_template)
    membership = Membership.objects.get(user=acme_student)
    assert not may(acme_student, lab, "view")
    client.force_login(platform_admin)
    response = client.post(f"/admin/tenants/membership/{membership.pk}/change/", {"role": "admin"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Membership.objects.get(pk=membership.pk).role == "admin"
    assert may(acme_student, lab, "view")
