"""The API test world: two tenants with every persona, a course each, labs on a host.

``world`` builds it through the services (so the guardian grants are the real ones) and returns
a namespace of rows; ``api`` returns a DRF client, signed in as a persona or anonymous.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from labs import services as lab_services
from labs.models import Lab
from tests import factories

PERSONAS = (
    "anonymous",
    "student",  # acme student, enrolled in the course, owns `lab`
    "student2",  # another acme student (enrolled in course2, owns lab2)
    "instructor",  # teaches `course`
    "instructor2",  # teaches `course2`, not `course`
    "admin",  # acme admin
    "globex_admin",  # admin of the other tenant
    "platform",  # platform admin (is_staff)
)

#: A valid body for POST /api/v1/hosts/.
HOST = {
    "name": "hv02",
    "endpoint": "hv02.example.test",
    "username": "nestlab",
    "password": "Sup3r-s3cret",
    "logical_cpus": 32,
    "memory_mb": 131072,
    "storage_gb": 2000,
}


@pytest.fixture(autouse=True)
def _fast_and_fresh(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()  # throttle counters
    yield
    cache.clear()


def _course_lab(*, actor, template, owner, course):
    return lab_services.lab_request(actor=actor, template=template, owner=owner, course=course)


@pytest.fixture
def world(
    acme, globex, acme_admin, acme_instructor, acme_student, acme_student2, globex_admin, platform_admin, acme_template
):
    acme_instructor2 = factories.member(acme, "acme-instructor2", "instructor")
    globex_student = factories.member(globex, "globex-student", "student")
    globex_template = factories.template(globex, "globex-lab", self_service=True)
    course = factories.course(
        acme, "Hyper-V 101", acme_template, instructors=[acme_instructor], students=[acme_student]
    )
    course2 = factories.course(
        acme, "Hyper-V 201", acme_template, instructors=[acme_instructor2], students=[acme_student2]
    )
    globex_course = factories.course(
        globex, "Globex basics", globex_template, instructors=[globex_admin], students=[globex_student]
    )
    lab = _course_lab(actor=acme_instructor, template=acme_template, owner=acme_student, course=course)
    lab2 = _course_lab(actor=acme_instructor2, template=acme_template, owner=acme_student2, course=course2)
    globex_lab = _course_lab(actor=globex_admin, template=globex_template, owner=globex_student, course=globex_course)
    host = factories.host("hv01", endpoint="hv01.example.test")
    Lab.objects.filter(pk__in=[lab.pk, lab2.pk, globex_lab.pk]).update(host=host, state="running")
    for row in (lab, lab2, globex_lab):
        row.refresh_from_db()
    return SimpleNamespace(
        acme=acme,
        globex=globex,
        users={
            "student": acme_student,
            "student2": acme_student2,
            "instructor": acme_instructor,
            "instructor2": acme_instructor2,
            "admin": acme_admin,
            "globex_admin": globex_admin,
            "platform": platform_admin,
            "globex_student": globex_student,
        },
        acme_template=acme_template,
        globex_template=globex_template,
        course=course,
        course2=course2,
        globex_course=globex_course,
        lab=lab,
        lab2=lab2,
        globex_lab=globex_lab,
        host=host,
    )


@pytest.fixture
def api(world):
    def client_for(persona: str) -> APIClient:
        client = APIClient()
        if persona != "anonymous":
            client.force_authenticate(world.users[persona])
        return client

    return client_for
