from __future__ import annotations

import django_filters

from labs.lifecycle import LabState
from labs.models import Course, Enrollment, EnrollmentStatus, Lab, LabTemplate


class LabFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=LabState.choices)
    tenant = django_filters.CharFilter(field_name="tenant__slug")
    owner = django_filters.NumberFilter(field_name="owner_id")
    course = django_filters.NumberFilter(field_name="course_id")
    template = django_filters.NumberFilter(field_name="template_version__template_id")
    expires_before = django_filters.IsoDateTimeFilter(field_name="expires_at", lookup_expr="lt")

    class Meta:
        model = Lab
        fields = ["state", "tenant", "owner", "course", "template"]


class LabTemplateFilterSet(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant__slug")
    is_global = django_filters.BooleanFilter(field_name="tenant", lookup_expr="isnull")

    class Meta:
        model = LabTemplate
        fields = ["tenant", "self_service", "active"]


class CourseFilterSet(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant__slug")
    instructor = django_filters.NumberFilter(field_name="instructors")

    class Meta:
        model = Course
        fields = ["tenant", "template"]


class EnrollmentFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=EnrollmentStatus.choices)

    class Meta:
        model = Enrollment
        fields = ["status"]
