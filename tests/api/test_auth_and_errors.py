"""Token auth, the error format, throttles and pagination bounds."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tenants.models import Quota

pytestmark = pytest.mark.django_db


def test_token_auth_round_trip(world):
    client = APIClient()
    bad = client.post("/api/v1/auth/token/", {"username": "acme-student1", "password": "wrong"}, format="json")
    assert bad.status_code == 400
    good = client.post("/api/v1/auth/token/", {"username": "acme-student1", "password": "nestlab-demo"}, format="json")
    assert good.status_code == 200
    token = good.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/labs/").json()["count"] == 1


def test_session_auth_works_and_anonymous_gets_401_with_challenge(world):
    client = APIClient()
    response = client.get("/api/v1/labs/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "not_authenticated"
    client.force_login(world.users["admin"])
    assert client.get("/api/v1/labs/").status_code == 200


def test_domain_errors_carry_code_message_and_detail(world, api):
    Quota.objects.filter(tenant=world.acme).update(max_labs=2)  # lab and lab2 already use both
    response = api("admin").post("/api/v1/labs/", {"template": world.acme_template.pk}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "quota_exceeded"
    assert (body["quota"], body["used"], body["requested"], body["limit"]) == ("max_labs", 2, 1, 2)
    assert "max_labs" in body["message"]


def test_invalid_transitions_are_409(world, api):
    response = api("student").post(f"/api/v1/labs/{world.lab.pk}/start/")  # it is running
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_model_validation_errors_are_400_with_field_errors(world, api):
    response = api("admin").post(
        "/api/v1/templates/",
        {
            "tenant": "acme",
            "name": "bad image",
            "vcpus": 2,
            "memory_mb": 4096,
            "disk_gb": 10,
            "base_image_path": "relative/path.vhdx",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "base_image_path" in response.json()


def test_serializer_errors_keep_drf_shape(world, api):
    response = api("admin").post(f"/api/v1/labs/{world.lab.pk}/extend/", {"hours": 0}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["hours"]


def test_page_size_is_bounded(world, api):
    from config.api.pagination import StandardPagination

    assert StandardPagination.max_page_size == 200 and StandardPagination.page_size == 50
    response = api("platform").get("/api/v1/labs/?page_size=100000")
    assert response.status_code == 200
    assert response.json()["count"] == 3


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page_size=abc", 400),
        ("page_size=0", 400),
        ("page_size=", 400),
        ("page=abc", 404),
        ("page=9", 404),
        ("state=", 400),
        ("state=bogus", 400),
        ("course=0.5", 400),
        ("owner=x", 400),
        ("expires_before=", 400),
    ],
)
def test_malformed_query_parameters_are_refused_not_ignored(world, api, query, status):
    assert api("admin").get(f"/api/v1/labs/?{query}").status_code == status


def test_boolean_filters_are_strict(world, api):
    assert api("admin").get("/api/v1/templates/?self_service=true").json()["count"] == 1
    assert api("admin").get("/api/v1/templates/?self_service=null").status_code == 400


def test_user_throttle(world, api, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "3/min"}}
    client = api("student")
    responses = [client.get("/api/v1/labs/") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert 0 < int(responses[-1]["Retry-After"]) <= 60
    assert api("student2").get("/api/v1/labs/").status_code == 200  # another user has their own budget


def test_tenant_throttle_is_shared_by_the_tenant(world, api, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"tenant": "4/min"}}
    same_tenant = ("student", "student2", "instructor", "admin")
    assert [api(p).get("/api/v1/labs/").status_code for p in same_tenant] == [200] * 4
    limited = api("instructor2").get("/api/v1/labs/")
    assert limited.status_code == 429
    assert limited.json()["code"] == "throttled"
    assert api("globex_admin").get("/api/v1/labs/").status_code == 200  # another tenant is not affected


def test_schema_and_docs_are_served(world):
    client = APIClient()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/v1/labs/{id}/connection/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "drf_spectacular_sidecar" in page and "cdn.jsdelivr" not in page  # works without the internet


def test_options_on_an_object_you_may_not_change_is_not_an_error(world, api):
    response = api("student").options(f"/api/v1/labs/{world.lab.pk}/")
    assert response.status_code == 200
    member = world.users["student2"].memberships.get().pk
    assert api("admin").options(f"/api/v1/tenants/acme/members/{member}/").status_code == 200
    assert "actions" in api("admin").options(f"/api/v1/tenants/acme/members/{member}/").json()
    described = api("student").options(f"/api/v1/tenants/acme/members/{member}/")
    assert described.status_code == 200 and "actions" not in described.json()  # no form for what you may not do


def test_refusals_of_visible_objects_carry_not_allowed(world, api):
    response = api("student").delete(f"/api/v1/labs/{world.lab.pk}/")
    assert response.status_code == 403
    assert response.json()["code"] == "not_allowed"
    assert "delete" in response.json()["message"]
