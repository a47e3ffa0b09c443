"""Finding or inviting people by e-mail, for member adds and course rosters.

These are writes and belong with the tenant services; they live here because the API is their
only caller so far. Move them to ``tenants/services.py`` when the portal needs them.
"""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.models import Invitation, Membership, Role, Tenant
from tenants.services import membership_add


def user_find_or_invite(*, actor, tenant: Tenant, email: str, name: str = ""):
    """The user with this e-mail (case-insensitive), or a new inactive one with an invitation.

    New users get the e-mail as username and an unusable password, so nobody can sign in as them
    until they accept the invitation. Returns ``(user, created)``. Raises ValidationError if two
    existing users share the address (we cannot tell which one is meant).
    """
    User = get_user_model()
    email = User.objects.normalize_email(email.strip())
    matches = list(User.objects.filter(email__iexact=email)[:2])
    if len(matches) > 1:
        raise ValidationError({"email": f"More than one account uses {email}; add that person by hand."})
    if matches:
        return matches[0], False
    if User.objects.filter(username__iexact=email).exists():
        raise ValidationError({"email": f"The user name {email} is taken by another account."})
    first, _, last = name.strip().partition(" ")
    user = User(username=email, email=email, first_name=first[:150], last_name=last[:150], is_active=False)
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    invitation_create(actor=actor, tenant=tenant, user=user)
    return user, True


def invitation_create(*, actor, tenant: Tenant, user) -> str:
    """Store an invitation (hash only) and return the token, to be sent by mail."""
    token = secrets.token_urlsafe(32)
    Invitation.objects.create(
        tenant=tenant,
        user=user,
        email=user.email,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        invited_by=actor if getattr(actor, "pk", None) else None,
    )
    return token


@transaction.atomic
def member_add_by_email(*, actor, tenant: Tenant, email: str, role: str, name: str = "") -> Membership:
    """Add (inviting if needed) the person with this e-mail to the tenant in ``role``."""
    user, _ = user_find_or_invite(actor=actor, tenant=tenant, email=email, name=name)
    return membership_add(tenant=tenant, user=user, role=role)


def ensure_student(*, tenant: Tenant, user) -> bool:
    """Make ``user`` a student of the tenant unless they already hold a role there."""
    if Membership.objects.filter(tenant=tenant, user=user).exists():
        return False
    membership_add(tenant=tenant, user=user, role=Role.STUDENT)
    return True
