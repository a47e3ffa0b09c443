"""Who may do what is decided by the services (through tenants.permissions), whatever the entry
point, and every change records who made it."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from config.errors import NotAllowed
from labs.models import LabTemplate
from labs.services import course_create, template_create
from tenants.invitations import member_add_by_email
from tenants.models import Membership, Role
from tenants.services import membership_change_role, membership_remove, quota_update
from tests import factories

pytestmark = pytest.mark.django_db

SHAPE = {"vcpus": 2, "memory_mb": 4096, "disk_gb": 40, "base_image_path": r"C:\Images\base.vhdx"}


@pytest.fixture
def acme_owner(acme):
    return factories.member(acme, "acme-owner", Role.OWNER)


def test_an_admin_may_not_make_an_owner(acme, acme_admin, acme_student):
    membership = Membership.objects.get(tenant=acme, user=acme_student)
    with pytest.raises(NotAllowed, match="owner role"):
        membership_change_role(actor=acme_admin, membership=membership, role=Role.OWNER)
    assert Membership.objects.get(pk=membership.pk).role == Role.STUDENT


def test_an_admin_may_not_demote_or_remove_an_owner(acme, acme_admin, acme_owner):
    membership = Membership.objects.get(tenant=acme, user=acme_owner)
    with pytest.raises(NotAllowed, match="owner role"):
        membership_change_role(actor=acme_admin, membership=membership, role=Role.STUDENT)
    with pytest.raises(NotAllowed, match="owner role"):
        membership_remove(actor=acme_admin, membership=membership)
    assert Membership.objects.get(pk=membership.pk).role == Role.OWNER


def test_an_admin_may_not_invite_an_owner_but_an_owner_may(acme, acme_admin, acme_owner):
    with pytest.raises(NotAllowed, match="owner role"):
        member_add_by_email(actor=acme_admin, tenant=acme, email="boss@example.test", role=Role.OWNER)
    assert member_add_by_email(actor=acme_owner, tenant=acme, email="boss@example.test", role=Role.OWNER).invited


def test_a_student_may_not_change_roles(acme, acme_student, acme_student2):
    membership = Membership.objects.get(tenant=acme, user=acme_student2)
    with pytest.raises(NotAllowed):
        membership_change_role(actor=acme_student, membership=membership, role=Role.INSTRUCTOR)


def test_only_platform_admins_make_global_templates(acme_admin, platform_admin):
    with pytest.raises(ValidationError) as refused:
        template_create(actor=acme_admin, tenant=None, name="global", **SHAPE)
    assert "only platform admins" in refused.value.message_dict["tenant"][0]
    assert not LabTemplate.objects.filter(name="global").exists()
    assert template_create(actor=platform_admin, tenant=None, name="global", **SHAPE).tenant is None


def test_a_course_refuses_instructors_from_outside_the_tenant(acme, acme_admin, acme_template, globex_admin):
    now = timezone.now()
    with pytest.raises(ValidationError) as refused:
        course_create(
            actor=acme_admin,
            tenant=acme,
            name="C",
            template=acme_template,
            starts_at=now,
            ends_at=now + timedelta(days=1),
            instructors=[globex_admin],
        )
    assert "instructors" in refused.value.message_dict
    assert not acme.courses.exists()


def test_tenant_services_record_their_actor(acme, acme_admin, acme_student, platform_admin, caplog):
    caplog.set_level(logging.INFO, logger="tenants.services")
    quota_update(actor=platform_admin, tenant=acme, max_labs=7)
    membership = Membership.objects.get(tenant=acme, user=acme_student)
    membership_change_role(actor=acme_admin, membership=membership, role=Role.INSTRUCTOR)
    records = {r.change: r for r in caplog.records if hasattr(r, "change")}
    assert records["quota set"].actor == "admin" and records["quota set"].limits == {"max_labs": 7}
    changed = records["member role changed"]
    assert (changed.actor, changed.was, changed.role) == (acme_admin.username, "student", "instructor")
    assert changed.object == f"tenants.membership:{membership.pk}"
