"""tenants.permissions: the grants the services write, and restrict() failing closed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db.models import Count

from labs.models import Lab, LabGroupObjectPermission, LabUserObjectPermission
from tenants import permissions
from tenants.models import Membership
from tenants.services import membership_change_role, membership_remove

pytestmark = pytest.mark.django_db


def _user_perms(user, lab):
    return set(
        LabUserObjectPermission.objects.filter(user=user, content_object=lab).values_list(
            "permission__codename", flat=True
        )
    )


def test_a_student_owner_gets_view_operate_connect_only(world):
    assert _user_perms(world.users["student"], world.lab) == {"view_lab", "operate_lab", "connect_lab"}


def test_managers_and_course_instructors_hold_every_lab_permission_through_groups(world):
    groups = {
        row["group__name"]: row["n"]
        for row in LabGroupObjectPermission.objects.filter(content_object=world.lab)
        .values("group__name")
        .annotate(n=Count("pk"))
    }
    assert groups == {
        f"nestlab:tenant:{world.acme.pk}:managers": 5,
        f"nestlab:course:{world.course.pk}:instructors": 5,
    }
    assert world.users["admin"].groups.filter(name=f"nestlab:tenant:{world.acme.pk}:managers").exists()
    assert world.users["instructor"].groups.filter(name=f"nestlab:course:{world.course.pk}:instructors").exists()


def test_grants_are_idempotent(world):
    before = (LabUserObjectPermission.objects.count(), LabGroupObjectPermission.objects.count())
    permissions.permissions_grant_for_lab(world.lab)
    permissions.permissions_grant_for_course(world.course)
    assert (LabUserObjectPermission.objects.count(), LabGroupObjectPermission.objects.count()) == before


def test_role_changes_rewrite_own_lab_grants(world):
    membership = Membership.objects.get(tenant=world.acme, user=world.users["student"])
    membership_change_role(membership=membership, role="instructor")
    assert _user_perms(world.users["student"], world.lab) == set(permissions.LAB_ALL)
    membership_change_role(membership=membership, role="student")
    assert _user_perms(world.users["student"], world.lab) == set(permissions.LAB_STUDENT_OWNER)


def test_removal_revokes_everything_in_that_tenant(world):
    admin = world.users["admin"]
    membership_remove(membership=Membership.objects.get(tenant=world.acme, user=admin))
    assert not admin.groups.filter(name__startswith=f"nestlab:tenant:{world.acme.pk}:").exists()
    admin = type(admin).objects.get(pk=admin.pk)
    assert not permissions.restrict(Lab.objects.all(), admin).exists()


def test_restrict_keeps_other_tenants_out_even_with_a_stray_grant(world):
    # A wrong grant (say, from a bug) on another tenant's lab must still not show it.
    student = world.users["student"]
    LabUserObjectPermission.objects.create(
        user=student,
        content_object=world.globex_lab,
        permission=permissions._permissions("labs.lab", ["view_lab"])[0],
    )
    fresh = type(student).objects.get(pk=student.pk)
    assert world.globex_lab not in permissions.restrict(Lab.objects.all(), fresh)


def test_restrict_fails_closed_for_models_without_a_rule(world):
    with pytest.raises(LookupError):
        permissions.restrict(Group.objects.all(), world.users["student"])


def test_anonymous_and_inactive_users_see_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    assert not permissions.restrict(Lab.objects.all(), AnonymousUser()).exists()
    student = world.users["student"]
    student.is_active = False
    assert not permissions.restrict(Lab.objects.all(), student).exists()
