"""Adding people by e-mail invites them: no one is pulled into a tenant, and the answer tells nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from labs.models import Enrollment
from tenants.invitations import member_add_by_email, person_add
from tenants.models import Invitation, Membership

pytestmark = pytest.mark.django_db
User = get_user_model()


def _add(client, tenant, email, role="admin"):
    return client.post(f"/api/v1/tenants/{tenant}/members/", {"email": email, "role": role}, format="json")


def test_adding_another_tenants_admin_only_invites_them_and_they_see_nothing(world, api):
    victim = world.users["globex_admin"]
    response = _add(api("admin"), "acme", victim.email)
    assert response.status_code == 202, response.content
    assert not Membership.objects.filter(tenant=world.acme, user=victim).exists()
    assert Invitation.objects.get(tenant=world.acme, user=victim, accepted_at=None).role == "admin"
    assert [t["slug"] for t in api("globex_admin").get("/api/v1/tenants/").json()["results"]] == ["globex"]
    assert api("globex_admin").get("/api/v1/tenants/acme/members/").status_code == 404
    assert api("globex_admin").get(f"/api/v1/courses/{world.course.pk}/").status_code == 404


def test_the_answer_is_the_same_whether_or_not_an_account_exists(world, api):
    taken = _add(api("admin"), "acme", world.users["globex_admin"].email)
    free = _add(api("admin"), "acme", "nobody-yet@example.test")
    platform = _add(api("admin"), "acme", world.users["platform"].email)
    answers = [taken, free, platform]
    assert {r.status_code for r in answers} == {202}
    bodies = [r.json() for r in answers]
    assert all(set(body) == {"email", "role", "detail"} for body in bodies)
    shapes = {body["detail"].replace(body["email"], "<email>") for body in bodies}
    assert len(shapes) == 1, shapes
    for response in answers:
        text = response.content.decode()
        assert "username" not in text and '"id"' not in text and "active" not in text


def test_platform_admins_are_never_added_or_invited(world, api):
    response = _add(api("admin"), "acme", world.users["platform"].email.upper())
    assert response.status_code == 202
    assert not Membership.objects.filter(user=world.users["platform"]).exists()
    assert not Invitation.objects.filter(user=world.users["platform"]).exists()
    roster = api("admin").post(
        f"/api/v1/courses/{world.course.pk}/enrollments/",
        [{"email": world.users["platform"].email, "name": "P"}],
        format="json",
    )
    assert roster.status_code == 201
    assert not Enrollment.objects.filter(student=world.users["platform"]).exists()


def test_the_invitee_accepts_and_becomes_a_member_in_the_invited_role(world, api):
    victim = world.users["globex_admin"]
    added = member_add_by_email(actor=world.users["admin"], tenant=world.acme, email=victim.email, role="instructor")
    (token,) = added.tokens
    assert api("student").post("/api/v1/invitations/accept/", {"token": token}, format="json").status_code == 404
    forged = api("globex_admin").post("/api/v1/invitations/accept/", {"token": "forged"}, format="json")
    assert forged.status_code == 404
    assert not Membership.objects.filter(tenant=world.acme, user=victim).exists()

    response = api("globex_admin").post("/api/v1/invitations/accept/", {"token": token}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"tenant": "acme", "role": "instructor"}
    assert Membership.objects.get(tenant=world.acme, user=victim).role == "instructor"
    assert Invitation.objects.get(tenant=world.acme, user=victim).accepted_at is not None
    again = api("globex_admin").post("/api/v1/invitations/accept/", {"token": token}, format="json")
    assert again.status_code == 404  # used


def test_a_roster_row_for_an_existing_account_waits_as_invited_until_they_accept(world, api):
    victim = world.users["globex_admin"]
    url = f"/api/v1/courses/{world.course.pk}/enrollments/"
    response = api("instructor").post(url, [{"email": victim.email, "name": "G"}], format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["rows"], body["enrolled"], body["invited"], body["enrollments"]) == (1, 0, 1, [])
    assert not Membership.objects.filter(tenant=world.acme, user=victim).exists()
    assert Enrollment.objects.get(course=world.course, student=victim).status == "invited"
    listed = [row for row in api("instructor").get(url).json()["results"] if row["status"] == "invited"]
    assert listed == [{**listed[0], "student": None, "username": None}]
    assert api("globex_admin").get(f"/api/v1/courses/{world.course.pk}/").status_code == 404

    token = person_add(
        actor=world.users["admin"], tenant=world.acme, email=victim.email, role="student", keep_open_role=True
    ).tokens[0]  # a re-send renews the token
    assert api("globex_admin").post("/api/v1/invitations/accept/", {"token": token}, format="json").status_code == 200
    assert Membership.objects.get(tenant=world.acme, user=victim).role == "student"
    assert Enrollment.objects.get(course=world.course, student=victim).status == "enrolled"
    assert api("globex_admin").get(f"/api/v1/courses/{world.course.pk}/").status_code == 200


def test_a_request_counts_against_the_tenant_of_the_object_it_touches(world, api, settings):
    victim = world.users["globex_admin"]
    (token,) = member_add_by_email(
        actor=world.users["admin"], tenant=world.acme, email=victim.email, role="student"
    ).tokens
    assert api("globex_admin").post("/api/v1/invitations/accept/", {"token": token}, format="json").status_code == 200
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"tenant": "3/min"}}
    cache.clear()  # fresh counters
    acme_admin = api("admin")
    assert [acme_admin.get(f"/api/v1/labs/{world.lab.pk}/").status_code for _ in range(3)] == [200] * 3
    assert acme_admin.get(f"/api/v1/labs/{world.lab.pk}/").status_code == 429  # acme's budget is spent
    # globex's admin, now also in acme (the lower id), works on globex's objects on globex's budget
    globex_admin = api("globex_admin")
    assert globex_admin.get(f"/api/v1/labs/{world.globex_lab.pk}/").status_code == 200
    assert globex_admin.get("/api/v1/tenants/globex/members/").status_code == 200
    # an acme member poking at globex's objects spends neither budget (and learns nothing: 404)
    stranger = api("student2")
    assert [stranger.get(f"/api/v1/labs/{world.globex_lab.pk}/").status_code for _ in range(3)] == [404] * 3
    assert globex_admin.get(f"/api/v1/courses/{world.globex_course.pk}/").status_code == 200
    assert globex_admin.get(f"/api/v1/labs/{world.globex_lab.pk}/").status_code == 429  # globex's own 4th
