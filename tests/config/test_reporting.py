"""The DEBUG page of a 500 never shows a password from a URL setting or variable."""

from __future__ import annotations

import sys
import uuid

import pytest
from django.test import RequestFactory
from django.views.debug import technical_500_response

from config.reporting import cleanse_url_passwords

# Made at run time: the page also shows the source lines around each frame, this file's too.
_PASSWORDS = {name: f"{name.lower()}-{uuid.uuid4().hex}" for name in ("db", "broker", "cache", "backend", "amqp")}
SECRETS = {
    "DATABASE_URL": (f"postgres://nestlab:{_PASSWORDS['db']}@db.example.com:5432/nestlab", _PASSWORDS["db"]),
    "CELERY_BROKER_URL": (f"redis://:{_PASSWORDS['broker']}@redis.example.com:6379/0", _PASSWORDS["broker"]),
    "CACHE_URL": (f"rediss://default:{_PASSWORDS['cache']}@cache.example.com:6380/1", _PASSWORDS["cache"]),
}


def _debug_page(settings) -> str:
    request = RequestFactory().get("/api/v1/labs/", **{name: value for name, (value, _) in SECRETS.items()})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        response = technical_500_response(request, *sys.exc_info())
    return response.content.decode()


def test_the_debug_page_shows_no_password_from_any_url(settings):
    settings.DEBUG = True
    for name, (value, _) in SECRETS.items():
        setattr(settings, name, value)
    settings.CELERY_RESULT_BACKEND = f"redis://:{_PASSWORDS['backend']}@redis.example.com:6379/2"
    settings.NESTLAB_EXTRA = {"nested": [f"amqp://guest:{_PASSWORDS['amqp']}@mq.example.com//"]}
    page = _debug_page(settings)
    assert "DATABASE_URL" in page and "db.example.com" in page  # the settings are shown...
    for secret in _PASSWORDS.values():
        assert secret not in page  # ...without their passwords
    assert "boom" in page


@pytest.mark.parametrize(
    ("text", "cleansed"),
    [
        ("postgres://u:p@h/db", "postgres://u:********************@h/db"),
        ("redis://:p@h:6379/0", "redis://:********************@h:6379/0"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("sqlite:////srv/x.sqlite3", "sqlite:////srv/x.sqlite3"),
        (
            "a postgres://u:p%40x@h and amqp://g:q@m//",
            "a postgres://u:********************@h and amqp://g:********************@m//",
        ),
    ],
)
def test_url_passwords_are_blanked(text, cleansed):
    assert cleanse_url_passwords(text) == cleansed
