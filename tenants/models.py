from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from config import validators as host_rules
from tenants.quotas import QUOTA_LIMIT_FIELDS


class LowerCaseSlugField(models.SlugField):
    """A slug stored lower-case: ``full_clean`` (services, admin forms) folds the case before the
    validators run, and every save and query folds it too (``get_prep_value`` calls
    ``to_python``; ``pre_save`` keeps the instance in step with its row)."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.lower() if isinstance(value, str) else value

    def pre_save(self, model_instance, add):
        value = self.to_python(super().pre_save(model_instance, add))
        setattr(model_instance, self.attname, value)
        return value


class Tenant(models.Model):
    """An organisation that owns labs, templates and courses, and is bound by one Quota.

    The slug becomes part of host object names (switches, NATs, VM notes), and Hyper-V compares
    those without case: so slugs are lower-case and unique without case, both enforced by the
    database as well."""

    slug = LowerCaseSlugField(
        max_length=40,
        validators=[host_rules.tenant_slug],
        help_text="Short stable identifier used in URLs and host names: lower-case letters, digits and '-'.",
    )
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True, help_text="Inactive tenants cannot request labs.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(
                Lower("slug"),
                name="tenant_slug_unique_ignoring_case",
                violation_error_message="A tenant with this slug already exists (slugs are compared without case).",
            ),
            models.CheckConstraint(condition=Q(slug=Lower("slug")), name="tenant_slug_lower_case"),
        ]

    def __str__(self) -> str:
        return self.slug


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    INSTRUCTOR = "instructor", "Instructor"
    STUDENT = "student", "Student"


class Membership(models.Model):
    """A user's role in a tenant. One per user and tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant", "user"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_one_per_user_and_tenant"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} as {self.role}"


_positive = [MinValueValidator(1)]


class Quota(models.Model):
    """A tenant's limits (one field per row of ``tenants.quotas.QUOTA_LIMITS``, which says what each
    counts). Usage is always counted from live rows, never stored here."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="quota")
    max_vcpus = models.PositiveIntegerField(default=64, validators=_positive)
    max_memory_mb = models.PositiveIntegerField("max memory (MB)", default=131072, validators=_positive)
    max_storage_gb = models.PositiveIntegerField("max storage (GB)", default=2048, validators=_positive)
    max_labs = models.PositiveIntegerField(default=20, validators=_positive)
    max_running_labs = models.PositiveIntegerField(default=20, validators=_positive)
    monthly_lab_hours = models.PositiveIntegerField("lab hours per calendar month", default=2000, validators=_positive)
    student_max_labs = models.PositiveIntegerField("max labs per student", default=2, validators=_positive)
    student_hours = models.PositiveIntegerField("lab hours per student per month", default=40, validators=_positive)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(**{f"{name}__gt": 0}), name=f"quota_{name}_positive")
            for name in QUOTA_LIMIT_FIELDS
        ]

    def __str__(self) -> str:
        return f"quota of {self.tenant}"


class Invitation(models.Model):
    """An invitation to join a tenant in ``role``, made by a roster import or a member add.

    For a person who already had an account it is the only thing the add made: they become a
    member when they accept it (``tenants.invitations.invitation_accept``), and roster rows
    waiting for them (enrollments in state ``invited``) enroll them then. For an unknown address
    the add also made an inactive account with an unusable password, already a member, which the
    invitation lets its owner claim. Only a hash of the token is stored.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.STUDENT)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user"], condition=Q(accepted_at__isnull=True), name="invitation_one_open_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.tenant}"
