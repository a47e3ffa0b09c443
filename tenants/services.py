"""Writes for tenants, memberships and quotas. Every entry point (API, admin, commands) calls these."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from config.errors import TenantInUse
from config.services import model_update
from labs.models import Course
from tenants import permissions as tenant_permissions
from tenants.models import QUOTA_LIMIT_FIELDS, Membership, Quota, Tenant


@transaction.atomic
def tenant_create(*, slug: str, name: str, **quota_limits: int) -> Tenant:
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
    quota_update(tenant=tenant, **quota_limits)
    return tenant


@transaction.atomic
def quota_update(*, tenant: Tenant, **limits: int) -> Quota:
    """Set some of a tenant's limits. Unknown names and values below 1 raise ValidationError naming the field."""
    quota, _ = Quota.objects.select_for_update(no_key=True, of=("self",)).get_or_create(tenant=tenant)
    quota, _ = model_update(instance=quota, fields=limits, allowed=QUOTA_LIMIT_FIELDS, refusal="Not a quota limit.")
    return quota


@transaction.atomic
def membership_add(*, tenant: Tenant, user: AbstractBaseUser, role: str) -> Membership:
    """Give ``user`` a role in ``tenant``. A second membership in the same tenant is refused."""
    membership = Membership(tenant=tenant, user=user, role=role)
    membership.full_clean()
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError:
        raise ValidationError({"user": f"{user} is already a member of {tenant}."}) from None
    tenant_permissions.permissions_sync_membership(membership)
    return membership


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str) -> Membership:
    # From the row, not the caller's copy: the admin hands over an instance its form already changed.
    membership = Membership.objects.select_for_update(no_key=True, of=("self",)).get(pk=membership.pk)
    membership, _ = model_update(instance=membership, fields={"role": role}, allowed=("role",))
    tenant_permissions.permissions_sync_membership(membership)
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    tenant_permissions.permissions_revoke_membership(membership)
    membership.delete()


TENANT_EDITABLE = ("name", "active")


@transaction.atomic
def tenant_update(*, tenant: Tenant, **fields) -> Tenant:
    """Rename or (de)activate a tenant. The slug never changes: URLs and host names use it."""
    tenant = Tenant.objects.select_for_update(no_key=True, of=("self",)).get(pk=tenant.pk)
    tenant, _ = model_update(instance=tenant, fields=fields, allowed=TENANT_EDITABLE, refusal="This cannot be changed.")
    return tenant


@transaction.atomic
def tenant_delete(*, tenant: Tenant) -> None:
    """Delete a tenant that never had a lab (lab history is kept); otherwise deactivate it instead."""
    if tenant.labs.exists():
        raise TenantInUse(
            f"Tenant {tenant.slug} has labs (their history is kept), so it cannot be deleted; deactivate it instead.",
            labs=tenant.labs.count(),
        )
    course_ids = list(Course.objects.filter(tenant=tenant).values_list("pk", flat=True))
    Group.objects.filter(
        name__in=[f"nestlab:tenant:{tenant.pk}:managers"] + [f"nestlab:course:{pk}:instructors" for pk in course_ids]
    ).delete()
    Course.objects.filter(tenant=tenant).delete()
    tenant.delete()
