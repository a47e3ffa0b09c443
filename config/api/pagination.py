"""Pagination every list endpoint shares (``REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]``).

DRF loads this module while ``rest_framework.views`` is being imported, so it must not import
DRF's views, generics or viewsets (nor anything that does); see ``config/api/__init__.py``.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination

#: Query parameters every list endpoint accepts besides its filters (pagination).
LIST_PARAMETERS = ("page", "page_size")


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
