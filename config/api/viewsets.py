"""The base of every API viewset: restricted querysets and per-action object access.

Viewsets subclass ``NestlabViewSet`` and declare only their queryset, serializers and which
access each action needs (``action_access``). The base class does the rest:

* ``get_queryset`` passes the queryset through ``tenants.permissions.restrict(.., "view")``, so
  another tenant's rows (or rows the user holds no grant for) never load; they answer 404.
* ``get_object`` then checks the action's own access (``operate``, ``change``, ...) on the one
  object; a visible object the user may not act on answers 403.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as InvalidLookup
from rest_framework.permissions import IsAuthenticated
from rest_framework.viewsets import GenericViewSet

from config.api.access import deny
from tenants.models import Tenant
from tenants.permissions import may, restrict


class NestlabViewSet(GenericViewSet):
    """Base of every API viewset: restricted querysets and per-action object access.

    ``action_access`` maps an action to the access it needs on the object (see
    ``tenants.permissions``): for example ``{"start": "operate", "extend": "change"}``.
    """

    permission_classes = [IsAuthenticated]
    action_access: dict[str, str] = {}
    default_access = {
        "list": "view",
        "retrieve": "view",
        "update": "change",
        "partial_update": "change",
        "destroy": "delete",
    }

    def access_needed(self) -> str:
        needed = self.action_access.get(self.action) or self.default_access.get(self.action, "view")
        if isinstance(needed, dict):  # per method, e.g. {"GET": "manage", "PUT": "change"}
            needed = needed.get(self.request.method, needed.get("*", "view"))
        return needed

    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user, "view")

    def tenant_touched(self) -> int | None:
        """The id of the tenant owning the object in the URL, if any (for the tenant throttle).

        Read without access checks (the throttle only counts); the view still answers 404 for
        objects the user may not see.
        """
        value = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        model = getattr(self.queryset, "model", None)
        if value is None or model is None:
            return None
        if model is Tenant:
            column = "pk"
        elif any(f.name == "tenant" for f in model._meta.concrete_fields):
            column = "tenant_id"
        else:
            return None
        try:
            return model._base_manager.filter(**{self.lookup_field: value}).values_list(column, flat=True).first()
        except (InvalidLookup, ValueError):
            return None

    def get_object(self):
        obj = super().get_object()
        needed = self.access_needed()
        if needed != "view" and not may(self.request.user, obj, needed):
            deny(f"You may not {needed} this {obj._meta.verbose_name}.")
        return obj
