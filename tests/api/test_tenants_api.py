"""Tenants, quotas, usage and members; grants follow membership changes."""

from __future__ import annotations

import pytest

from tenants.models import Membership, Quota

pytestmark = pytest.mark.django_db


def test_platform_admin_creates_a_tenant_with_quota(world, api):
    response = api("platform").post(
        "/api/v1/tenants/", {"slug": "initech", "name": "Initech", "quota": {"max_labs": 7}}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Quota.objects.get(tenant__slug="initech").max_labs == 7
    duplicate = api("platform").post("/api/v1/tenants/", {"slug": "initech", "name": "Again"}, format="json")
    assert duplicate.status_code == 400 and "slug" in duplicate.json()


def test_platform_admin_renames_deactivates_and_deletes_tenants(world, api):
    response = api("platform").patch("/api/v1/tenants/acme/", {"name": "ACME Corp", "active": False}, format="json")
    assert response.status_code == 200 and response.json() == {**response.json(), "name": "ACME Corp", "active": False}
    assert api("platform").patch("/api/v1/tenants/acme/", {"slug": "other"}, format="json").json()["slug"] == "acme"
    refused = api("platform").delete("/api/v1/tenants/acme/")
    assert refused.status_code == 409 and refused.json()["code"] == "tenant_in_use"
    api("platform").post("/api/v1/tenants/", {"slug": "empty", "name": "Empty"}, format="json")
    assert api("platform").delete("/api/v1/tenants/empty/").status_code == 204
    assert api("platform").get("/api/v1/tenants/empty/").status_code == 404


def test_quota_is_read_by_managers_and_set_by_platform_admins(world, api):
    assert api("admin").get("/api/v1/tenants/acme/quota/").json()["max_labs"] == 20
    assert api("admin").patch("/api/v1/tenants/acme/quota/", {"max_labs": 999}, format="json").status_code == 403
    response = api("platform").patch("/api/v1/tenants/acme/quota/", {"max_labs": 30}, format="json")
    assert response.status_code == 200 and response.json()["max_labs"] == 30
    assert api("platform").patch("/api/v1/tenants/acme/quota/", {"max_labs": 0}, format="json").status_code == 400


def test_usage_counts_live_labs(world, api):
    lines = {line["quota"]: line for line in api("admin").get("/api/v1/tenants/acme/usage/").json()}
    assert lines["max_labs"]["used"] == 2 and lines["max_labs"]["limit"] == 20
    assert lines["max_vcpus"]["used"] == 4


def test_tenant_list_shows_only_my_tenants(world, api):
    assert [t["slug"] for t in api("student").get("/api/v1/tenants/").json()["results"]] == ["acme"]
    assert [t["slug"] for t in api("platform").get("/api/v1/tenants/").json()["results"]] == ["acme", "globex"]


def test_admins_cannot_hand_out_the_owner_role_but_owners_can(world, api):
    membership = Membership.objects.get(tenant=world.acme, user=world.users["student2"])
    url = f"/api/v1/tenants/acme/members/{membership.pk}/"
    assert api("admin").patch(url, {"role": "owner"}, format="json").status_code == 403
    from tests import factories

    owner = factories.member(world.acme, "acme-owner", "owner")
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(owner)
    assert client.patch(url, {"role": "owner"}, format="json").status_code == 200
    # and now an admin may not demote that owner
    assert api("admin").patch(url, {"role": "student"}, format="json").status_code == 403


def test_adding_a_member_by_email_invites_unknown_people(world, api):
    response = api("admin").post(
        "/api/v1/tenants/acme/members/", {"email": "newbie@example.test", "role": "instructor"}, format="json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["role"] == "instructor"
    newbie = Membership.objects.get(tenant=world.acme, user__email="newbie@example.test")
    assert newbie.role == "instructor" and not newbie.user.is_active  # an account made for this tenant


def test_removing_a_member_takes_their_access_away(world, api):
    membership = Membership.objects.get(tenant=world.acme, user=world.users["student"])
    assert api("student").get(f"/api/v1/labs/{world.lab.pk}/").status_code == 200
    assert api("admin").delete(f"/api/v1/tenants/acme/members/{membership.pk}/").status_code == 204
    assert api("student").get(f"/api/v1/labs/{world.lab.pk}/").status_code == 404
    assert api("student").get(f"/api/v1/courses/{world.course.pk}/").status_code == 404


def test_promoting_a_student_to_admin_opens_the_tenant(world, api):
    membership = Membership.objects.get(tenant=world.acme, user=world.users["student"])
    assert api("student").get(f"/api/v1/labs/{world.lab2.pk}/").status_code == 404
    assert (
        api("admin")
        .patch(f"/api/v1/tenants/acme/members/{membership.pk}/", {"role": "admin"}, format="json")
        .status_code
        == 200
    )
    assert api("student").get(f"/api/v1/labs/{world.lab2.pk}/").status_code == 200
    # an admin's own lab is fully theirs: extend is allowed now
    assert api("student").post(f"/api/v1/labs/{world.lab.pk}/extend/", {"hours": 1}, format="json").status_code == 202


def test_demoting_an_instructor_removes_their_course(world, api):
    membership = Membership.objects.get(tenant=world.acme, user=world.users["instructor"])
    assert api("instructor").get(f"/api/v1/labs/{world.lab.pk}/").status_code == 200
    api("admin").patch(f"/api/v1/tenants/acme/members/{membership.pk}/", {"role": "student"}, format="json")
    assert api("instructor").get(f"/api/v1/labs/{world.lab.pk}/").status_code == 404
    assert api("instructor").get(f"/api/v1/courses/{world.course.pk}/enrollments/").status_code == 404
