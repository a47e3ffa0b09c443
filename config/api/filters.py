"""Query filters and ordering every list endpoint shares (``DEFAULT_FILTER_BACKENDS``).

Strict: an empty, malformed or unknown query parameter is a 400, never a silently wider query.
DRF loads this module while ``rest_framework.generics`` is being imported, so it must not import
DRF's views, generics or viewsets (nor anything that does); see ``config/api/__init__.py``.
"""

from __future__ import annotations

import django_filters
import django_filters.rest_framework
from django import forms
from rest_framework import exceptions
from rest_framework.filters import OrderingFilter
from rest_framework.settings import api_settings

from config.api.pagination import LIST_PARAMETERS


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
                name
                for name, field in filterset.filters.items()
                if not isinstance(field, django_filters.CharFilter)
                and name in request.query_params
                and "" in request.query_params.getlist(name)
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
                    {
                        self.ordering_param: [
                            f"Cannot sort by {', '.join(repr(term) for term in bad)}; use one of "
                            f"{', '.join(sorted(valid))}, with a leading '-' for descending order."
                        ]
                    }
                )
        return super().get_ordering(request, queryset, view)
