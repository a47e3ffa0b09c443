from __future__ import annotations

import django_filters
from django.db.models import Q

from config.api.filters import StrictBooleanFilter
from tenants.models import Membership, Role, Tenant


class TenantFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Slug or name contains")
    active = StrictBooleanFilter()

    class Meta:
        model = Tenant
        fields = ["active"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(slug__icontains=value) | Q(name__icontains=value))


class MembershipFilterSet(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    username = django_filters.CharFilter(field_name="user__username", lookup_expr="icontains")

    class Meta:
        model = Membership
        fields = ["role"]
