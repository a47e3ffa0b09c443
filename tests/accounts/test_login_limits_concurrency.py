"""Parallel guesses are all counted (no lost updates) and lock the account, on PostgreSQL."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.db.models import Sum
from rest_framework.test import APIClient

from tests import factories
from tests.concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GUESSES = 40


def _guess(index: int) -> int:
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": "victim", "password": f"guess-{index}"},
        format="json",
        REMOTE_ADDR=f"203.0.113.{index % 4}",
    )
    return response.status_code


def _counted() -> int:
    return AccessAttempt.objects.filter(username="victim").aggregate(total=Sum("failures_since_start"))["total"]


def _right_password():
    return APIClient().post(
        "/api/v1/auth/token/",
        {"username": "victim", "password": "nestlab-demo"},
        format="json",
        REMOTE_ADDR="192.0.2.99",
    )


@pytest.fixture(autouse=True)
def _only_axes(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}
    factories.user("victim")


def test_parallel_failures_are_all_counted(settings):
    settings.AXES_FAILURE_LIMIT = GUESSES + 1
    statuses = run_at_once(_guess, GUESSES, threads=20)
    assert statuses == [400] * GUESSES
    assert _counted() == GUESSES  # no lost update between parallel requests
    settings.AXES_FAILURE_LIMIT = GUESSES
    assert _right_password().status_code == 429


def test_a_burst_of_parallel_guesses_locks_the_account():
    statuses = run_at_once(_guess, GUESSES, threads=20)
    assert set(statuses) <= {400, 429}, statuses  # never a 500, never a token
    assert statuses.count(429) > 0
    assert _counted() >= 5
    assert _right_password().status_code == 429
