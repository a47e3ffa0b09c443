"""Every list endpoint runs the same number of queries for a page of 3 rows as for 30."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from labs import services as lab_services
from labs.models import LabEvent
from tests import factories

pytestmark = pytest.mark.django_db

BIG = {
    "max_labs": 500,
    "max_running_labs": 500,
    "max_vcpus": 10_000,
    "max_memory_mb": 10**8,
    "max_storage_gb": 10**7,
    "student_max_labs": 50,
}


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def qc(db):
    tenant = factories.tenant("qc", **BIG)
    admin = factories.member(tenant, "qc-admin", "admin")
    template = factories.template(tenant, "qc-lab", self_service=True)
    return tenant, admin, template


def _tenants(qc, n):
    for i in range(n):
        factories.tenant(f"t{n}-{i}")
    return "/api/v1/tenants/", "platform"


def _members(qc, n):
    tenant, _, _ = qc
    for i in range(n):
        factories.member(tenant, f"m{n}-{i}", "student")
    return f"/api/v1/tenants/{tenant.slug}/members/", "admin"


def _templates(qc, n):
    tenant, _, _ = qc
    for i in range(n):
        template = factories.template(tenant, f"tpl{n}-{i}")
        lab_services.template_revise(template=template, vcpus=4)
    return "/api/v1/templates/", "admin"


def _labs(qc, n):
    tenant, admin, template = qc
    host = factories.host(f"hv{n}")
    for i in range(n):
        owner = factories.member(tenant, f"o{n}-{i}", "student")
        course = factories.course(tenant, f"c{n}-{i}", template, instructors=[admin], students=[owner])
        lab = lab_services.lab_request(actor=admin, template=template, owner=owner, course=course)
        lab.host = host
        lab.save(update_fields=["host"])
    return "/api/v1/labs/", "admin"


def _events(qc, n):
    tenant, admin, template = qc
    lab = lab_services.lab_request(actor=admin, template=template)
    now = timezone.now()
    for i in range(n):
        LabEvent.objects.create(lab=lab, at=now + timedelta(seconds=i), actor=admin, event="note", message=str(i))
    return f"/api/v1/labs/{lab.pk}/events/", "admin"


def _courses(qc, n):
    tenant, admin, template = qc
    teacher = factories.member(tenant, f"teacher{n}", "instructor")
    for i in range(n):
        factories.course(tenant, f"course{n}-{i}", template, instructors=[admin, teacher])
    return "/api/v1/courses/", "admin"


def _enrollments(qc, n):
    tenant, admin, template = qc
    students = [factories.member(tenant, f"s{n}-{i}", "student") for i in range(n)]
    course = factories.course(tenant, f"roster{n}", template, instructors=[admin], students=students)
    return f"/api/v1/courses/{course.pk}/enrollments/", "admin"


def _hosts(qc, n):
    for i in range(n):
        factories.host(f"host{n}-{i}")
    return "/api/v1/hosts/", "platform"


LISTS = [_tenants, _members, _templates, _labs, _events, _courses, _enrollments, _hosts]


def _count(qc, platform_admin, build, n) -> tuple[int, int]:
    url, who = build(qc, n)
    client = APIClient()
    user = platform_admin if who == "platform" else qc[1]
    client.force_authenticate(type(user).objects.get(pk=user.pk))  # a fresh user per request, as in production
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), len(response.json()["results"])


@pytest.mark.parametrize("build", LISTS, ids=[b.__name__.strip("_") for b in LISTS])
def test_list_queries_do_not_grow_with_the_page(qc, platform_admin, build):
    small, small_rows = _count(qc, platform_admin, build, 3)
    big, big_rows = _count(qc, platform_admin, build, 30)
    assert big_rows >= small_rows + 27, (small_rows, big_rows)
    assert big == small, f"{build.__name__}: {small} queries for {small_rows} rows, {big} for {big_rows}"
