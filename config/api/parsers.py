"""The JSON parser every endpoint uses (``DEFAULT_PARSER_CLASSES``).

DRF loads this module while ``rest_framework.views`` is being imported, so it must not import
DRF's views, generics or viewsets (nor anything that does); see ``config/api/__init__.py``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions
from rest_framework.parsers import JSONParser as DRFJSONParser

TOO_DEEP = "JSON parse error - the document is nested too deeply."


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
