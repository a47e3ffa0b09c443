"""What every API endpoint shares, written once: access control, pagination, throttles, errors, schema.

Viewsets subclass ``NestlabViewSet`` and declare only their queryset, serializers and which
access each action needs (``action_access``). The base class does the rest:

* ``get_queryset`` passes the queryset through ``tenants.permissions.restrict(.., "view")``, so
  another tenant's rows (or rows the user holds no grant for) never load; they answer 404.
* ``get_object`` then checks the action's own access (``operate``, ``change``, ...) on the one
  object; a visible object the user may not act on answers 403.
* Related objects a caller names in a request body go through ``Restricted*RelatedField``, so a
  caller cannot point a lab, course or template at rows they may not see (400, "does not exist").
"""

from __future__ import annotations

import traceback

import django_filters
import django_filters.rest_framework
from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser as DRFJSONParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from config.errors import DomainError, NotAllowed
from tenants.permissions import access_of, may, restrict

# Import cycle note: DRF resolves the throttle and pagination classes named in settings while
# ``rest_framework.views`` is being imported, and that import may come from here or go through
# here. So this module imports nothing that imports ``rest_framework.views`` at load time; the
# classes that must subclass DRF views or drf-spectacular's AutoSchema (NestlabViewSet,
# NestlabAutoSchema) are built on first use by the module ``__getattr__`` at the bottom.

# --- Pagination ------------------------------------------------------------------------------------


class StandardPagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (default 50, at most 200; larger sizes are capped).

    Unlike DRF's, a malformed value is refused (400 for page_size, 404 for page) instead of
    silently replaced by the default, so a client's mistake does not look like data.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not _is_number(raw) or int(raw) < 1:
            raise exceptions.ValidationError({self.page_size_query_param: ["Give a whole number from 1 to 200."]})
        return min(int(raw), self.max_page_size)

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if raw in self.last_page_strings:
            return paginator.num_pages
        if not _is_number(raw):
            raise exceptions.NotFound("Invalid page.")
        return raw


def _is_number(raw: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²' and other digits int() refuses."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 9


class _StrictBooleanField(forms.Field):
    def to_python(self, value):
        if value is None:
            return None
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Use true or false.")


class StrictBooleanFilter(django_filters.BooleanFilter):
    """A boolean query filter that refuses anything but true/false/1/0 (django-filter ignores it)."""

    field_class = _StrictBooleanField


class IntegerFilter(django_filters.NumberFilter):
    """An id filter: whole numbers only (NumberFilter takes decimals such as 0.5)."""

    field_class = forms.IntegerField


class StrictFilterBackend(django_filters.rest_framework.DjangoFilterBackend):
    """django-filter treats ``?state=`` as "no filter"; we refuse an empty value for every filter
    that is not free text, so a typo cannot silently widen a query. Errors are 400.

    On list endpoints it also refuses query parameters the endpoint does not know (a misspelt
    filter would otherwise return everything): the known ones are the filterset's filters,
    ``ordering`` where the view orders, the pagination parameters and ``LIST_PARAMETERS``.
    """

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            empty = [
                name for name, field in filterset.filters.items()
                if not isinstance(field, django_filters.CharFilter)
                and name in request.query_params and "" in request.query_params.getlist(name)
            ]
            if empty:
                raise exceptions.ValidationError({name: ["Give a value or leave the parameter out."] for name in empty})
        return filterset

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", None) == "list":
            known = set(LIST_PARAMETERS) | set(getattr(view, "extra_query_parameters", ()))
            filterset_class = self.get_filterset_class(view, queryset)
            if filterset_class is not None:
                known |= set(filterset_class.base_filters)
            if getattr(view, "ordering_fields", None):
                known.add(api_settings.ORDERING_PARAM)
            refuse_unknown_parameters(request, known)
        return super().filter_queryset(request, queryset, view)


def refuse_unknown_parameters(request, known) -> None:
    """400 naming each query parameter not in ``known`` (and listing the accepted ones)."""
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        accepted = ", ".join(sorted(known))
        raise exceptions.ValidationError(
            {name: [f"Unknown query parameter; this endpoint accepts: {accepted}."] for name in unknown}
        )


#: Query parameters every list endpoint accepts besides its filters (pagination).
LIST_PARAMETERS = ("page", "page_size")


class StrictOrderingFilter(OrderingFilter):
    """``?ordering=`` naming a field the endpoint does not sort by is a 400, not silently ignored."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params is not None:
            terms = [term.strip() for term in params.split(",")]
            valid = {item[0] for item in self.get_valid_fields(queryset, view, {"request": request})}
            bad = [term for term in terms if not term or term.lstrip("-") not in valid]
            if bad:
                raise exceptions.ValidationError(
                    {self.ordering_param: [
                        f"Cannot sort by {', '.join(repr(term) for term in bad)}; use one of "
                        f"{', '.join(sorted(valid))}, with a leading '-' for descending order."
                    ]}
                )
        return super().get_ordering(request, queryset, view)


class JSONParser(DRFJSONParser):
    """DRF's JSON parser, refusing bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (413; Django checks it
    only for form bodies) and bodies nested too deeply for Python's decoder (400, not a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request is not None and limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(TOO_DEEP) from None


TOO_DEEP = "JSON parse error - the document is nested too deeply."


# --- Throttles -------------------------------------------------------------------------------------
# Fixed windows counted with the cache's atomic increment: O(1) per request and correct across
# processes when the cache is shared (Redis). DRF's own throttles keep every request's timestamp
# in one cache value and rewrite it on each request, which is slow at high rates and races
# between processes. A fixed window may let up to twice the rate through across a window edge.
# Rates are read on every request (settings overrides apply). Configure a shared cache in
# production so every web process counts the same requests.


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


def deny(message: str):
    """Refuse a visible object: 403 with code ``not_allowed`` (the same code services use).

    Raised as DRF's PermissionDenied, not the domain NotAllowed, because DRF's own machinery
    (OPTIONS metadata, browsable forms) catches that one while probing what a user may do.
    """
    raise exceptions.PermissionDenied(message, code=NotAllowed.code)


# --- Errors ----------------------------------------------------------------------------------------


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
    from rest_framework.views import exception_handler as drf_exception_handler

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
    return any(frame.filename.endswith(("rest_framework/parsers.py", "json/decoder.py"))
               for frame in traceback.extract_tb(exc.__traceback__))


def request_too_large_body(limit_bytes: int | None = None) -> dict:
    """The 413 body, also used by the roster's own limit."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE if limit_bytes is None else limit_bytes
    message = f"The request body is too large; send at most {limit // 1024} KiB."
    return {"code": "too_large", "message": message, "detail": message, "limit_bytes": limit}


# --- Schema ----------------------------------------------------------------------------------------


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


# --- Access ----------------------------------------------------------------------------------------


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


# --- Fields that only accept what the caller may name ------------------------------------------


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


# --- Built on first use (see the import cycle note at the top) ------------------------------------


def _build_lazy_classes() -> dict:
    from drf_spectacular.openapi import AutoSchema
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.viewsets import GenericViewSet

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
            from django.core.exceptions import ValidationError as InvalidLookup

            from tenants.models import Tenant

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

    for cls in (NestlabAutoSchema, NestlabViewSet):
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
    return {"NestlabAutoSchema": NestlabAutoSchema, "NestlabViewSet": NestlabViewSet}


_lazy: dict = {}


def __getattr__(name: str):
    if name in ("NestlabAutoSchema", "NestlabViewSet"):
        if not _lazy:
            _lazy.update(_build_lazy_classes())
        return _lazy[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
