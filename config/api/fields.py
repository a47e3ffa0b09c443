"""Serializer fields that only accept what the caller may name.

Related objects a caller names in a request body go through these, so a caller cannot point a
lab, course or template at rows they may not see (400, "does not exist").
"""

from __future__ import annotations

from rest_framework import serializers

from tenants.permissions import restrict


class _RestrictedMixin:
    def __init__(self, *args, access: str = "view", **kwargs):
        self.access = access
        super().__init__(*args, **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        queryset = super().get_queryset()
        if request is None:
            return queryset.none()
        return restrict(queryset, request.user, self.access)


class RestrictedPrimaryKeyRelatedField(_RestrictedMixin, serializers.PrimaryKeyRelatedField):
    """A primary key of a row the caller may ``access``; others are 'does not exist'."""


class RestrictedSlugRelatedField(_RestrictedMixin, serializers.SlugRelatedField):
    """A slug of a row the caller may ``access``; others are 'does not exist'."""

    def to_internal_value(self, data):
        # PostgreSQL refuses NUL in text (a DataError, so a 500) before it could say "no such row".
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)
