from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from config.api.access import PlatformAdminOrNotFound
from config.api.viewsets import NestlabViewSet
from workers.api.serializers import HostSerializer
from workers.filtersets import HostFilterSet
from workers.models import Host
from workers.services.hosts import host_create, host_doctor_request, host_drain, host_enable, host_update

_ACCEPTED = {202: HostSerializer}


@extend_schema_view(
    list=extend_schema(summary="Hyper-V hosts (platform admins only; 404 for everyone else)"),
    create=extend_schema(responses={201: HostSerializer}, summary="Add a host"),
)
class HostViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, NestlabViewSet
):
    queryset = Host.objects.all()
    serializer_class = HostSerializer
    filterset_class = HostFilterSet
    ordering_fields = ["name", "state", "site", "created_at"]
    permission_classes = [IsAuthenticated, PlatformAdminOrNotFound]
    action_access = {"drain": "change", "enable": "change", "doctor": "change"}

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        host = host_create(actor=request.user, **serializer.validated_data)
        return Response(HostSerializer(host).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        host = self.get_object()
        serializer = self.get_serializer(host, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        host = host_update(actor=request.user, host=host, **serializer.validated_data)
        return Response(HostSerializer(host).data)

    @extend_schema(request=None, responses=_ACCEPTED, summary="Take no new labs; keep the ones it has")
    @action(detail=True, methods=["post"])
    def drain(self, request, pk=None):
        host = host_drain(actor=request.user, host=self.get_object())
        return Response(HostSerializer(host).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=_ACCEPTED, summary="Take new labs again")
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        host = host_enable(actor=request.user, host=self.get_object())
        return Response(HostSerializer(host).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=_ACCEPTED, summary="Run the host doctor (results land in doctor_report)")
    @action(detail=True, methods=["post"])
    def doctor(self, request, pk=None):
        host = self.get_object()
        host_doctor_request(actor=request.user, host=host)
        return Response(HostSerializer(host).data, status=status.HTTP_202_ACCEPTED)
