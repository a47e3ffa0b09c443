"""Request rates per client address, per user and per tenant (``DEFAULT_THROTTLE_CLASSES``).

Fixed windows counted with the cache's atomic increment: O(1) per request and correct across
processes when the cache is shared (Redis). DRF's own throttles keep every request's timestamp
in one cache value and rewrite it on each request, which is slow at high rates and races
between processes. A fixed window may let up to twice the rate through across a window edge.
Rates are read on every request (settings overrides apply). Configure a shared cache in
production so every web process counts the same requests.

DRF loads this module while ``rest_framework.views`` is being imported, so it must not import
DRF's views, generics or viewsets (nor anything that does); see ``config/api/__init__.py``.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from tenants.permissions import access_of


class _SettingsRateThrottle(SimpleRateThrottle):
    def __init__(self):  # the rate is read per request, in allow_request
        pass

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        rate = self.get_rate()
        if rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        limit, duration = self.parse_rate(rate)
        now = self.timer()
        window = int(now // duration)
        self.wait_seconds = (window + 1) * duration - now
        key = f"{key}:{window}"
        self.cache.add(key, 0, duration + 1)
        try:
            count = self.cache.incr(key)
        except ValueError:  # expired between add and incr
            self.cache.set(key, 1, duration + 1)
            count = 1
        return count <= limit

    def wait(self):
        return getattr(self, "wait_seconds", None)


class AnonThrottle(_SettingsRateThrottle):
    """Per client address, for requests without credentials."""

    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserThrottle(_SettingsRateThrottle):
    """Per authenticated user."""

    scope = "user"

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class TenantThrottle(_SettingsRateThrottle):
    """Per tenant: all members of a tenant share one budget, so one tenant cannot starve the rest.

    A request counts against the tenant of the object it touches (the view's ``tenant_touched``),
    if the user is a member of it; one that touches no tenant's object (a list, a create) counts
    against the user's tenant if they have exactly one. Anything else (another tenant's object,
    which answers 404 anyway; a list by a member of several tenants; platform admins outside
    tenants) is not tenant-throttled, and the per-user throttle still applies. So no one can spend
    another tenant's budget, and membership of a second tenant does not tie two budgets together.
    """

    scope = "tenant"

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        member_of = access_of(request.user).member_tenant_ids
        if not member_of:
            return None
        touched = getattr(view, "tenant_touched", None)
        tenant_id = touched() if touched is not None else None
        if tenant_id is None:
            if len(member_of) != 1:
                return None
            tenant_id = member_of[0]
        elif tenant_id not in member_of:
            return None
        return self.cache_format % {"scope": self.scope, "ident": tenant_id}
