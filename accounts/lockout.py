"""What a caller sees when django-axes locks a sign-in (``AXES_LOCKOUT_CALLABLE``).

The API answers ``429`` in its JSON error format (``accounts.api`` raises it; this keeps that
answer), every HTML sign-in page (the admin's, any built on Django's auth views) a ``429`` page saying
how long to wait. axes itself logs the lockout (username, address, path; never the password).
"""

from __future__ import annotations

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse

MESSAGE = "Too many failed sign-ins for this account or from this address."


def cool_off_seconds(request: HttpRequest | None = None) -> int | None:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else None


def lockout_response(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None):
    seconds = cool_off_seconds(request)
    if request.path.startswith("/api/"):
        if original_response is not None and original_response.status_code == 429:
            return original_response
        response = JsonResponse(
            {"code": "login_locked", "message": f"{MESSAGE} Try again later.", "detail": f"{MESSAGE} Try again later."},
            status=429,
        )
    else:
        response = TemplateResponse(
            request,
            "accounts/locked_out.html",
            {"message": MESSAGE, "minutes": -(-seconds // 60) if seconds else None},
            status=429,
        )
        response.render()
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
