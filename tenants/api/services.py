"""Tenant writes the API needs that tenants/services.py does not have yet.

They follow the same rules as the services there (keyword-only, validated, atomic) and belong
there; they live here because the API is their only caller so far.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from config.errors import DomainError
from tenants.models import Tenant

TENANT_EDITABLE = ("name", "active")


class TenantInUse(DomainError):
    code = "tenant_in_use"
    http_status = 409


@transaction.atomic
def tenant_update(*, tenant: Tenant, **fields) -> Tenant:
    """Rename or (de)activate a tenant. The slug never changes: URLs and host names use it."""
    unknown = set(fields) - set(TENANT_EDITABLE)
    if unknown:
        raise ValidationError({name: "This cannot be changed." for name in sorted(unknown)})
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    for name, value in fields.items():
        setattr(tenant, name, value)
    tenant.full_clean()
    tenant.save(update_fields=list(fields) or None)
    return tenant


@transaction.atomic
def tenant_delete(*, tenant: Tenant) -> None:
    """Delete a tenant that never had a lab (lab history is kept); otherwise deactivate it instead."""
    from labs.models import Course

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
