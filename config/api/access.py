"""Who may call an endpoint at all, and the one way a view refuses a visible object.

Which rows a user sees and what they may do to one is ``tenants.permissions``' answer; the base
viewset (``config.api.viewsets``) applies it. These are the endpoint-level checks on top.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from config.errors import NotAllowed


def deny(message: str):
    """Refuse a visible object: 403 with code ``not_allowed`` (the same code services use).

    Raised as DRF's PermissionDenied, not the domain NotAllowed, because DRF's own machinery
    (OPTIONS metadata, browsable forms) catches that one while probing what a user may do.
    """
    raise exceptions.PermissionDenied(message, code=NotAllowed.code)


class PlatformAdminOrNotFound(BasePermission):
    """Endpoints that exist only for platform admins: everyone else signed in gets 404."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if not request.user.is_staff:
            raise exceptions.NotFound()
        return True


class PlatformAdminWrites(BasePermission):
    """Read for those who can see the rows; create only for platform admins."""

    message = "Only platform admins may do this."

    def has_permission(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        if getattr(view, "action", None) == "create":
            return bool(request.user.is_staff)
        return True  # object-level writes are checked by NestlabViewSet.get_object
