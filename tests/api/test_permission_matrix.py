"""The declared permission matrix: every endpoint x method x persona x own-or-foreign object.

Each row names an operation and the status every persona must get, first on an object of
their own tenant (acme) and then on the other tenant's (globex). Columns, in order:

    anon  = not signed in
    S     = acme student (enrolled in `course`, owns `lab`)
    S2    = another acme student (course2, lab2)
    I     = instructor of `course`
    I2    = instructor of another course (course2)
    AD    = acme admin
    GA    = globex admin (admin of another tenant)
    P     = platform admin

Rules the table encodes: no unauthorized 2xx; another tenant's object is 404, never 403; a
visible object the persona may not act on is 403; an anonymous caller is 401. A meta-test checks
that the table covers every operation in the OpenAPI schema, so a new endpoint cannot slip in
without a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from django.urls import reverse

from labs.models import Lab, LabCheckpoint
from tenants.models import Membership

pytestmark = pytest.mark.django_db

COLUMNS = ("anonymous", "student", "student2", "instructor", "instructor2", "admin", "globex_admin", "platform")


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # with {tenant} {lab} {course} {template} {member} {host} placeholders
    own: tuple[int, ...]
    foreign: tuple[int, ...] | None = None  # None: the operation has no tenant-owned object
    body: object = None  # dict, or a callable taking the target namespace
    lab_state: str | None = None
    setup: object = None
    query: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")


#                     anon  S    S2   I    I2   AD   GA   P
ALL_READ = (401, 200, 200, 200, 200, 200, 200, 200)
ACME_READ = (401, 200, 200, 200, 200, 200, 404, 200)
GLOBEX_READ = (401, 404, 404, 404, 404, 404, 200, 200)
MANAGERS_ONLY = (401, 403, 403, 403, 403, 200, 404, 200)
PLATFORM_WRITE = (401, 403, 403, 403, 403, 403, 404, 200)
GLOBEX_PLATFORM_WRITE = (401, 404, 404, 404, 404, 404, 403, 200)
GLOBEX_MANAGERS = (401, 404, 404, 404, 404, 404, 200, 200)
STAFF_ONLY = (401, 404, 404, 404, 404, 404, 404, 200)


def _codes(template: tuple[int, ...], ok: int) -> tuple[int, ...]:
    return tuple(ok if code == 200 else code for code in template)


LAB_VIEW = (401, 200, 404, 200, 404, 200, 404, 200)  # owner, the course's instructor, managers
LAB_CHANGE = (401, 403, 404, 200, 404, 200, 404, 200)  # not the student owner
COURSE_VIEW = (401, 200, 404, 200, 404, 200, 404, 200)  # enrolled student, its instructor, managers
COURSE_ISSUE = (401, 403, 404, 200, 404, 200, 404, 200)


def _quota_body(t):
    return {
        "max_vcpus": 64,
        "max_memory_mb": 131072,
        "max_storage_gb": 2048,
        "max_labs": 30,
        "max_running_labs": 20,
        "monthly_lab_hours": 2000,
        "student_max_labs": 2,
        "student_hours": 40,
    }


def _checkpoint_cp0(world):
    for lab in (world.lab, world.globex_lab):
        LabCheckpoint.objects.create(lab=lab, name="cp0")


def _invite_student_to_globex(world):
    import hashlib

    from tenants.models import Invitation

    Invitation.objects.create(
        tenant=world.globex,
        user=world.users["student"],
        email=world.users["student"].email,
        role="student",
        token_hash=hashlib.sha256(b"matrix-invitation-token").hexdigest(),
    )


MATRIX: list[Row] = [
    # --- tenants
    Row("GET", "/api/v1/tenants/", ALL_READ),
    Row("POST", "/api/v1/tenants/", (401, 403, 403, 403, 403, 403, 403, 201), body={"slug": "newco", "name": "NewCo"}),
    Row("GET", "/api/v1/tenants/{tenant}/", ACME_READ, GLOBEX_READ),
    Row("PUT", "/api/v1/tenants/{tenant}/", PLATFORM_WRITE, GLOBEX_PLATFORM_WRITE, body={"name": "Renamed"}),
    Row("PATCH", "/api/v1/tenants/{tenant}/", PLATFORM_WRITE, GLOBEX_PLATFORM_WRITE, body={"active": False}),
    # a tenant with labs is never deleted (409 for the platform admin); see test_tenants_api for a 204
    Row("DELETE", "/api/v1/tenants/{tenant}/", _codes(PLATFORM_WRITE, 409), _codes(GLOBEX_PLATFORM_WRITE, 409)),
    Row("GET", "/api/v1/tenants/{tenant}/quota/", MANAGERS_ONLY, GLOBEX_MANAGERS),
    Row(
        "PUT",
        "/api/v1/tenants/{tenant}/quota/",
        (401, 403, 403, 403, 403, 403, 404, 200),
        (401, 404, 404, 404, 404, 404, 403, 200),
        body=_quota_body,
    ),
    Row(
        "PATCH",
        "/api/v1/tenants/{tenant}/quota/",
        (401, 403, 403, 403, 403, 403, 404, 200),
        (401, 404, 404, 404, 404, 404, 403, 200),
        body={"max_labs": 25},
    ),
    Row("GET", "/api/v1/tenants/{tenant}/usage/", MANAGERS_ONLY, GLOBEX_MANAGERS),
    Row("GET", "/api/v1/tenants/{tenant}/members/", MANAGERS_ONLY, GLOBEX_MANAGERS),
    Row(
        "POST",
        "/api/v1/tenants/{tenant}/members/",
        _codes(MANAGERS_ONLY, 202),
        _codes(GLOBEX_MANAGERS, 202),
        body={"email": "new.person@example.test", "name": "New Person", "role": "student"},
    ),
    Row("GET", "/api/v1/tenants/{tenant}/members/{member}/", MANAGERS_ONLY, GLOBEX_MANAGERS),
    Row(
        "PUT", "/api/v1/tenants/{tenant}/members/{member}/", MANAGERS_ONLY, GLOBEX_MANAGERS, body={"role": "instructor"}
    ),
    Row(
        "PATCH",
        "/api/v1/tenants/{tenant}/members/{member}/",
        MANAGERS_ONLY,
        GLOBEX_MANAGERS,
        body={"role": "instructor"},
    ),
    Row(
        "DELETE", "/api/v1/tenants/{tenant}/members/{member}/", _codes(MANAGERS_ONLY, 204), _codes(GLOBEX_MANAGERS, 204)
    ),
    # --- invitations: only the addressee (here the acme student, invited to globex) may accept
    Row(
        "POST",
        "/api/v1/invitations/accept/",
        (401, 200, 404, 404, 404, 404, 404, 404),
        body={"token": "matrix-invitation-token"},
        setup=_invite_student_to_globex,
    ),
    # --- templates
    Row("GET", "/api/v1/templates/", ALL_READ),
    Row(
        "POST",
        "/api/v1/templates/",
        (401, 400, 400, 400, 400, 201, 400, 201),
        (401, 400, 400, 400, 400, 400, 201, 201),
        body=lambda t: {
            "tenant": t.tenant,
            "name": "fresh",
            "vcpus": 2,
            "memory_mb": 4096,
            "disk_gb": 40,
            "base_image_path": "C:\\Images\\base.vhdx",
        },
    ),
    Row("GET", "/api/v1/templates/{template}/", ACME_READ, GLOBEX_READ),
    Row("PATCH", "/api/v1/templates/{template}/", MANAGERS_ONLY, GLOBEX_MANAGERS, body={"vcpus": 4}),
    Row("PATCH", "/api/v1/templates/{template}/", MANAGERS_ONLY, GLOBEX_MANAGERS, body={"self_service": False}),
    # --- labs
    Row("GET", "/api/v1/labs/", ALL_READ),
    Row(
        "POST",
        "/api/v1/labs/",
        (401, 201, 201, 201, 201, 201, 400, 400),
        (401, 400, 400, 400, 400, 400, 201, 400),
        body=lambda t: {"template": t.template},
    ),
    Row("GET", "/api/v1/labs/{lab}/", LAB_VIEW, GLOBEX_READ),
    Row("DELETE", "/api/v1/labs/{lab}/", _codes(LAB_CHANGE, 202), _codes(GLOBEX_READ, 202)),
    Row("POST", "/api/v1/labs/{lab}/start/", _codes(LAB_VIEW, 202), _codes(GLOBEX_READ, 202), lab_state="stopped"),
    Row("POST", "/api/v1/labs/{lab}/stop/", _codes(LAB_VIEW, 202), _codes(GLOBEX_READ, 202), lab_state="running"),
    Row("POST", "/api/v1/labs/{lab}/reset/", _codes(LAB_VIEW, 202), _codes(GLOBEX_READ, 202), lab_state="running"),
    Row("POST", "/api/v1/labs/{lab}/extend/", _codes(LAB_CHANGE, 202), _codes(GLOBEX_READ, 202), body={"hours": 2}),
    Row(
        "POST",
        "/api/v1/labs/{lab}/checkpoint/",
        _codes(LAB_CHANGE, 202),
        _codes(GLOBEX_READ, 202),
        body={"name": "before-exam"},
    ),
    Row(
        "POST",
        "/api/v1/labs/{lab}/restore/",
        _codes(LAB_CHANGE, 202),
        _codes(GLOBEX_READ, 202),
        body={"name": "cp0"},
        setup=_checkpoint_cp0,
    ),
    Row(
        "DELETE",
        "/api/v1/labs/{lab}/checkpoints/{checkpoint}/",
        _codes(LAB_CHANGE, 202),
        _codes(GLOBEX_READ, 202),
        setup=_checkpoint_cp0,
    ),
    Row("GET", "/api/v1/labs/{lab}/events/", LAB_VIEW, GLOBEX_READ),
    Row("GET", "/api/v1/labs/{lab}/connection/", LAB_VIEW, GLOBEX_READ),
    Row("GET", "/api/v1/labs/{lab}/connection/", LAB_VIEW, GLOBEX_READ, query={"format": "rdp"}),
    # --- courses
    Row("GET", "/api/v1/courses/", ALL_READ),
    Row(
        "POST",
        "/api/v1/courses/",
        (401, 400, 400, 400, 400, 201, 400, 201),
        (401, 400, 400, 400, 400, 400, 201, 201),
        body=lambda t: {
            "tenant": t.tenant,
            "name": "Fresh course",
            "template": t.template,
            "starts_at": "2030-01-01T09:00:00Z",
            "ends_at": "2030-01-05T17:00:00Z",
        },
    ),
    Row("GET", "/api/v1/courses/{course}/", COURSE_VIEW, GLOBEX_READ),
    Row("GET", "/api/v1/courses/{course}/enrollments/", COURSE_ISSUE, GLOBEX_READ),
    Row(
        "POST",
        "/api/v1/courses/{course}/enrollments/",
        _codes(COURSE_ISSUE, 201),
        _codes(GLOBEX_READ, 201),
        body=[{"email": "new.student@example.test", "name": "New Student"}],
    ),
    Row("POST", "/api/v1/courses/{course}/issue/", COURSE_ISSUE, GLOBEX_READ, query={"dry_run": "1"}),
    Row("POST", "/api/v1/courses/{course}/issue/", _codes(COURSE_ISSUE, 202), _codes(GLOBEX_READ, 202)),
    Row("GET", "/api/v1/courses/{course}/progress/", COURSE_ISSUE, GLOBEX_READ),
    # --- hosts
    Row("GET", "/api/v1/hosts/", STAFF_ONLY),
    Row(
        "POST",
        "/api/v1/hosts/",
        _codes(STAFF_ONLY, 201),
        body={
            "name": "hv02",
            "endpoint": "hv02.example.test",
            "username": "nestlab",
            "password": "s3cret!",
            "logical_cpus": 32,
            "memory_mb": 131072,
            "storage_gb": 2000,
        },
    ),
    Row("GET", "/api/v1/hosts/{host}/", STAFF_ONLY),
    Row(
        "PUT",
        "/api/v1/hosts/{host}/",
        STAFF_ONLY,
        body={
            "name": "hv01",
            "endpoint": "hv01.example.test",
            "username": "nestlab",
            "logical_cpus": 32,
            "memory_mb": 131072,
            "storage_gb": 2000,
        },
    ),
    Row("PATCH", "/api/v1/hosts/{host}/", STAFF_ONLY, body={"site": "berlin"}),
    Row("POST", "/api/v1/hosts/{host}/drain/", _codes(STAFF_ONLY, 202)),
    Row("POST", "/api/v1/hosts/{host}/enable/", _codes(STAFF_ONLY, 202)),
    Row("POST", "/api/v1/hosts/{host}/doctor/", _codes(STAFF_ONLY, 202)),
]

# Operations covered elsewhere (with reasons), so the coverage meta-test stays honest.
COVERED_ELSEWHERE = {
    ("POST", "/api/v1/auth/token/"): "tests/accounts/test_tokens.py: anonymous by design",
    ("POST", "/api/v1/auth/logout/"): "tests/accounts/test_tokens.py: acts on the caller's own token only",
    ("POST", "/api/v1/auth/logout-all/"): "tests/accounts/test_tokens.py: acts on the caller's own tokens only",
}


def _targets(world, which: str) -> SimpleNamespace:
    if which == "own":
        member = Membership.objects.get(tenant=world.acme, user=world.users["student2"])
        return SimpleNamespace(
            tenant=world.acme.slug,
            lab=world.lab.pk,
            course=world.course.pk,
            template=world.acme_template.pk,
            member=member.pk,
            host=world.host.pk,
            checkpoint="cp0",
        )
    member = Membership.objects.get(tenant=world.globex, user=world.users["globex_student"])
    return SimpleNamespace(
        tenant=world.globex.slug,
        lab=world.globex_lab.pk,
        course=world.globex_course.pk,
        template=world.globex_template.pk,
        member=member.pk,
        host=world.host.pk,
        checkpoint="cp0",
    )


def _cases():
    for row in MATRIX:
        sides = [("own", row.own)] + ([("foreign", row.foreign)] if row.foreign is not None else [])
        for side, codes in sides:
            assert len(codes) == len(COLUMNS), row.name
            for persona, expected in zip(COLUMNS, codes, strict=True):
                yield pytest.param(row, side, persona, expected, id=f"{row.name}|{side}|{persona}")


@pytest.mark.parametrize(("row", "side", "persona", "expected"), list(_cases()))
def test_permission_matrix(world, api, row: Row, side: str, persona: str, expected: int):
    if row.lab_state:
        Lab.objects.filter(pk__in=[world.lab.pk, world.globex_lab.pk]).update(state=row.lab_state)
    if row.setup:
        row.setup(world)
    target = _targets(world, side)
    path = row.path.format(**vars(target))
    body = row.body(target) if callable(row.body) else row.body
    client = api(persona)
    response = getattr(client, row.method.lower())(
        path + (("?" + "&".join(f"{k}={v}" for k, v in row.query.items())) if row.query else ""),
        data=body,
        format="json" if body is not None else None,
    )
    assert response.status_code == expected, (
        f"{persona} {row.name} ({side}): expected {expected}, got {response.status_code}: {response.content[:300]!r}"
    )
    if 200 <= response.status_code < 300:
        assert expected < 300  # no unauthorized 2xx (belt and braces: expected already says so)
    if side == "foreign" and persona not in ("globex_admin", "platform", "anonymous"):
        assert response.status_code in (400, 404), "another tenant's object must never answer 403"


def test_the_matrix_covers_every_operation_in_the_schema(world, api):
    schema = api("platform").get(reverse("api-schema"), HTTP_ACCEPT="application/json").json()
    operations = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    placeholders = {
        "{tenant}": "{slug}",
        "{lab}": "{id}",
        "{course}": "{id}",
        "{template}": "{id}",
        "{host}": "{id}",
        "{checkpoint}": "{name}",
    }

    def normalise(path: str) -> str:
        path = path.replace("/members/{member}/", "/members/{id}/").replace("{tenant}/members", "{tenant_slug}/members")
        for old, new in placeholders.items():
            path = path.replace(old, new)
        return path

    declared = {(row.method, normalise(row.path)) for row in MATRIX} | set(COVERED_ELSEWHERE)
    missing = sorted(operations - declared)
    assert not missing, f"operations without a row in the permission matrix: {missing}"
