"""Adding people by e-mail (member adds and course rosters), and accepting invitations.

Nobody is pulled into a tenant without consent. Adding a person who already has an account only
invites them: they become a member (and are enrolled in the course the invitation came from)
when they accept it, signed in as themselves (``invitation_accept``). Until then they are not a
member and see nothing. An address without an account gets a new inactive account with no
usable password, made for this tenant, which is a member right away (so a course's labs can be
issued before the person first signs in), and an invitation to claim it. Platform admins are
never added this way.

The caller learns nothing about accounts outside its tenant: whether an account exists for the
address, or belongs to a platform admin, the outcome reads the same (``Added.invited``). Only
people who are already members of the tenant are told apart, and the tenant's managers can list
those anyway.

Every function here is safe against a double click: two identical adds at the same moment end
with one account, one membership or invitation, and one enrollment, and neither raises a
database error (the second add of a member is ``AlreadyMember``, a 409).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import AlreadyMember, InvitationNotFound, NotAllowed
from labs.models import Enrollment, EnrollmentStatus
from labs.services import enrollment_add
from tenants import permissions as tenant_permissions
from tenants.models import Invitation, Membership, Role, Tenant
from tenants.services import membership_add


@dataclass(frozen=True)
class Added:
    """What adding one address did. Only ``email``, ``role``, ``invited`` and ``member`` may be
    shown to the caller; the accounts are for the services (a roster enrolls them)."""

    email: str
    role: str
    invited: bool  # True: an invitation went out (to whoever, if anyone, holds the address)
    member: Membership | None = None  # set only for people who were already members
    new_account: object = None  # the inactive account made for an unknown address (a member now)
    invitees: tuple = ()  # existing accounts invited (not members until they accept)
    tokens: tuple = ()  # the invitations' tokens, for the mail to the address; never in an answer


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _normalise(email: str) -> str:
    return get_user_model().objects.normalize_email(email.strip())


def _is_admin_account(user) -> bool:
    """Staff or superuser, active or not: wider than ``permissions.is_platform_admin`` on purpose,
    since no administrator's account is ever pulled into a tenant by e-mail (not even a disabled one)."""
    return bool(user.is_staff or user.is_superuser)


def _same_address(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def _account_create(*, email: str, name: str):
    """A new inactive account for ``email``, or None if one appeared meanwhile (a parallel add).

    Its username is the address. If the address cannot be a username (too long, or characters
    such as an apostrophe that usernames refuse) or another account already uses it as its
    username (with a different address), the new account gets a generated one instead, so that
    no address is refused for a reason that depends on other accounts.
    """
    User = get_user_model()
    first, _, last = name.strip().partition(" ")
    username = email
    try:
        User.username_validator(username)
        usable = len(username) <= User._meta.get_field("username").max_length
    except ValidationError:
        usable = False
    if usable:
        holder = User.objects.filter(username__iexact=username).first()
        if holder is not None and _same_address(holder.email, email):
            return None  # a parallel add of this address made it (and committed) first
        usable = holder is None
    if not usable:
        # Derived from the address, so two parallel adds of it still collide on the username.
        username = f"invited-{hashlib.sha256(email.lower().encode()).hexdigest()[:16]}"
        holder = User.objects.filter(username=username).first()
        if holder is not None and _same_address(holder.email, email):
            return None
        if holder is not None:
            username = f"invited-{secrets.token_hex(8)}"
    user = User(username=username, email=email, first_name=first[:150], last_name=last[:150], is_active=False)
    user.set_unusable_password()
    user.full_clean(exclude=["password"], validate_unique=False)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a parallel add of the same address made it first
        return None
    return user


def invitation_create(*, actor, tenant: Tenant, user, role: str = Role.STUDENT) -> str:
    """Open an invitation (or renew the open one, with a new token) and return the token to mail.

    Only a hash of the token is stored. A renewed invitation keeps its role unless ``role`` is
    given by a member add (rosters always invite as students and leave an open invitation's role
    alone: see ``person_add``).
    """
    token = secrets.token_urlsafe(32)
    fields = {
        "email": user.email,
        "token_hash": _token_hash(token),
        "role": role,
        "invited_by": actor if getattr(actor, "pk", None) else None,
    }
    for _ in range(2):
        updated = Invitation.objects.filter(tenant=tenant, user=user, accepted_at__isnull=True).update(**fields)
        if updated:
            return token
        try:
            with transaction.atomic():
                Invitation.objects.create(tenant=tenant, user=user, **fields)
            return token
        except IntegrityError:  # a parallel add opened it first: renew that one
            continue
    raise AssertionError("unreachable: the open invitation exists after an IntegrityError")


def _open_role(tenant: Tenant, user) -> str | None:
    return (
        Invitation.objects.filter(tenant=tenant, user=user, accepted_at__isnull=True)
        .values_list("role", flat=True)
        .first()
    )


@transaction.atomic
def person_add(*, actor, tenant: Tenant, email: str, role: str, name: str = "", keep_open_role: bool = False) -> Added:
    """Add the person with this e-mail to the tenant in ``role``: see the module docstring.

    Existing accounts (every one using the address, case-insensitively) get an invitation;
    platform admins are skipped silently; an unknown address gets a new inactive account that is
    a member at once, plus an invitation. A person already a member is returned as such
    (``member`` set, ``invited`` False) and nothing changes. Raises ValidationError for a bad
    address or role.
    """
    User = get_user_model()
    email = _normalise(email)
    if role not in Role.values:
        raise ValidationError({"role": f"{role!r} is not a role."})
    accounts = list(User.objects.filter(email__iexact=email).order_by("pk"))
    if not accounts:
        user = _account_create(email=email, name=name)
        if user is not None:
            membership_add(actor=actor, tenant=tenant, user=user, role=role)
            token = invitation_create(actor=actor, tenant=tenant, user=user, role=role)
            return Added(email=email, role=role, invited=True, new_account=user, tokens=(token,))
        # A parallel add made the account (and its membership) first and has committed, so this
        # statement sees both.
        accounts = list(User.objects.filter(email__iexact=email).order_by("pk"))
    member = Membership.objects.filter(tenant=tenant, user__in=accounts).select_related("user").first()
    if member is not None:
        return Added(email=email, role=member.role, invited=False, member=member)
    invitees, tokens = [], []
    for account in accounts:
        if _is_admin_account(account):
            continue  # never added to a tenant this way; the answer does not say so
        open_role = _open_role(tenant, account) if keep_open_role else None
        tokens.append(invitation_create(actor=actor, tenant=tenant, user=account, role=open_role or role))
        invitees.append(account)
    return Added(email=email, role=role, invited=True, invitees=tuple(invitees), tokens=tuple(tokens))


def member_add_by_email(*, actor, tenant: Tenant, email: str, role: str, name: str = "") -> Added:
    """A member add: ``person_add``, refusing (409) a person who is already a member.

    Raises NotAllowed unless the actor may give ``role`` (only owners give the owner role)."""
    tenant_permissions.require(actor, "member.role", tenant, role=role)
    added = person_add(actor=actor, tenant=tenant, email=email, role=role, name=name)
    if added.member is not None:
        raise AlreadyMember(f"{added.email} is already a member of {tenant}.", email=added.email)
    return added


@transaction.atomic
def invitation_accept(*, token: str, user) -> Membership:
    """The signed-in addressee accepts: they become a member in the invitation's role, and every
    course of the tenant they were invited to (roster rows waiting as ``invited``) enrolls them.

    Idempotent for a person who is a member already (their role is kept). Raises
    InvitationNotFound (the token is unknown, used, or addressed to someone else: the three
    are not told apart) and NotAllowed for a platform admin.
    """
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("tenant")
        .filter(token_hash=_token_hash(token or ""), accepted_at__isnull=True)
        .first()
    )
    if invitation is None or invitation.user_id != user.pk:
        raise InvitationNotFound("This invitation does not exist, was already accepted, or is not addressed to you.")
    if _is_admin_account(user):
        raise NotAllowed("Platform admins are not members of tenants.")
    membership = Membership.objects.filter(tenant=invitation.tenant, user=user).first()
    if membership is None:
        membership = membership_add(actor=user, tenant=invitation.tenant, user=user, role=invitation.role)
    waiting = Enrollment.objects.filter(course__tenant=invitation.tenant, student=user, status=EnrollmentStatus.INVITED)
    for enrollment in waiting.select_related("course"):
        enrollment_add(actor=user, course=enrollment.course, student=user)
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return membership
