from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from config.api.access import PlatformAdminWrites, deny
from config.api.viewsets import NestlabViewSet
from tenants.api.serializers import (
    InvitationAcceptedSerializer,
    InvitationAcceptSerializer,
    MemberInvitedSerializer,
    MembershipCreateSerializer,
    MembershipSerializer,
    MembershipUpdateSerializer,
    QuotaSerializer,
    TenantCreateSerializer,
    TenantSerializer,
    TenantUpdateSerializer,
    UsageLineSerializer,
)
from tenants.filtersets import MembershipFilterSet, TenantFilterSet
from tenants.invitations import invitation_accept, member_add_by_email
from tenants.models import Invitation, Membership, Quota, Tenant
from tenants.permissions import may, restrict
from tenants.selectors import tenant_usage
from tenants.services import (
    membership_change_role,
    membership_remove,
    quota_update,
    tenant_create,
    tenant_delete,
    tenant_update,
)

_SLUG = r"[-a-zA-Z0-9_]+"


@extend_schema_view(
    list=extend_schema(summary="Tenants you belong to (platform admins: all)"),
    create=extend_schema(
        summary="Create a tenant with its quota (platform admins)",
        request=TenantCreateSerializer,
        responses={201: TenantSerializer},
    ),
    update=extend_schema(summary="Rename or (de)activate a tenant (platform admins)", request=TenantUpdateSerializer),
    partial_update=extend_schema(
        summary="Rename or (de)activate a tenant (platform admins)", request=TenantUpdateSerializer
    ),
    destroy=extend_schema(summary="Delete a tenant that never had a lab (platform admins)"),
)
class TenantViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    NestlabViewSet,
):
    queryset = Tenant.objects.all()
    serializer_class = TenantSerializer
    filterset_class = TenantFilterSet
    ordering_fields = ["slug", "name", "created_at"]
    lookup_field = "slug"
    lookup_value_regex = _SLUG
    permission_classes = [IsAuthenticated, PlatformAdminWrites]
    action_access = {"quota": {"GET": "manage", "*": "change"}, "usage": "manage"}

    def create(self, request, *args, **kwargs):
        serializer = TenantCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tenant = tenant_create(actor=request.user, slug=data["slug"], name=data["name"], **data.get("quota", {}))
        return Response(TenantSerializer(tenant).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        tenant = self.get_object()
        serializer = TenantUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        tenant = tenant_update(actor=request.user, tenant=tenant, **serializer.validated_data)
        return Response(TenantSerializer(tenant).data)

    def destroy(self, request, *args, **kwargs):
        tenant_delete(actor=request.user, tenant=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["GET"],
        summary="The tenant's quota (tenant owners and admins read; platform admins set)",
        responses=QuotaSerializer,
    )
    @extend_schema(
        methods=["PUT", "PATCH"],
        request=QuotaSerializer,
        responses=QuotaSerializer,
        summary="Set quota limits (platform admins only)",
    )
    @action(detail=True, methods=["get", "put", "patch"])
    def quota(self, request, slug=None):
        tenant = self.get_object()
        quota = Quota.objects.get(tenant=tenant)
        if request.method == "GET":
            return Response(QuotaSerializer(quota).data)
        serializer = QuotaSerializer(quota, data=request.data, partial=request.method == "PATCH")
        serializer.is_valid(raise_exception=True)
        quota = quota_update(actor=request.user, tenant=tenant, **serializer.validated_data)
        return Response(QuotaSerializer(quota).data)

    @extend_schema(summary="Usage against each tenant-wide quota limit", responses=UsageLineSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def usage(self, request, slug=None):
        tenant = self.get_object()
        lines = tenant_usage(tenant)
        return Response(UsageLineSerializer(lines, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="Members of the tenant and their roles (owners and admins)"),
    create=extend_schema(
        request=MembershipCreateSerializer,
        responses={202: MemberInvitedSerializer},
        summary="Invite a person by e-mail (a member once they accept; 409 if already a member)",
    ),
    update=extend_schema(request=MembershipUpdateSerializer, summary="Change a member's role"),
    partial_update=extend_schema(request=MembershipUpdateSerializer, summary="Change a member's role"),
    destroy=extend_schema(summary="Remove a member (their grants in the tenant go too)"),
)
@extend_schema(parameters=[OpenApiParameter("tenant_slug", str, OpenApiParameter.PATH, pattern=f"^{_SLUG}$")])
class MembershipViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    NestlabViewSet,
):
    queryset = Membership.objects.select_related("user")
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilterSet
    ordering_fields = ["created_at", "role", "user__username"]
    ordering = ["user__username"]

    def get_tenant(self) -> Tenant:
        if not hasattr(self, "_tenant"):
            visible = restrict(Tenant.objects.all(), self.request.user)
            tenant = get_object_or_404(visible, slug=self.kwargs["tenant_slug"])
            if not may(self.request.user, tenant, "manage"):
                deny("Only the tenant's owners and admins manage its members.")
            self._tenant = tenant
        return self._tenant

    def tenant_touched(self) -> int | None:
        return Tenant.objects.filter(slug=self.kwargs.get("tenant_slug")).values_list("pk", flat=True).first()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return super().get_queryset().filter(tenant=self.get_tenant())

    def create(self, request, *args, **kwargs):
        tenant = self.get_tenant()
        serializer = MembershipCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        added = member_add_by_email(
            actor=request.user, tenant=tenant, email=data["email"], role=data["role"], name=data["name"]
        )
        detail = (
            f"{added.email} is invited to join {tenant.slug} as {added.role}; "
            "they become a member when they accept the invitation."
        )
        body = {"email": added.email, "role": added.role, "detail": detail}
        return Response(MemberInvitedSerializer(body).data, status=status.HTTP_202_ACCEPTED)

    def update(self, request, *args, **kwargs):
        membership = self.get_object()
        serializer = MembershipUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = membership_change_role(
            actor=request.user, membership=membership, role=serializer.validated_data["role"]
        )
        return Response(MembershipSerializer(membership).data)

    def destroy(self, request, *args, **kwargs):
        membership = self.get_object()
        membership_remove(actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(NestlabViewSet):
    """Invitations are accepted by the person they are addressed to, signed in as themselves."""

    queryset = Invitation.objects.none()
    serializer_class = InvitationAcceptSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(
        request=InvitationAcceptSerializer,
        responses={200: InvitationAcceptedSerializer},
        summary="Accept an invitation addressed to you: join the tenant (and its courses that invited you)",
    )
    @action(detail=False, methods=["post"])
    def accept(self, request):
        serializer = InvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = invitation_accept(token=serializer.validated_data["token"], user=request.user)
        return Response(InvitationAcceptedSerializer(membership).data)
