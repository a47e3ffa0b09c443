"""Writes for tenants, memberships and quotas. Every entry point (API, admin, commands) calls these."""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from config.audit import audit_log
from config.errors import TenantInUse
from config.services import model_update
from labs.models import Course
from tenants import permissions as tenant_permissions
from tenants.models import Membership, Quota, Tenant
from tenants.quotas import QUOTA_LIMIT_FIELDS

log = logging.getLogger(__name__)


@transaction.atomic
def tenant_create(*, actor=None, slug: str, name: str, **quota_limits: int) -> Tenant:
    """Create a tenant together with its quota (defaults unless given). Raises ValidationError.

    The slug is stored lower-case and must be unique ignoring case (the database enforces both):
    host object names are derived from it and Hyper-V compares them without case."""
    tenant = Tenant(slug=slug, name=name)
    taken = {"slug": f"A tenant with the slug {str(slug).lower()!r} already exists (slugs are compared without case)."}
    if isinstance(slug, str) and Tenant.objects.filter(slug__iexact=slug).exists():
        raise ValidationError(taken)
    tenant.full_clean()
    try:
        with transaction.atomic():
            tenant.save()
    except IntegrityError:
        raise ValidationError(taken) from None
    audit_log(log, "tenant created", actor=actor, obj=tenant, slug=tenant.slug)
    quota_update(actor=actor, tenant=tenant, **quota_limits)
    return tenant


@transaction.atomic
def quota_update(*, actor=None, tenant: Tenant, **limits: int) -> Quota:
    """Set some of a tenant's limits. Unknown names and values below 1 raise ValidationError naming the field."""
    quota, _ = Quota.objects.select_for_update(no_key=True, of=("self",)).get_or_create(tenant=tenant)
    quota, _ = model_update(instance=quota, fields=limits, allowed=QUOTA_LIMIT_FIELDS, refusal="Not a quota limit.")
    audit_log(log, "quota set", actor=actor, obj=quota, tenant=tenant.slug, limits=dict(limits))
    return quota


@transaction.atomic
def membership_add(*, actor=None, tenant: Tenant, user: AbstractBaseUser, role: str) -> Membership:
    """Give ``user`` a role in ``tenant``. A second membership in the same tenant is refused.

    Whoever may add people decided already (a member add checks ``member.role``, a roster the
    course, an invitation its addressee's consent); ``actor`` is who it is recorded for."""
    membership = Membership(tenant=tenant, user=user, role=role)
    membership.full_clean()
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError:
        raise ValidationError({"user": f"{user} is already a member of {tenant}."}) from None
    tenant_permissions.permissions_sync_membership(membership)
    audit_log(log, "member added", actor=actor, obj=membership, tenant=tenant.slug, user=user.pk, role=role)
    return membership


@transaction.atomic
def membership_change_role(*, actor=None, membership: Membership, role: str) -> Membership:
    """Change a member's role. Raises NotAllowed unless the actor may take the old role away and
    give the new one (only owners touch the owner role)."""
    # From the row, not the caller's copy: the admin hands over an instance its form already changed.
    membership = Membership.objects.select_for_update(no_key=True, of=("self",)).get(pk=membership.pk)
    was = membership.role
    tenant_permissions.require(actor, "member.role", membership.tenant, role=was)
    tenant_permissions.require(actor, "member.role", membership.tenant, role=role)
    membership, _ = model_update(instance=membership, fields={"role": role}, allowed=("role",))
    tenant_permissions.permissions_sync_membership(membership)
    audit_log(log, "member role changed", actor=actor, obj=membership, was=was, role=role)
    return membership


@transaction.atomic
def membership_remove(*, actor=None, membership: Membership) -> None:
    """Remove a member and their grants in the tenant. Raises NotAllowed unless the actor may take
    their role away."""
    tenant_permissions.require(actor, "member.role", membership.tenant, role=membership.role)
    audit_log(log, "member removed", actor=actor, obj=membership, user=membership.user_id, role=membership.role)
    tenant_permissions.permissions_revoke_membership(membership)
    membership.delete()


TENANT_EDITABLE = ("name", "active")


@transaction.atomic
def tenant_update(*, actor=None, tenant: Tenant, **fields) -> Tenant:
    """Rename or (de)activate a tenant. The slug never changes: URLs and host names use it."""
    tenant = Tenant.objects.select_for_update(no_key=True, of=("self",)).get(pk=tenant.pk)
    tenant, _ = model_update(instance=tenant, fields=fields, allowed=TENANT_EDITABLE, refusal="This cannot be changed.")
    audit_log(log, "tenant changed", actor=actor, obj=tenant, fields=fields)
    return tenant


@transaction.atomic
def tenant_delete(*, actor=None, tenant: Tenant) -> None:
    """Delete a tenant that never had a lab (lab history is kept); otherwise deactivate it instead."""
    if tenant.labs.exists():
        raise TenantInUse(
            f"Tenant {tenant.slug} has labs (their history is kept), so it cannot be deleted; deactivate it instead.",
            labs=tenant.labs.count(),
        )
    audit_log(log, "tenant deleted", actor=actor, obj=tenant, slug=tenant.slug)
    tenant_permissions.permissions_forget_tenant(tenant.pk)
    Course.objects.filter(tenant=tenant).delete()
    tenant.delete()
