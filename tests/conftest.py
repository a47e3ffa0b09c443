"""Shared fixtures: the fixed personas and small factories for the domain rows.

Tests marked ``postgres`` need PostgreSQL's row locks. Elsewhere they skip with a visible
reason; under CI (CI=true) collecting one on another database is an error, so CI can never
pass by skipping them.
"""

from __future__ import annotations

import itertools
import os

import pytest
from django.conf import settings

from tests import factories

_in_ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Hashing is not under test here and PBKDF2 would dominate the fixtures; the settings module
# itself keeps Django's default hashers.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_collection_modifyitems(config, items):
    if _on_postgres():
        return
    needs_pg = [item for item in items if item.get_closest_marker("postgres")]
    if needs_pg and _in_ci:
        raise pytest.UsageError(
            f"CI must run on PostgreSQL, but DATABASE_URL is {settings.DATABASES['default']['ENGINE']}; "
            f"{len(needs_pg)} tests would skip."
        )
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...); SQLite has no row locks")
    for item in needs_pg:
        item.add_marker(skip)


_counter = itertools.count(1)


@pytest.fixture
def unique():
    """A fresh small integer per call, for unique slugs and names."""
    return lambda: next(_counter)


@pytest.fixture
def acme(db):
    return factories.tenant("acme")


@pytest.fixture
def globex(db):
    return factories.tenant("globex")


@pytest.fixture
def acme_admin(acme):
    return factories.member(acme, "acme-admin", "admin")


@pytest.fixture
def acme_instructor(acme):
    return factories.member(acme, "acme-instructor", "instructor")


@pytest.fixture
def acme_student(acme):
    return factories.member(acme, "acme-student1", "student")


@pytest.fixture
def acme_student2(acme):
    return factories.member(acme, "acme-student2", "student")


@pytest.fixture
def globex_admin(globex):
    return factories.member(globex, "globex-admin", "admin")


@pytest.fixture
def platform_admin(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("admin", "admin@example.test", "nestlab-demo")


@pytest.fixture
def acme_template(acme):
    return factories.template(acme, "acme-lab", self_service=True)


@pytest.fixture
def admin_client(client, platform_admin):
    client.force_login(platform_admin)
    return client
