"""What Django's error reports (the DEBUG page of a 500, the e-mails to ADMINS) may show.

Django hides settings whose *name* looks secret (``SECRET_KEY``, ``PASSWORD``, ...), but a
password inside a URL (``DATABASE_URL``, ``CELERY_BROKER_URL``, ``CACHE_URL``, ``CACHES``'
``LOCATION``, the same variables in the request's environment) passes under an innocent name.
This filter blanks the password part of every URL it is shown, wherever it appears.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@host -> scheme://user:********@host (the user may be empty).
_URL_PASSWORD_RE = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]*)(?P<at>@)")


def cleanse_url_passwords(text: str) -> str:
    """``text`` with the password of every URL in it replaced by the filter's substitute."""
    return _URL_PASSWORD_RE.sub(
        lambda match: match["head"] + SafeExceptionReporterFilter.cleansed_substitute + match["at"], text
    )


class CredentialsCleansingFilter(SafeExceptionReporterFilter):
    """Django's filter, plus the passwords of URLs in any setting or request variable."""

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):  # also true of lazy strings (django-axes' settings), hence str()
            return cleanse_url_passwords(str(cleansed))
        return cleansed
