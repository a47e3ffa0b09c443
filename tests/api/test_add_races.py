"""A double click: two identical roster uploads or member adds at once never answer 500.

Real threads, each with its own PostgreSQL connection, through the whole API stack.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from labs.models import Enrollment
from tenants.models import Invitation, Membership
from tests.concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
User = get_user_model()
ROUNDS = 8


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _twice_at_once(user, method_path_body):
    method, path, body = method_path_body
    return run_at_once(lambda i: getattr(_client(user), method)(path, body, format="json"), 2, threads=2)


def test_two_identical_roster_uploads_at_once_both_succeed_once_each(world):
    existing = world.users["globex_admin"]
    for n in range(ROUNDS):
        rows = [{"email": f"double-{n}-{k}@example.test", "name": f"D {k}"} for k in range(3)]
        rows.append({"email": existing.email, "name": "G"})
        path = f"/api/v1/courses/{world.course.pk}/enrollments/"
        responses = _twice_at_once(world.users["instructor"], ("post", path, rows))
        codes = sorted(str(getattr(r, "status_code", repr(r))) for r in responses)
        assert codes in (["201", "201"], ["201", "409"]), [getattr(r, "content", r) for r in responses]
        for k in range(3):
            email = f"double-{n}-{k}@example.test"
            assert User.objects.filter(email=email).count() == 1
            assert Enrollment.objects.filter(course=world.course, student__email=email).count() == 1
            assert Invitation.objects.filter(email=email, accepted_at=None).count() == 1
        assert Invitation.objects.filter(user=existing, tenant=world.acme, accepted_at=None).count() == 1


def test_two_identical_member_adds_at_once_answer_success_and_409_never_500(world):
    existing = world.users["globex_admin"]
    for n in range(ROUNDS):
        for email in (f"member-{n}@example.test", existing.email):
            body = {"email": email, "role": "instructor"}
            responses = _twice_at_once(world.users["admin"], ("post", "/api/v1/tenants/acme/members/", body))
            codes = sorted(str(getattr(r, "status_code", repr(r))) for r in responses)
            assert codes in (["202", "202"], ["202", "409"]), [getattr(r, "content", r) for r in responses]
            assert User.objects.filter(email=email).count() == 1
        assert Membership.objects.filter(tenant=world.acme, user__email=f"member-{n}@example.test").count() == 1
        assert Invitation.objects.filter(user=existing, tenant=world.acme, accepted_at=None).count() == 1
