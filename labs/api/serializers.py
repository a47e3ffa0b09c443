from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import serializers

from config import validators as host_rules
from config.api.fields import RestrictedPrimaryKeyRelatedField, RestrictedSlugRelatedField
from labs.models import (
    VERSIONED_FIELDS,
    Course,
    Enrollment,
    Lab,
    LabEvent,
    LabTemplate,
    LabTemplateVersion,
    course_date_validators,
    lifetime_validators,
)
from labs.states import LabState
from tenants.models import Tenant
from tenants.permissions import is_platform_admin
from workers.models import Host
from workers.services.placement import version_host_notes

# --- Templates -------------------------------------------------------------------------------------
# The shape fields are VERSIONED_FIELDS, and their rules are the LabTemplateVersion model's (field
# validators, choices, defaults): ModelSerializer builds them, so nothing here restates either.


class _ShapeInputSerializer(serializers.ModelSerializer):
    """Shape fields built from the model, keeping the model's validators and their messages (DRF
    would turn min/max validators into its own min_value/max_value with generic messages), so the
    API says what the admin and the services say."""

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if "min_value" in kwargs or "max_value" in kwargs:
            kwargs.pop("min_value", None)
            kwargs.pop("max_value", None)
            kwargs["validators"] = list(model_field.validators)
        return field_class, kwargs


class TemplateShapeSerializer(serializers.ModelSerializer):
    """The machine shape: one immutable version of a template."""

    class Meta:
        model = LabTemplateVersion
        fields = ["version", *VERSIONED_FIELDS, "created_at"]
        read_only_fields = fields


class TemplateSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    latest = serializers.SerializerMethodField(help_text="The newest version; new labs are built from it.")
    hosts_ruled_out = serializers.SerializerMethodField(
        help_text="Hosts on which the newest version cannot nest (its configuration version), and why; "
        "host names for platform admins only. Labs are placed on the other hosts."
    )

    class Meta:
        model = LabTemplate
        fields = [
            "id",
            "tenant",
            "name",
            "description",
            "self_service",
            "active",
            "latest",
            "created_at",
            "hosts_ruled_out",
        ]
        read_only_fields = fields

    def get_hosts_ruled_out(self, template) -> list[dict]:
        latest = self._latest(template)
        if latest is None:
            return []
        if "_hosts" not in self.context:  # one query per answer, however many templates it lists
            self.context["_hosts"] = list(Host.objects.order_by("name"))
        request = self.context.get("request")
        staff = bool(request and is_platform_admin(request.user))
        return version_host_notes(latest, self.context["_hosts"], with_names=staff)

    @staticmethod
    def _latest(template):
        versions = getattr(template, "versions_newest_first", None)
        if versions is None:
            versions = list(template.versions.order_by("-version")[:1])
        return versions[0] if versions else None

    def get_latest(self, template) -> TemplateShapeSerializer:
        latest = self._latest(template)
        return TemplateShapeSerializer(latest).data if latest else None


class TemplateCreateSerializer(_ShapeInputSerializer):
    """A new template and its version 1. ``tenant`` empty makes a global template (platform admins)."""

    tenant = RestrictedSlugRelatedField(
        slug_field="slug",
        queryset=Tenant.objects.all(),
        access="manage",
        required=False,
        allow_null=True,
        help_text="A tenant you own or administer; empty for a global template (platform admins only).",
    )
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    self_service = serializers.BooleanField(required=False, default=False)

    class Meta:
        model = LabTemplateVersion  # the shape fields; the template's own are declared above
        fields = ["tenant", "name", "description", "self_service", *VERSIONED_FIELDS]


class TemplateUpdateSerializer(_ShapeInputSerializer):
    """Edit a template. Shape fields add a version (labs already built keep theirs); name,
    description, self_service and active change the template itself."""

    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    self_service = serializers.BooleanField(required=False)
    active = serializers.BooleanField(required=False, help_text="False retires it: no new labs.")

    class Meta:
        model = LabTemplateVersion  # the shape fields; the template's own are declared above
        fields = ["name", "description", "self_service", "active", *VERSIONED_FIELDS]
        extra_kwargs = {name: {"required": False} for name in VERSIONED_FIELDS}

    def validate(self, data):
        if not data:
            raise serializers.ValidationError("Give at least one field to change.")
        return data


# --- Labs ------------------------------------------------------------------------------------------


def _datetime(value) -> str | None:
    """DRF's DateTimeField output (ISO 8601, UTC as Z) without its per-value timezone lookups.
    The API never activates a per-request time zone, so the default one is the current one."""
    if value is None:
        return None
    text = value.astimezone(timezone.get_default_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class LabSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    owner = serializers.IntegerField(source="owner_id", read_only=True)
    owner_username = serializers.CharField(source="owner.username", read_only=True)
    template = serializers.IntegerField(source="template_version.template_id", read_only=True)
    template_version = serializers.IntegerField(source="template_version.version", read_only=True)
    course = serializers.IntegerField(source="course_id", read_only=True, allow_null=True)
    state = serializers.ChoiceField(choices=LabState.choices, read_only=True)
    host = serializers.CharField(source="host.name", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Lab
        fields = [
            "id",
            "name",
            "tenant",
            "owner",
            "owner_username",
            "template",
            "template_version",
            "course",
            "state",
            "host",
            "vm_name",
            "expires_at",
            "created_at",
            "state_changed_at",
            "last_error",
        ]
        read_only_fields = fields

    def to_representation(self, lab):
        # The hot path of the busiest list: the same output as the declared fields (a test
        # compares them), built directly; DRF's field-by-field walk costs ~4x as much.
        datetime = _datetime
        return {
            "id": str(lab.pk),
            "name": lab.name,
            "tenant": lab.tenant.slug,
            "owner": lab.owner_id,
            "owner_username": lab.owner.username,
            "template": lab.template_version.template_id,
            "template_version": lab.template_version.version,
            "course": lab.course_id,
            "state": lab.state,
            "host": lab.host.name if lab.host_id is not None else None,
            "vm_name": lab.vm_name,
            "expires_at": datetime(lab.expires_at),
            "created_at": datetime(lab.created_at),
            "state_changed_at": datetime(lab.state_changed_at),
            "last_error": lab.last_error,
        }


class LabCreateSerializer(serializers.Serializer):
    """Ask for a lab. Everything else (tenant checks, quota, who may ask) is ``lab_request``'s job."""

    template = RestrictedPrimaryKeyRelatedField(queryset=LabTemplate.objects.all())
    tenant = RestrictedSlugRelatedField(
        slug_field="slug",
        queryset=Tenant.objects.all(),
        required=False,
        help_text="Needed with a global template; defaults to the template's or the course's tenant.",
    )
    owner = RestrictedPrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), required=False, help_text="Defaults to you."
    )
    course = RestrictedPrimaryKeyRelatedField(queryset=Course.objects.all(), required=False, allow_null=True)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class LabEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = LabEvent
        fields = ["id", "at", "event", "from_state", "to_state", "actor", "message"]
        read_only_fields = fields


class LabExtendSerializer(serializers.Serializer):
    hours = serializers.IntegerField(min_value=1, max_value=24 * 30)


class LabCheckpointSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=100,
        validators=[host_rules.checkpoint_name],
        help_text="1-100 letters, digits, spaces, '.', '_', '-'; see 'Validation rules' in the README.",
    )


class LabConnectionSerializer(serializers.Serializer):
    host = serializers.CharField(help_text="The Hyper-V host's address; VMConnect reaches it on port 2179.")
    port = serializers.IntegerField()
    vm_name = serializers.CharField()
    vm_id = serializers.CharField(allow_null=True, help_text="The VM's GUID when the host reported it.")
    rdp = serializers.CharField(help_text="A .rdp file for VMConnect (also served with ?format=rdp).")


# --- Courses ---------------------------------------------------------------------------------------


class CourseSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    template = serializers.PrimaryKeyRelatedField(read_only=True)
    instructors = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Course
        fields = [
            "id",
            "tenant",
            "name",
            "template",
            "instructors",
            "starts_at",
            "ends_at",
            "hours_per_student",
            "lab_lifetime",
            "created_at",
        ]
        read_only_fields = fields


class CourseCreateSerializer(serializers.Serializer):
    tenant = RestrictedSlugRelatedField(slug_field="slug", queryset=Tenant.objects.all(), access="manage")
    name = serializers.CharField(max_length=200)
    template = RestrictedPrimaryKeyRelatedField(queryset=LabTemplate.objects.all())
    instructors = RestrictedPrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), many=True, required=False, default=list
    )
    starts_at = serializers.DateTimeField(validators=course_date_validators)
    ends_at = serializers.DateTimeField(validators=course_date_validators)
    hours_per_student = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    lab_lifetime = serializers.DurationField(required=False, validators=lifetime_validators)


class EnrollmentSerializer(serializers.ModelSerializer):
    student = serializers.IntegerField(
        source="student_id",
        read_only=True,
        allow_null=True,
        help_text="null while the person is invited (not yet a member).",
    )
    username = serializers.CharField(
        source="student.username",
        read_only=True,
        allow_null=True,
        help_text="null while the person is invited (not yet a member).",
    )
    email = serializers.EmailField(source="student.email", read_only=True)
    lab = serializers.UUIDField(source="lab_id", read_only=True, allow_null=True)

    class Meta:
        model = Enrollment
        fields = ["id", "student", "username", "email", "status", "lab", "created_at"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.status == "invited":  # not a member yet: their account is not ours to show
            data["student"] = data["username"] = None
        return data


class _PlannedLabSerializer(serializers.Serializer):
    student = serializers.CharField()
    host = serializers.CharField(required=False, help_text="Platform admins only.")


class _CapacityLeftSerializer(serializers.Serializer):
    host = serializers.CharField()
    vcpus = serializers.IntegerField()
    memory_mb = serializers.IntegerField()
    storage_gb = serializers.IntegerField()


class _RefusalSerializer(serializers.Serializer):
    student = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class IssuePlanSerializer(serializers.Serializer):
    """What issuing the course does (or, on a dry run, would do)."""

    course = serializers.CharField()
    dry_run = serializers.BooleanField()
    enrolled = serializers.IntegerField()
    already_issued = serializers.IntegerField()
    to_issue = serializers.IntegerField()
    fits = serializers.IntegerField(help_text="How many of the labs to issue the fleet has room for.")
    capacity = serializers.CharField(
        help_text='Whether the class fits, in words: "room for all 30 labs" or '
        '"room for 26 of 30: the fleet is 4 labs short".'
    )
    labs = _PlannedLabSerializer(
        many=True, help_text="The students who get a lab (platform admins also see the host each lands on)."
    )
    capacity_left = _CapacityLeftSerializer(
        many=True, help_text="Platform admins only (empty for everyone else): free capacity per enabled host."
    )
    issued = serializers.IntegerField()
    refused = _RefusalSerializer(many=True)


class _FailureSerializer(serializers.Serializer):
    lab = serializers.CharField()
    student = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)


class CourseProgressSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField()
    requested = serializers.IntegerField()
    provisioning = serializers.IntegerField()
    running = serializers.IntegerField()
    stopped = serializers.IntegerField()
    failed = serializers.IntegerField()
    other = serializers.IntegerField()
    in_flight = serializers.IntegerField()
    failures = _FailureSerializer(many=True)


class RosterEntrySerializer(serializers.Serializer):
    email = serializers.EmailField()
    name = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class RosterResultSerializer(serializers.Serializer):
    rows = serializers.IntegerField(help_text="Rows processed.")
    enrolled = serializers.IntegerField(
        help_text="Rows of people already members of the tenant, now enrolled (already enrolled ones count too)."
    )
    invited = serializers.IntegerField(
        help_text="Rows of people who are not members of the tenant: each was invited, and is enrolled "
        "once they accept. The answer does not say whether they had an account."
    )
    enrollments = EnrollmentSerializer(many=True, help_text="The enrolled rows' enrollments.")
