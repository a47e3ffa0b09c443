from __future__ import annotations

from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from config.api.filters import refuse_unknown_parameters
from config.api.pagination import LIST_PARAMETERS
from config.api.parsers import JSONParser
from config.api.viewsets import NestlabViewSet
from labs import services as lab_services
from labs.api.parsers import CsvParser, RdpRenderer
from labs.api.serializers import (
    CourseCreateSerializer,
    CourseProgressSerializer,
    CourseSerializer,
    EnrollmentSerializer,
    IssuePlanSerializer,
    LabCheckpointSerializer,
    LabConnectionSerializer,
    LabCreateSerializer,
    LabEventSerializer,
    LabExtendSerializer,
    LabSerializer,
    RosterEntrySerializer,
    RosterResultSerializer,
    TemplateCreateSerializer,
    TemplateSerializer,
    TemplateUpdateSerializer,
)
from labs.connection import lab_connection
from labs.filtersets import CourseFilterSet, EnrollmentFilterSet, LabFilterSet, LabTemplateFilterSet
from labs.models import Course, Lab, LabTemplate, LabTemplateVersion
from labs.roster import roster_check_size, roster_from_csv, roster_import, roster_validate
from labs.selectors import course_progress
from labs.services import TEMPLATE_EDITABLE, template_update

_ACCEPTED = {202: LabSerializer}


@extend_schema_view(
    list=extend_schema(summary="Templates you may use: global ones and your tenants'"),
    create=extend_schema(
        request=TemplateCreateSerializer,
        responses={201: TemplateSerializer},
        summary="Create a template and its version 1 (tenant owners/admins; global: platform admins)",
    ),
    partial_update=extend_schema(
        request=TemplateUpdateSerializer,
        responses=TemplateSerializer,
        summary="Edit a template (shape changes add a version; existing labs keep theirs)",
    ),
)
class LabTemplateViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, NestlabViewSet
):
    queryset = LabTemplate.objects.select_related("tenant").prefetch_related(
        Prefetch("versions", queryset=LabTemplateVersion.objects.order_by("-version"), to_attr="versions_newest_first")
    )
    serializer_class = TemplateSerializer
    filterset_class = LabTemplateFilterSet
    ordering_fields = ["name", "created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def create(self, request, *args, **kwargs):
        serializer = TemplateCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = {"tenant": None, **serializer.validated_data}
        template = lab_services.template_create(actor=request.user, **data)
        return Response(TemplateSerializer(template).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        template = self.get_object()
        serializer = TemplateUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        metadata = {name: changes.pop(name) for name in TEMPLATE_EDITABLE if name in changes}
        with transaction.atomic():
            if metadata:
                template_update(actor=request.user, template=template, **metadata)
            if changes:
                lab_services.template_revise(actor=request.user, template=template, **changes)
        return Response(TemplateSerializer(self.get_queryset().get(pk=template.pk)).data)


@extend_schema_view(
    list=extend_schema(summary="Labs you may see"),
    retrieve=extend_schema(summary="One lab"),
    create=extend_schema(
        request=LabCreateSerializer,
        responses={201: LabSerializer},
        summary="Request a lab (admitted under quota; built by a worker)",
    ),
    destroy=extend_schema(responses=_ACCEPTED, summary="Delete the lab (the worker removes the VM)"),
)
class LabViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, NestlabViewSet
):
    queryset = Lab.objects.select_related("tenant", "owner", "template_version", "host")
    serializer_class = LabSerializer
    filterset_class = LabFilterSet
    ordering_fields = ["created_at", "name", "state", "expires_at"]
    action_access = {
        "start": "operate",
        "stop": "operate",
        "reset": "operate",
        "checkpoint": "change",
        "restore": "change",
        "checkpoint_remove": "change",
        "extend": "change",
        "connection": "connect",
        "events": "view",
    }

    def create(self, request, *args, **kwargs):
        serializer = LabCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if v is not None}
        lab = lab_services.lab_request(actor=request.user, **data)
        return Response(LabSerializer(lab).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        lab = lab_services.lab_delete(actor=request.user, lab=self.get_object())
        return self._accepted(lab)

    def _accepted(self, lab):
        return Response(LabSerializer(lab).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=_ACCEPTED, summary="Power a stopped lab on")
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._accepted(lab_services.lab_start(actor=request.user, lab=self.get_object()))

    @extend_schema(request=None, responses=_ACCEPTED, summary="Shut a running lab down")
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        return self._accepted(lab_services.lab_stop(actor=request.user, lab=self.get_object()))

    @extend_schema(request=None, responses=_ACCEPTED, summary="Return the lab to its clean checkpoint")
    @action(detail=True, methods=["post"])
    def reset(self, request, pk=None):
        return self._accepted(lab_services.lab_reset(actor=request.user, lab=self.get_object()))

    @extend_schema(request=LabExtendSerializer, responses=_ACCEPTED, summary="Push the expiry back by some hours")
    @action(detail=True, methods=["post"])
    def extend(self, request, pk=None):
        lab = self.get_object()
        serializer = LabExtendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._accepted(lab_services.lab_extend(actor=request.user, lab=lab, **serializer.validated_data))

    @extend_schema(request=LabCheckpointSerializer, responses=_ACCEPTED, summary="Take a named checkpoint")
    @action(detail=True, methods=["post"])
    def checkpoint(self, request, pk=None):
        lab = self.get_object()
        serializer = LabCheckpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._accepted(lab_services.lab_checkpoint(actor=request.user, lab=lab, **serializer.validated_data))

    @extend_schema(request=LabCheckpointSerializer, responses=_ACCEPTED, summary="Apply a named checkpoint")
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        lab = self.get_object()
        serializer = LabCheckpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._accepted(lab_services.lab_restore(actor=request.user, lab=lab, **serializer.validated_data))

    @extend_schema(
        request=None,
        responses=_ACCEPTED,
        summary="Delete a named checkpoint (the worker removes it from the host)",
        parameters=[
            OpenApiParameter(
                "name",
                str,
                OpenApiParameter.PATH,
                description="The checkpoint's name, URL-encoded (a space is %20).",
            )
        ],
    )
    @action(detail=True, methods=["delete"], url_path=r"checkpoints/(?P<name>[^/]+)", filter_backends=[])
    def checkpoint_remove(self, request, pk=None, name=None):
        lab = self.get_object()
        return self._accepted(lab_services.lab_checkpoint_remove(actor=request.user, lab=lab, name=name))

    @extend_schema(
        responses=LabEventSerializer(many=True),
        summary="The lab's history, oldest first",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def events(self, request, pk=None):
        lab = self.get_object()
        page = self.paginate_queryset(lab.events.select_related("actor").order_by("at", "id"))
        return self.get_paginated_response(LabEventSerializer(page, many=True).data)

    @extend_schema(
        summary="How to reach the console: VMConnect to the host on port 2179",
        parameters=[OpenApiParameter("format", str, enum=["json", "rdp"], description="rdp: the .rdp file itself")],
        responses={(200, "application/json"): LabConnectionSerializer, (200, "application/x-rdp"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, RdpRenderer], filter_backends=[])
    def connection(self, request, pk=None):
        if "format" in request.query_params and request.query_params["format"] not in ("json", "rdp"):
            # An unknown format is already a 404 from DRF's negotiation; an empty one would be ignored.
            raise serializers.ValidationError({"format": ["Must be json or rdp."]})
        connection = lab_connection(self.get_object())
        if request.accepted_renderer.format == "rdp":
            filename = f"{connection.vm_name}.rdp"
            return Response(connection.rdp, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
        return Response(LabConnectionSerializer(connection).data)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400 and getattr(response, "accepted_renderer", None) is not None:
            if response.accepted_renderer.format != "json":  # errors are always JSON
                response.accepted_renderer = JSONRenderer()
                response.accepted_media_type = "application/json"
        return response


_FORM_ENVELOPE_BYTES = 16 * 1024


def _content_length(request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class _RosterUpload(serializers.Serializer):
    file = serializers.FileField(help_text="CSV with the columns email,name (UTF-8).")


class IssueSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(required=False, default=False)


@extend_schema_view(
    list=extend_schema(summary="Courses you teach, manage or attend"),
    create=extend_schema(
        request=CourseCreateSerializer,
        responses={201: CourseSerializer},
        summary="Create a course (tenant owners/admins)",
    ),
)
class CourseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, NestlabViewSet):
    queryset = Course.objects.select_related("tenant").prefetch_related("instructors")
    serializer_class = CourseSerializer
    filterset_class = CourseFilterSet
    ordering_fields = ["starts_at", "ends_at", "name", "created_at"]
    action_access = {"enrollments": "issue", "issue": "issue", "progress": "issue"}

    def create(self, request, *args, **kwargs):
        serializer = CourseCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        course = lab_services.course_create(actor=request.user, **serializer.validated_data)
        return Response(CourseSerializer(course).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        responses=EnrollmentSerializer(many=True),
        summary="The course's roster",
        parameters=[
            OpenApiParameter("status", str, enum=["invited", "enrolled", "withdrawn"]),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
    )
    @extend_schema(
        methods=["POST"],
        summary="Add students (JSON list, or CSV email,name): all rows or none",
        request={
            "application/json": RosterEntrySerializer(many=True),
            "text/csv": OpenApiTypes.STR,
            "multipart/form-data": _RosterUpload,
        },
        responses={201: RosterResultSerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        parser_classes=[JSONParser, CsvParser, MultiPartParser, FormParser],
        filter_backends=[],
    )
    def enrollments(self, request, pk=None):
        course = self.get_object()
        if request.method == "GET":
            refuse_unknown_parameters(request, {*EnrollmentFilterSet.base_filters, *LIST_PARAMETERS})
            rows = course.enrollments.select_related("student").order_by("student__username")
            filterset = EnrollmentFilterSet(request.query_params, queryset=rows, request=request)
            if not filterset.is_valid():
                raise ValidationError(filterset.errors)
            rows = filterset.qs
            page = self.paginate_queryset(rows)
            return self.get_paginated_response(EnrollmentSerializer(page, many=True).data)
        # Before the body is parsed (a multipart file would be spooled to disk first). A form's
        # envelope (boundaries, part headers) is allowed for; its file is measured exactly later.
        envelope = _FORM_ENVELOPE_BYTES if request.content_type.startswith("multipart/") else 0
        roster_check_size(_content_length(request) - envelope)
        entries = roster_validate(self._roster_items(request))
        result = roster_import(actor=request.user, course=course, entries=entries)
        return Response(RosterResultSerializer(result).data, status=status.HTTP_201_CREATED)

    def _roster_items(self, request) -> list:
        if isinstance(request.data, bytes) or request.content_type.startswith("text/csv"):
            entries = roster_from_csv(request.data if isinstance(request.data, bytes) else b"")
            return [{"row": e.row, "email": e.email, "name": e.name} for e in entries]
        upload = request.data.get("file") if hasattr(request.data, "getlist") else None
        if upload is not None and hasattr(upload, "read"):
            entries = roster_from_csv(upload.read())
            return [{"row": e.row, "email": e.email, "name": e.name} for e in entries]
        items = request.data if isinstance(request.data, list) else [request.data]
        serializer = RosterEntrySerializer(data=items, many=True)
        serializer.is_valid(raise_exception=True)
        return [{"row": i + 1, **item} for i, item in enumerate(serializer.validated_data)]

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("dry_run", bool, description="Only return the plan; change nothing.")],
        responses={
            200: OpenApiResponse(IssuePlanSerializer, description="The plan (dry run); nothing changed"),
            202: OpenApiResponse(IssuePlanSerializer, description="Labs requested; workers build them"),
        },
        summary="Issue one lab per enrolled student",
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def issue(self, request, pk=None):
        course = self.get_object()
        query = IssueSerializer(data={"dry_run": request.query_params.get("dry_run", False)})
        query.is_valid(raise_exception=True)
        dry_run = query.validated_data["dry_run"]
        plan = lab_services.course_issue(actor=request.user, course=course, dry_run=dry_run)
        return Response(
            IssuePlanSerializer(plan).data, status=status.HTTP_200_OK if dry_run else status.HTTP_202_ACCEPTED
        )

    @extend_schema(responses=CourseProgressSerializer, summary="How far issuing the course's labs has got")
    @action(detail=True, methods=["get"], filter_backends=[])
    def progress(self, request, pk=None):
        return Response(CourseProgressSerializer(course_progress(self.get_object())).data)
