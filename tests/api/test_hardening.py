"""Inputs that used to end in a 500 or an HTML page, limits, and small contract gaps (issue 9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from labs.models import Course, Enrollment, Lab, LabTemplate
from labs.roster import MAX_ROSTER_BYTES
from tenants.models import Quota
from workers.models import Host

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000


def _json_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body


# --- No 500s, no HTML -------------------------------------------------------------------------------


def test_deeply_nested_json_to_the_token_endpoint_is_a_400_not_a_500(world):
    client = APIClient(raise_request_exception=False)
    response = client.generic("POST", "/api/v1/auth/token/", DEEP, content_type="application/json")
    assert "nested too deeply" in _json_error(response, 400, "parse_error")["message"]


def test_deeply_nested_json_to_any_endpoint_is_a_400(world, api):
    response = api("admin").generic("POST", "/api/v1/labs/", DEEP, content_type="application/json")
    _json_error(response, 400, "parse_error")


@pytest.mark.parametrize("value", ["²", "١٢", "5²", "99999999999999999999"])
def test_page_size_accepts_only_ascii_digits(world, api, value):
    response = api("admin").get("/api/v1/labs/", {"page_size": value})
    assert "page_size" in _json_error(response, 400)


def test_a_page_in_non_ascii_digits_is_a_json_404(world, api):
    _json_error(api("admin").get("/api/v1/labs/", {"page": "²"}), 404, "not_found")


def _template_body(**extra):
    return {
        "tenant": "acme",
        "name": "long-lived",
        "vcpus": 2,
        "memory_mb": 4096,
        "disk_gb": 10,
        "base_image_path": "C:\\NestlabImages\\win2022-base.vhdx",
        **extra,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("default_lifetime", "999999999 00:00:00"),
        ("default_lifetime", "366 00:00:00"),
        ("default_lifetime", "00:00:00"),
        ("max_continuous_running", "-1 00:00:00"),
        ("max_continuous_running", "00:00:00"),
        ("max_continuous_running", "999999999 00:00:00"),
    ],
)
def test_template_durations_are_bounded(world, api, field, value):
    before = LabTemplate.objects.count()
    response = api("admin").post("/api/v1/templates/", _template_body(**{field: value}), format="json")
    assert field in _json_error(response, 400)
    assert LabTemplate.objects.count() == before
    edit = api("admin").patch(f"/api/v1/templates/{world.acme_template.pk}/", {field: value}, format="json")
    assert field in _json_error(edit, 400)


def test_a_year_long_template_lifetime_is_accepted(world, api):
    response = api("admin").post("/api/v1/templates/", _template_body(default_lifetime="365 00:00:00"), format="json")
    assert response.status_code == 201, response.json()


def _course_body(world, **extra):
    now = timezone.now()
    return {
        "tenant": "acme",
        "name": "Bounded",
        "template": world.acme_template.pk,
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=3)).isoformat(),
        **extra,
    }


@pytest.mark.parametrize(
    "extra",
    [
        {"lab_lifetime": "999999999 00:00:00"},
        {"lab_lifetime": "400 00:00:00"},
        {"starts_at": "0001-01-01T00:00:00Z"},
        {"ends_at": "9999-12-31T23:59:59Z"},
        {"starts_at": "1999-12-31T00:00:00Z"},
    ],
)
def test_course_lifetimes_and_dates_are_bounded(world, api, extra):
    before = Course.objects.count()
    response = api("admin").post("/api/v1/courses/", _course_body(world, **extra), format="json")
    assert set(extra) <= set(_json_error(response, 400)), response.json()
    assert Course.objects.count() == before


def test_extending_a_lab_near_the_end_of_the_calendar_is_refused_cleanly(world, api):
    Lab.objects.filter(pk=world.lab.pk).update(expires_at=datetime(9999, 12, 31, 23, 0, tzinfo=UTC))
    response = api("admin").post(f"/api/v1/labs/{world.lab.pk}/extend/", {"hours": 720}, format="json")
    assert "365 days" in _json_error(response, 400)["hours"][0]


def test_an_extension_cannot_take_a_lab_past_a_year(world, api):
    lab = world.lab
    latest = lab.created_at + timedelta(days=365)
    Lab.objects.filter(pk=lab.pk).update(expires_at=latest - timedelta(hours=10))
    refused = api("admin").post(f"/api/v1/labs/{lab.pk}/extend/", {"hours": 11}, format="json")
    assert "at most 10 more hours" in _json_error(refused, 400)["hours"][0]
    lab.refresh_from_db()
    assert lab.expires_at == latest - timedelta(hours=10)
    assert api("admin").post(f"/api/v1/labs/{lab.pk}/extend/", {"hours": 10}, format="json").status_code == 202
    lab.refresh_from_db()
    assert lab.expires_at == latest


def test_an_unhandled_error_under_the_api_is_a_json_500(world, monkeypatch):
    from labs.api.views import LabViewSet

    def broken(self, request, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(LabViewSet, "list", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(world.users["admin"])
    body = _json_error(client.get("/api/v1/labs/"), 500, "server_error")
    assert "boom" not in body["message"]


def test_an_unknown_api_path_is_a_json_404(world):
    _json_error(APIClient().get("/api/v1/no/such/thing/"), 404, "not_found")


# --- Upload limits ----------------------------------------------------------------------------------


def test_a_form_body_over_the_upload_limit_is_a_json_413(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client = APIClient(raise_request_exception=False)
    response = client.post("/api/v1/auth/token/", {"username": "x" * 20_000, "password": "y"}, format="multipart")
    assert _json_error(response, 413, "too_large")["limit_bytes"] == 10_000


def test_a_json_body_over_the_upload_limit_is_a_json_413(world, api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = api("admin").post(
        "/api/v1/labs/", {"template": world.acme_template.pk, "name": "x" * 20_000}, format="json"
    )
    _json_error(response, 413, "too_large")


def _roster_csv(size: int) -> bytes:
    rows = b"".join(b"p%07d@example.test,Person %d\n" % (i, i) for i in range(size // 30 + 1))
    return b"email,name\n" + rows


@pytest.mark.parametrize("how", ["multipart", "csv", "json"])
def test_every_way_a_roster_arrives_has_one_size_limit(world, api, how):
    client = api("instructor")
    url = f"/api/v1/courses/{world.course.pk}/enrollments/"
    data = _roster_csv(MAX_ROSTER_BYTES + 1024)
    users, enrollments = get_user_model().objects.count(), Enrollment.objects.count()
    if how == "multipart":
        response = client.post(
            url, {"file": SimpleUploadedFile("roster.csv", data, content_type="text/csv")}, format="multipart"
        )
    elif how == "csv":
        response = client.generic("POST", url, data, content_type="text/csv")
    else:
        lines = data.decode().splitlines()[1:]
        items = [{"email": line.split(",")[0], "name": line.split(",")[1]} for line in lines]
        response = client.post(url, items, format="json")
    body = _json_error(response, 413, "too_large")
    assert body["limit_bytes"] == MAX_ROSTER_BYTES and "2048 KiB" in body["message"]
    assert (get_user_model().objects.count(), Enrollment.objects.count()) == (users, enrollments)


def test_a_roster_just_under_the_limit_still_imports(world, api):
    small = b"email,name\nada@example.test,Ada\n" + b"\n" * (MAX_ROSTER_BYTES - 100)
    response = api("instructor").post(
        f"/api/v1/courses/{world.course.pk}/enrollments/",
        {"file": SimpleUploadedFile("roster.csv", small, content_type="text/csv")},
        format="multipart",
    )
    assert response.status_code == 201, response.json()


# --- Query parameters -------------------------------------------------------------------------------

LISTS = [
    "/api/v1/labs/",
    "/api/v1/templates/",
    "/api/v1/courses/",
    "/api/v1/tenants/",
    "/api/v1/hosts/",
    "/api/v1/tenants/acme/members/",
]


@pytest.mark.parametrize("url", [*LISTS, "/api/v1/courses/{course}/enrollments/"])
def test_unknown_query_parameters_are_refused_on_every_list(world, api, url):
    response = api("platform").get(url.format(course=world.course.pk), {"stat": "running"})
    assert "stat" in _json_error(response, 400)


@pytest.mark.parametrize("url", LISTS)
def test_ordering_by_an_unknown_field_is_refused_on_every_list(world, api, url):
    response = api("platform").get(url, {"ordering": "-password"})
    assert "'-password'" in _json_error(response, 400)["ordering"][0]


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("/api/v1/labs/", {"ordering": "-created_at,name", "state": "running", "page": "1", "page_size": "5"}),
        ("/api/v1/courses/", {"ordering": "starts_at", "instructor": "1"}),
        ("/api/v1/tenants/acme/members/", {"ordering": "user__username"}),
    ],
)
def test_known_parameters_and_orderings_still_work(world, api, url, query):
    assert api("platform").get(url, query).status_code == 200


def test_course_template_filter_answers_alike_for_foreign_and_missing_templates(world, api):
    client = api("admin")
    foreign = client.get("/api/v1/courses/", {"template": world.globex_template.pk})
    missing = client.get("/api/v1/courses/", {"template": 999_999})
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
    assert foreign.json()["count"] == 0
    own = client.get("/api/v1/courses/", {"template": world.acme_template.pk})
    assert own.json()["count"] == 2


# --- Contract gaps ----------------------------------------------------------------------------------


def test_a_student_cannot_be_made_a_course_instructor(world, api):
    before = Course.objects.count()
    body = _course_body(world, instructors=[world.users["student"].pk])
    response = api("admin").post("/api/v1/courses/", body, format="json")
    errors = _json_error(response, 400)
    assert "acme-student1" in errors["instructors"][0] and Course.objects.count() == before


def test_put_on_a_quota_needs_every_limit(world, api):
    url = "/api/v1/tenants/acme/quota/"
    before = api("platform").get(url).json()
    response = api("platform").put(url, {"max_labs": 7}, format="json")
    errors = _json_error(response, 400)
    assert "max_running_labs" in errors and "max_labs" not in errors
    assert Quota.objects.get(tenant=world.acme).max_labs == before["max_labs"]
    assert api("platform").patch(url, {"max_labs": 7}, format="json").status_code == 200
    full = {**{k: v for k, v in before.items() if k != "updated_at"}, "max_labs": 8}
    assert api("platform").put(url, full, format="json").status_code == 200


def test_a_blank_host_password_keeps_the_stored_one_and_a_new_host_needs_one(world, api):
    client = api("platform")
    host = world.host
    stored = host.password_ciphertext
    response = client.patch(f"/api/v1/hosts/{host.pk}/", {"password": "", "site": "lab-b"}, format="json")
    assert response.status_code == 200, response.json()
    host.refresh_from_db()
    assert host.site == "lab-b" and host.password_ciphertext == stored and host.get_password() == "host-secret"
    created = client.post(
        "/api/v1/hosts/",
        {
            "name": "hv09",
            "endpoint": "hv09.example.test",
            "username": "nestlab",
            "password": "",
            "logical_cpus": 16,
            "memory_mb": 65536,
            "storage_gb": 1000,
        },
        format="json",
    )
    assert "password" in _json_error(created, 400) and not Host.objects.filter(name="hv09").exists()


def test_a_slug_with_a_nul_byte_is_a_400_not_a_database_error(world, api):
    response = api("admin").post("/api/v1/courses/", _course_body(world, tenant="ac\x00me"), format="json")
    assert "tenant" in _json_error(response, 400)


@pytest.mark.parametrize("value", ["", "xml"])
def test_a_connection_format_other_than_json_or_rdp_is_refused(world, api, value):
    response = api("student").get(f"/api/v1/labs/{world.lab.pk}/connection/?format={value}")
    assert response.status_code in (400, 404) and response["Content-Type"].startswith("application/json")
    if value == "":
        assert "format" in _json_error(response, 400)
