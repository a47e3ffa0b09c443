"""The one place errors become API responses (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).

DRF reads the handler per request, not while importing its views, so this module may build on
DRF's own handler.
"""

from __future__ import annotations

import traceback

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from config.api.parsers import TOO_DEEP
from config.errors import DomainError


def exception_handler(exc, context):
    """The one place errors become responses.

    * ``DomainError`` -> its ``http_status``, body ``{"code", "message", ...detail}``.
    * Django ``ValidationError`` -> 400 with field errors, the same shape as DRF's
      (``{"field": ["message", ...], "non_field_errors": [...]}``).
    * ``ProtectedError`` (deleting something still in use) -> 409.
    * DRF's own exceptions keep DRF's handling; non-validation ones also carry ``code`` and
      ``message`` next to DRF's ``detail``.
    * A body over Django's upload limit -> 413; too many form fields or files -> 400; a JSON body
      nested too deeply for the decoder (whatever parser the view uses) -> 400 parse error.
    """
    if isinstance(exc, RequestDataTooBig):
        return Response(request_too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        exc = exceptions.ParseError(str(exc))
    elif isinstance(exc, RecursionError) and _raised_while_parsing(exc):
        exc = exceptions.ParseError(TOO_DEEP)
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, ProtectedError):
        return Response(
            {"code": "protected", "message": "This is still in use and cannot be deleted."},
            status=status.HTTP_409_CONFLICT,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, (Http404, DjangoPermissionDenied)):
        exc = exceptions.NotFound() if isinstance(exc, Http404) else exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException) and not isinstance(exc, exceptions.ValidationError):
        detail = response.data.get("detail", str(exc.detail)) if isinstance(response.data, dict) else exc.detail
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else exc.default_code,
            "message": str(detail),
            "detail": str(detail),
        }
    return response


def _raised_while_parsing(exc: BaseException) -> bool:
    """A RecursionError from a parser (a hostile body) rather than from our own code (a bug)."""
    return any(
        frame.filename.endswith(("rest_framework/parsers.py", "json/decoder.py"))
        for frame in traceback.extract_tb(exc.__traceback__)
    )


def request_too_large_body(limit_bytes: int | None = None) -> dict:
    """The 413 body for a request over Django's upload limit."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE if limit_bytes is None else limit_bytes
    message = f"The request body is too large; send at most {limit // 1024} KiB."
    return {"code": "too_large", "message": message, "detail": message, "limit_bytes": limit}
