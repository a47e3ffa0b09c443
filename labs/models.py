import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from config import validators as host_rules
from labs.states import LabState
from workers.hyperv import names as host_names

# Conservative: these names reach PowerShell (quoted) and host paths, so keep them boring.
safe_name = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$",
    "Use letters, digits, spaces, dots, dashes and underscores (1-100 characters, starting with a letter or digit).",
)

# Bounds on time, declared once: the models validate them (so the admin shows them), and the
# API's serializers reuse the same validators.
#: A lab lives at most this long from its creation, extensions included.
MAX_LAB_LIFETIME = timedelta(days=365)
MIN_LAB_LIFETIME = timedelta(hours=1)
lifetime_validators = [
    MinValueValidator(MIN_LAB_LIFETIME, "Give a lifetime of at least 1 hour."),
    MaxValueValidator(MAX_LAB_LIFETIME, "A lab lives at most 365 days."),
]
continuous_running_validators = [
    MinValueValidator(timedelta(minutes=1), "Give at least 1 minute, or leave it empty for no limit."),
    MaxValueValidator(MAX_LAB_LIFETIME, "Give at most 365 days, or leave it empty for no limit."),
]
COURSE_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
COURSE_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
course_date_validators = [
    MinValueValidator(COURSE_EARLIEST, "Give a date in the years 2000 to 2099."),
    MaxValueValidator(COURSE_LATEST, "Give a date in the years 2000 to 2099."),
]


class NetworkScope(models.TextChoices):
    TENANT = "tenant", "One switch per tenant"
    LAB = "lab", "One switch per lab"


class NetworkMode(models.TextChoices):
    PRIVATE = "private", "Private (no way out)"
    NAT = "nat", "NAT (internal switch, per-tenant prefix)"
    VLAN = "vlan", "VLAN (external switch, per-tenant access VLAN)"


class SecureBoot(models.TextChoices):
    """Generation 2 firmware: which Secure Boot template, or none (``workers.hyperv.names``)."""

    MICROSOFT_WINDOWS = host_names.SECURE_BOOT_WINDOWS, "Secure Boot, Microsoft Windows template (Windows guests)"
    MICROSOFT_UEFI_CA = host_names.SECURE_BOOT_UEFI_CA, "Secure Boot, Microsoft UEFI CA template (Linux guests)"
    OFF = host_names.SECURE_BOOT_OFF, "Secure Boot off"


class LabTemplate(models.Model):
    """What a lab is built from. Owned by one tenant, or global (tenant empty).

    The machine shape lives in LabTemplateVersion: editing a template adds a version, and each
    lab pins the version it was built from, so a change never alters running labs.
    """

    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="templates"
    )
    name = models.CharField(max_length=100, validators=[safe_name])
    description = models.TextField(blank=True)
    self_service = models.BooleanField(
        default=False, help_text="Students may create labs from this template themselves."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="template_name_unique_per_tenant"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(tenant__isnull=True), name="template_name_unique_global"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant or 'global'}/{self.name}"

    @property
    def is_global(self) -> bool:
        return self.tenant_id is None


#: The machine shape: the fields of a LabTemplateVersion that a template's edit copies into a new
#: version. Declared once; the services, the API's serializers and the admin use it.
VERSIONED_FIELDS = (
    "vcpus",
    "memory_mb",
    "disk_gb",
    "base_image_path",
    "generation",
    "config_version",
    "secure_boot",
    "network_scope",
    "network_mode",
    "default_lifetime",
    "max_continuous_running",
)


class LabTemplateVersion(models.Model):
    """One immutable shape of a template. Nested virtualization needs static memory and >= 2 vCPUs."""

    template = models.ForeignKey(LabTemplate, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    # The upper bounds are Hyper-V's (240 vCPUs and 12 TB of memory per VM; 64 TB per VHDX).
    vcpus = models.PositiveSmallIntegerField(
        "vCPUs",
        validators=[MinValueValidator(2, "Nested virtualization needs at least 2 vCPUs."), MaxValueValidator(240)],
    )
    memory_mb = models.PositiveIntegerField(
        "static memory (MB)",
        validators=[
            MinValueValidator(2048, "Give a nested hypervisor at least 2048 MB."),
            MaxValueValidator(12 * 1024 * 1024),
            host_rules.memory_mb,
        ],
    )
    disk_gb = models.PositiveIntegerField(
        "disk size (GB)", validators=[MinValueValidator(1), MaxValueValidator(64 * 1024)]
    )
    base_image_path = models.CharField(max_length=260, validators=[host_rules.base_image_path])
    generation = models.PositiveSmallIntegerField(choices=[(1, "Generation 1"), (2, "Generation 2")], default=2)
    config_version = models.CharField(
        "VM configuration version",
        max_length=8,
        default="9.0",
        validators=[host_rules.config_version],
    )
    secure_boot = models.CharField(
        max_length=40,
        choices=SecureBoot.choices,
        default=SecureBoot.MICROSOFT_WINDOWS,
        validators=[host_rules.secure_boot],
        help_text="Generation 2 only (Generation 1 has no Secure Boot): Linux guests need the UEFI CA template.",
    )
    network_scope = models.CharField(max_length=10, choices=NetworkScope.choices, default=NetworkScope.TENANT)
    network_mode = models.CharField(max_length=10, choices=NetworkMode.choices, default=NetworkMode.PRIVATE)
    default_lifetime = models.DurationField(default=timedelta(days=7), validators=lifetime_validators)
    max_continuous_running = models.DurationField(
        null=True,
        blank=True,
        validators=continuous_running_validators,
        help_text="Stop a lab that has run this long without a break. Empty: no limit.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["template", "version"], name="template_version_unique"),
            models.CheckConstraint(condition=Q(vcpus__gte=2), name="template_version_vcpus_at_least_2"),
            models.CheckConstraint(condition=Q(memory_mb__gte=2048), name="template_version_memory_at_least_2048"),
            models.CheckConstraint(condition=Q(disk_gb__gte=1), name="template_version_disk_positive"),
            models.CheckConstraint(condition=Q(generation__in=[1, 2]), name="template_version_generation_valid"),
            models.CheckConstraint(condition=Q(network_scope__in=NetworkScope.values), name="template_scope_valid"),
            models.CheckConstraint(condition=Q(network_mode__in=NetworkMode.values), name="template_mode_valid"),
            models.CheckConstraint(condition=Q(default_lifetime__gt=timedelta(0)), name="template_lifetime_positive"),
            models.CheckConstraint(condition=Q(secure_boot__in=SecureBoot.values), name="template_secure_boot_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.version}"

    def clean(self):
        if self.base_image_path and self.generation:
            host_rules.base_image_for_generation(self.generation, self.base_image_path)


class Course(models.Model):
    """A class taught by instructors; each enrolled student gets one lab from the template."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="courses")
    name = models.CharField(max_length=200)
    template = models.ForeignKey(LabTemplate, on_delete=models.PROTECT, related_name="courses")
    instructors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="courses_taught", blank=True)
    starts_at = models.DateTimeField(validators=course_date_validators)
    ends_at = models.DateTimeField(validators=course_date_validators)
    hours_per_student = models.PositiveIntegerField(default=20, validators=[MinValueValidator(1)])
    lab_lifetime = models.DurationField(default=timedelta(days=14), validators=lifetime_validators)
    labs_started_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the schedule powered the labs on for class."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="course_name_unique_per_tenant"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="course_ends_after_it_starts"),
            models.CheckConstraint(condition=Q(hours_per_student__gt=0), name="course_hours_positive"),
            models.CheckConstraint(condition=Q(lab_lifetime__gt=timedelta(0)), name="course_lifetime_positive"),
        ]
        permissions = [("issue_course", "Can manage the roster and issue the course's labs")]

    def __str__(self) -> str:
        return f"{self.tenant}/{self.name}"

    def clean(self):
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The course must end after it starts."})
        if self.template_id and self.tenant_id and self.template.tenant_id not in (None, self.tenant_id):
            raise ValidationError({"template": "Use a global template or one of this tenant's."})


class Lab(models.Model):
    """One nested hypervisor of one owner. Its state changes only through labs.lifecycle.transition."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="labs")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="labs")
    template_version = models.ForeignKey(LabTemplateVersion, on_delete=models.PROTECT, related_name="labs")
    course = models.ForeignKey(Course, null=True, blank=True, on_delete=models.PROTECT, related_name="labs")
    name = models.CharField(max_length=100, validators=[safe_name])
    state = models.CharField(max_length=20, choices=LabState.choices, default=LabState.REQUESTED, editable=False)
    host = models.ForeignKey("workers.Host", null=True, blank=True, on_delete=models.PROTECT, related_name="labs")
    vm_name = models.CharField(max_length=64, unique=True, editable=False)
    vm_id = models.CharField("VM id on the host", max_length=64, blank=True, editable=False)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    state_changed_at = models.DateTimeField(auto_now_add=True)
    running_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the VM last came up; empty while it is off."
    )
    metered_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Running time up to here is in LabUsageMonth."
    )
    expiry_warned_at = models.DateTimeField(null=True, blank=True, editable=False)
    # One worker at a time does host work for a lab (see workers.services.hostcalls.lab_lease).
    worker_lease = models.CharField(max_length=100, blank=True, editable=False)
    worker_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "state"]),
            models.Index(fields=["owner", "state"]),
            models.Index(fields=["host", "state"]),
            models.Index(fields=["state", "state_changed_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=LabState.values), name="lab_state_valid"),
        ]
        permissions = [
            ("operate_lab", "Can start, stop, reset, checkpoint and restore the lab"),
            ("connect_lab", "Can open the lab's console"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"

    def save(self, *args, **kwargs):
        if not self.vm_name:
            self.vm_name = vm_name_for(self.id)
        super().save(*args, **kwargs)


def vm_name_for(lab_id: uuid.UUID) -> str:
    """The deterministic VM name every host operation is keyed by (see workers.hyperv.names)."""
    return host_names.vm_name(lab_id)


class LabEvent(models.Model):
    """Append-only history of a lab: every transition and every build step."""

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    event = models.CharField(max_length=40)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["lab", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.event} {self.from_state}->{self.to_state}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Lab events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Lab events are append-only.")


class EnrollmentStatus(models.TextChoices):
    INVITED = "invited", "Invited"
    ENROLLED = "enrolled", "Enrolled"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Enrollment(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments")
    lab = models.OneToOneField(Lab, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrollment")
    status = models.CharField(max_length=20, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ENROLLED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["course", "student"]
        constraints = [
            models.UniqueConstraint(fields=["course", "student"], name="enrollment_one_per_student_and_course"),
        ]

    def __str__(self) -> str:
        return f"{self.student} in {self.course}"


class LabUsageMonth(models.Model):
    """Running seconds of one lab in one calendar month: the meter for hour quotas."""

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="usage_months")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="usage_months")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_months")
    month = models.DateField(help_text="First day of the month.")
    running_seconds = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lab", "month"], name="usage_one_row_per_lab_and_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="usage_month_is_first_day"),
        ]
        indexes = [models.Index(fields=["tenant", "month"]), models.Index(fields=["owner", "month"])]

    def __str__(self) -> str:
        return f"{self.lab_id} {self.month:%Y-%m}: {self.running_seconds} s"


# Direct foreign-key object permissions (django-guardian's performance guide): one indexed join
# instead of the generic content-type table for the two models with the most rows.
class LabUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Lab, on_delete=models.CASCADE)


class LabGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Lab, on_delete=models.CASCADE)


class CourseUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Course, on_delete=models.CASCADE)


class CourseGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Course, on_delete=models.CASCADE)


class LabCheckpoint(models.Model):
    """A named checkpoint a user took of a lab (the clean checkpoint is implicit and not listed)."""

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="checkpoints")
    name = models.CharField(max_length=100, validators=[host_rules.checkpoint_name])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["lab", "name"], name="checkpoint_name_unique_per_lab")]

    def __str__(self) -> str:
        return f"{self.name} of {self.lab_id}"
