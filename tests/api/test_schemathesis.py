"""Property-based tests of every operation against the live OpenAPI schema (schemathesis 4).

The schema is loaded from the WSGI app inside the test database. Each operation is exercised
with generated valid and invalid inputs, once signed in as a tenant admin and once as a student.
Every response must not be a 5xx and must conform to the schema: a documented status code, a
documented content type, a body that validates, and documented headers; and a request that
violates the schema must be refused (negative_data_rejection). About half of the
generated cases have their path parameters swapped for ids of real rows of the caller's tenant,
so operations are exercised on objects that exist, not only on 404s.
"""

from __future__ import annotations

import zlib

import pytest
import schemathesis
from _pytest.nodes import Node
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as account_services
from tenants.models import Membership

# Compatibility shim: schemathesis 4.32 renames the pytest node (``request.node._nodeid``) to add
# the operation to reports, and pytest 9 stores the id elsewhere. Reads get the real id; the
# rename is dropped, so reports show the test name and schemathesis prints the operation itself.
if not hasattr(Node, "_nodeid"):
    Node._nodeid = property(lambda node: node.nodeid, lambda node, value: None)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]

HYPOTHESIS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture
def api_schema(world, settings):
    from config.wsgi import application

    # No throttling here: schemathesis sends far more than any user would in a minute.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}
    # Requests go through the real WSGI handler, whose signals would close the test transaction's
    # connection after each request (Django's own test client disconnects them the same way).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


def _real_ids(world) -> dict:
    return {
        "/api/v1/labs/": str(world.lab.pk),
        "/api/v1/courses/": world.course.pk,
        "/api/v1/templates/": world.acme_template.pk,
        "/api/v1/hosts/": world.host.pk,
        "/api/v1/tenants/": world.acme.slug,
    }


def _steer(case, world) -> None:
    """Point about half of the cases at real rows (deterministically, from the generated values)."""
    params = case.path_parameters or {}
    if not params or zlib.crc32(repr(sorted(params.items())).encode()) % 2:  # stable across runs
        return
    path = case.operation.path
    if "tenant_slug" in params:
        params["tenant_slug"] = world.acme.slug
        if "id" in params:
            params["id"] = Membership.objects.filter(tenant=world.acme).order_by("pk").values_list("pk", flat=True)[0]
        return
    for prefix, value in _real_ids(world).items():
        if path.startswith(prefix):
            key = "slug" if "slug" in params else "id"
            params[key] = value


def _run(case, world, persona):
    _steer(case, world)
    tokens = vars(world).setdefault("tokens", {})  # one per persona for the whole run
    if persona not in tokens:
        tokens[persona] = account_services.token_issue(user=world.users[persona])[1]
    # Each case runs in a savepoint that is rolled back: every case sees the same world, and a
    # case cannot change what the next one finds.
    savepoint = transaction.savepoint()
    try:
        case.call_and_validate(headers={"Authorization": f"Token {tokens[persona]}"}, checks=CHECKS)
    finally:
        transaction.savepoint_rollback(savepoint)


@pytest.mark.django_db
@schema.parametrize()
@HYPOTHESIS
def test_api_as_tenant_admin(case, world):
    _run(case, world, "admin")


@pytest.mark.django_db
@schema.parametrize()
@HYPOTHESIS
def test_api_as_student(case, world):
    _run(case, world, "student")


def _operations_with_json_bodies(world):
    from drf_spectacular.generators import SchemaGenerator

    ids = {**_real_ids(world), "/api/v1/tenants/{tenant_slug}/members/": world.acme.slug}
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path, operations in sorted(paths.items()):
        for method, operation in sorted(operations.items()):
            if "application/json" not in operation.get("requestBody", {}).get("content", {}):
                continue
            url = path
            for prefix, value in ids.items():
                if path.startswith(prefix.split("{")[0]):
                    url = url.replace("{id}", str(value)).replace("{slug}", str(value))
            url = url.replace("{tenant_slug}", world.acme.slug).replace("{id}", "1")
            yield method.upper(), url


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["admin", "platform", "anonymous"])
def test_bodies_nested_deeper_than_any_parser_allows_are_refused_as_json_everywhere(world, persona):
    """Schemathesis' bodies stay shallow; this sends every JSON operation a body nested 50,000
    deep (Python's decoder gives up long before) and asserts a JSON 4xx, never a server error."""
    from rest_framework.test import APIClient

    client = APIClient(raise_request_exception=False)
    if persona != "anonymous":
        client.force_authenticate(world.users[persona])
    deep = '{"a":' * 50_000 + "1" + "}" * 50_000
    answers = {}
    for method, url in _operations_with_json_bodies(world):
        response = client.generic(method, url, deep, content_type="application/json")
        assert response["Content-Type"].startswith("application/json"), (method, url, response.status_code)
        answers[(method, url)] = response.status_code
    assert answers and all(400 <= status < 500 for status in answers.values()), answers
    assert any(status == 400 for status in answers.values())
