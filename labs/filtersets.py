from __future__ import annotations

import datetime as dt

import django_filters

from config.api.filters import IntegerFilter, StrictBooleanFilter
from labs.models import Course, Enrollment, EnrollmentStatus, Lab, LabTemplate
from labs.states import LabState


class LabFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=LabState.choices)
    tenant = django_filters.CharFilter(field_name="tenant__slug")
    owner = IntegerFilter(field_name="owner_id")
    course = IntegerFilter(field_name="course_id")
    template = IntegerFilter(field_name="template_version__template_id")
    expires_before = django_filters.IsoDateTimeFilter(method="filter_expires_before")

    class Meta:
        model = Lab
        fields = ["state", "tenant", "owner", "course", "template"]

    def filter_expires_before(self, queryset, name, value):
        # PostgreSQL refuses UTC offsets beyond +-15:59 that Python accepts; compare in UTC.
        try:
            value = value.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            return queryset.none() if value.year < 2 else queryset
        return queryset.filter(expires_at__lt=value)


class LabTemplateFilterSet(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant__slug")
    is_global = StrictBooleanFilter(field_name="tenant", lookup_expr="isnull")
    self_service = StrictBooleanFilter()
    active = StrictBooleanFilter()

    class Meta:
        model = LabTemplate
        fields = ["tenant", "self_service", "active"]


class CourseFilterSet(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant__slug")
    instructor = IntegerFilter(field_name="instructors")
    # An id, not a choice among every template: another tenant's template and one that does not
    # exist must answer alike (an empty list), or the answer tells which ids exist.
    template = IntegerFilter(field_name="template_id")

    class Meta:
        model = Course
        fields = ["tenant", "template"]


class EnrollmentFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=EnrollmentStatus.choices)

    class Meta:
        model = Enrollment
        fields = ["status"]
