from __future__ import annotations

from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer

from labs.roster import MAX_ROSTER_BYTES, roster_check_size


class CsvParser(BaseParser):
    """``text/csv`` request bodies, handed over as bytes (the roster parser decodes them)."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        data = stream.read(MAX_ROSTER_BYTES + 1) if stream is not None else b""
        roster_check_size(len(data))
        return data


class RdpRenderer(BaseRenderer):
    """A VMConnect .rdp file (``?format=rdp``)."""

    media_type = "application/x-rdp"
    format = "rdp"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode(self.charset)
        # errors on this endpoint still need a body; keep it readable
        return str(data.get("message") if isinstance(data, dict) else data).encode(self.charset)
