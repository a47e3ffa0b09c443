from __future__ import annotations

import django_filters

from workers.models import Host, HostState, Transport


class HostFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=HostState.choices)
    transport = django_filters.ChoiceFilter(choices=Transport.choices)

    class Meta:
        model = Host
        fields = ["state", "site", "transport"]
