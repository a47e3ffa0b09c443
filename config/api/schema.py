"""The OpenAPI schema's shared parts (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``).

DRF resolves the schema class on first use, not while importing its views, so this module may
subclass drf-spectacular's AutoSchema (which imports DRF's views).
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """Every error except validation errors. Domain errors add their own fields (quota, used, ...)."""

    code = serializers.CharField(help_text="Machine-readable error code, e.g. quota_exceeded, not_found.")
    message = serializers.CharField(help_text="What went wrong, written for the person who has to act.")
    detail = serializers.CharField(required=False, help_text="DRF errors: the same text as message.")


_VALIDATION_ERROR = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description='Invalid input: `{"field": ["message", ...], "non_field_errors": [...]}`, '
    "or a domain error `{code, message, ...}`.",
)


class NestlabAutoSchema(AutoSchema):
    """Documents the error answers every operation can give, once, instead of on each view."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors = {
            "400": _VALIDATION_ERROR,
            "401": OpenApiResponse(ErrorSerializer, description="No or bad credentials."),
            "403": OpenApiResponse(ErrorSerializer, description="You may see this object but not do this."),
            "404": OpenApiResponse(ErrorSerializer, description="No such object, or not one you may see."),
            "405": OpenApiResponse(ErrorSerializer, description="Method not allowed."),
            "406": OpenApiResponse(ErrorSerializer, description="Cannot render the requested format."),
            "409": OpenApiResponse(ErrorSerializer, description="A domain rule refused it (quota, state)."),
            "413": OpenApiResponse(ErrorSerializer, description="The request body is too large."),
            "415": OpenApiResponse(ErrorSerializer, description="Unsupported request media type."),
            "429": OpenApiResponse(ErrorSerializer, description="Too many requests (per user or per tenant)."),
        }
        for code, response in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, ["application/json"], direction)
        return responses
