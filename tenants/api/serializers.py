from __future__ import annotations

from rest_framework import serializers

from config import validators as host_rules
from tenants.models import Membership, Quota, Role, Tenant
from tenants.quotas import QUOTA_LIMIT_FIELDS


class LowerCaseSlugField(serializers.SlugField):
    """Slugs are stored lower-case: fold the case before the rules run."""

    def to_internal_value(self, data):
        return super().to_internal_value(data).lower()


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["slug", "name", "active", "created_at"]
        read_only_fields = ["active", "created_at"]


class TenantCreateSerializer(serializers.ModelSerializer):
    """Create a tenant, optionally with some quota limits (the rest take their defaults)."""

    # Uniqueness (ignoring case) is the service's answer; the host-name rule is checked here too.
    slug = LowerCaseSlugField(max_length=40, validators=[host_rules.tenant_slug])
    quota = serializers.DictField(
        child=serializers.IntegerField(min_value=1), required=False, help_text="Limits by name, e.g. max_labs."
    )

    class Meta:
        model = Tenant
        fields = ["slug", "name", "quota"]

    def validate_quota(self, value):
        unknown = sorted(set(value) - set(QUOTA_LIMIT_FIELDS))
        if unknown:
            raise serializers.ValidationError(f"Not quota limits: {', '.join(unknown)}.")
        return value


class TenantUpdateSerializer(serializers.Serializer):
    """The slug never changes (URLs and host names use it)."""

    name = serializers.CharField(max_length=200, required=False)
    active = serializers.BooleanField(required=False, help_text="Inactive tenants cannot request labs.")


class QuotaSerializer(serializers.ModelSerializer):
    class Meta:
        model = Quota
        fields = [*QUOTA_LIMIT_FIELDS, "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {name: {"min_value": 1, "max_value": 2_147_483_647} for name in QUOTA_LIMIT_FIELDS}

    def validate(self, data):
        # PUT replaces the whole quota: every limit is required (PATCH changes some).
        if self.instance is not None and not self.partial:
            missing = [name for name in QUOTA_LIMIT_FIELDS if name not in data]
            if missing:
                raise serializers.ValidationError(
                    {
                        name: ["This field is required with PUT; use PATCH to change only some limits."]
                        for name in missing
                    }
                )
        return data


class UsageLineSerializer(serializers.Serializer):
    quota = serializers.CharField()
    used = serializers.FloatField()
    limit = serializers.IntegerField()
    unit = serializers.CharField()
    fraction = serializers.FloatField(help_text="used / limit")


class MembershipSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    active = serializers.BooleanField(
        source="user.is_active", read_only=True, help_text="False until invited users accept."
    )

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "email", "active", "role", "created_at"]
        read_only_fields = ["id", "created_at"]


class MembershipCreateSerializer(serializers.Serializer):
    """Add a person by e-mail: they are invited, and become a member when they accept."""

    email = serializers.EmailField()
    name = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    role = serializers.ChoiceField(choices=Role.choices)


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class MemberInvitedSerializer(serializers.Serializer):
    """The answer to a member add: the same whether or not an account exists for the address."""

    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    detail = serializers.CharField()


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200, help_text="The token from the invitation e-mail.")


class InvitationAcceptedSerializer(serializers.Serializer):
    tenant = serializers.SlugField(source="tenant.slug")
    role = serializers.ChoiceField(choices=Role.choices)
