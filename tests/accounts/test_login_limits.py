"""Failed sign-ins are limited per username and per address on every way in (django-axes)."""

from __future__ import annotations

import ipaddress
import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "nestlab-demo"
LIMIT = 5  # the default, NESTLAB_LOGIN_FAILURE_LIMIT


def api_login(username: str, password: str, address: str = "198.51.100.1", **extra):
    return APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json", REMOTE_ADDR=address, **extra
    )


def admin_login(username: str, password: str, address: str = "198.51.100.1", path: str = "/admin/login/"):
    client = Client()
    response = client.post(path, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address)
    return response, client


def test_settings_give_the_documented_defaults(settings):
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    assert settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]


def test_failures_below_the_limit_do_not_lock(acme_student):
    for _ in range(LIMIT - 1):
        assert api_login("acme-student1", "wrong").status_code == 400
    assert api_login("acme-student1", PASSWORD).status_code == 200


def test_api_locks_a_username_tried_from_many_addresses(acme_student):
    for n in range(LIMIT):
        api_login("acme-student1", f"wrong{n}", address=f"203.0.113.{n + 1}")
    response = api_login("acme-student1", PASSWORD, address="192.0.2.77")  # right password, fresh address
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "login_locked"
    assert "Too many failed sign-ins" in body["message"]
    assert body["detail"] == body["message"]
    assert response["Retry-After"] == "900"
    assert response["Content-Type"] == "application/json"
    assert api_login("acme-student2", PASSWORD, address="192.0.2.77").status_code in (200, 400)  # not this address


def test_api_locks_an_address_that_tries_many_usernames(acme_student, acme_student2):
    for n in range(LIMIT):
        api_login(f"nobody{n}", "guess", address="203.0.113.9")
    locked = api_login("acme-student1", PASSWORD, address="203.0.113.9")
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    assert api_login("acme-student1", PASSWORD, address="203.0.113.10").status_code == 200  # other address


def test_the_lockout_answer_comes_already_at_the_failure_that_reaches_the_limit(acme_student):
    codes = [api_login("acme-student1", "wrong").status_code for _ in range(LIMIT)]
    assert codes == [400] * (LIMIT - 1) + [429]


def test_the_lockout_ends_after_the_cool_off(acme_student):
    for _ in range(LIMIT):
        api_login("acme-student1", "wrong")
    assert api_login("acme-student1", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    assert api_login("acme-student1", PASSWORD).status_code == 200


def test_limits_come_from_the_environment():
    code = (
        "from config import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()), "
        "s.AXES_IPWARE_META_PRECEDENCE_ORDER, "
        "s.REST_KNOX['TOKEN_TTL'].total_seconds(), s.REST_KNOX['AUTO_REFRESH_MAX_TTL'])"
    )
    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "1",
        "NESTLAB_LOGIN_FAILURE_LIMIT": "3",
        "NESTLAB_LOGIN_COOLOFF": "60",
        "NESTLAB_PROXY_COUNT": "1",
        "NESTLAB_TOKEN_TTL": "3600",
        "NESTLAB_TOKEN_MAX_AGE": "86400",
    }
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [
        "3",
        "60",
        "('HTTP_X_FORWARDED_FOR',",
        "'REMOTE_ADDR')",
        "3600.0",
        "1",
        "day,",
        "0:00:00",
    ]
    bad = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={**env, "NESTLAB_LOGIN_FAILURE_LIMIT": "0"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "NESTLAB_LOGIN_FAILURE_LIMIT: must be at least 1" in bad.stderr


def test_forwarded_for_is_ignored_unless_a_proxy_count_is_set(acme_student):
    # Default: X-Forwarded-For is the client's to invent, so it must not give fresh addresses.
    for n in range(LIMIT):
        api_login(f"nobody{n}", "guess", address="10.0.0.2", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.0.2"}
    assert (
        api_login("acme-student1", PASSWORD, address="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429
    )


def test_behind_one_proxy_the_address_nginx_saw_counts(acme_student, settings):
    # What settings.py sets for NESTLAB_PROXY_COUNT=1 (nginx appends the peer it saw).
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    settings.AXES_IPWARE_PROXY_COUNT = 0
    settings.IPWARE_STRICT = False
    for n in range(LIMIT):
        # The client sends its own, varying X-Forwarded-For; nginx appends 203.0.113.50.
        api_login(f"nobody{n}", "guess", address="127.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.50")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.50"}
    assert (
        api_login("acme-student1", PASSWORD, address="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.50").status_code
        == 429
    )
    assert (
        api_login("acme-student1", "wrong", address="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.51").status_code == 400
    )  # another client behind nginx


def test_failures_are_logged_without_the_password(acme_student, caplog):
    caplog.set_level(logging.INFO)
    for _ in range(LIMIT):
        api_login("acme-student1", "Sup3r-Secret-Guess")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "login failure" in text and "acme-student1" in text and "198.51.100.1" in text
    assert "Locking out" in text
    assert "Sup3r-Secret-Guess" not in text
    assert "Sup3r-Secret-Guess" not in "".join(AccessAttempt.objects.values_list("post_data", flat=True))


def test_admin_login_locks_a_username_tried_from_many_addresses(platform_admin):
    for n in range(LIMIT - 1):
        response, _ = admin_login("admin", "wrong", address=f"203.0.113.{n + 1}")
        assert response.status_code == 200  # the login form again, with an error
    response, _ = admin_login("admin", "wrong", address="203.0.113.99")
    assert response.status_code == 429
    response, client = admin_login("admin", PASSWORD, address="192.0.2.1")  # right password
    assert response.status_code == 429
    page = response.content.decode()
    assert "Sign-in temporarily locked" in page and "Try again in 15 minutes" in page
    assert response["Retry-After"] == "900"
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still not signed in


def test_admin_login_locks_an_address_that_tries_many_usernames(platform_admin):
    for n in range(LIMIT):
        admin_login(f"nobody{n}", "guess", address="203.0.113.7")
    response, client = admin_login("admin", PASSWORD, address="203.0.113.7")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    response, client = admin_login("admin", PASSWORD, address="203.0.113.8")
    assert response.status_code == 302 and "_auth_user_id" in client.session


def test_api_and_admin_share_one_count(platform_admin):
    for _ in range(LIMIT - 1):
        api_login("admin", "wrong", address="203.0.113.20")
    response, _ = admin_login("admin", "wrong", address="203.0.113.21")
    assert response.status_code == 429
    assert api_login("admin", PASSWORD, address="203.0.113.22").status_code == 429


@pytest.mark.urls("tests.accounts.urls")
def test_djangos_own_login_view_is_limited_too(acme_student):
    """The portal will use django.contrib.auth's LoginView: it is limited with no code of its own."""
    for _ in range(LIMIT):
        admin_login("acme-student1", "wrong", path="/portal/login/")
    response, client = admin_login("acme-student1", PASSWORD, path="/portal/login/")
    assert response.status_code == 429
    assert "Sign-in temporarily locked" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_anonymous_throttle_cannot_be_escaped_with_an_invented_forwarded_for(acme_student, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "3/min"}}
    codes = [
        api_login(f"nobody{n}", "guess", address="10.0.0.3", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code
        for n in range(4)
    ]
    assert codes == [400, 400, 400, 429]


_ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda parts: ".".join(map(str, parts)))
# A TCP peer's address: not 0.0.0.0/8, multicast or reserved (ipware rightly refuses those).
_peer = _ipv4.filter(
    lambda a: not (a.startswith("0.") or (ip := ipaddress.ip_address(a)).is_multicast or ip.is_reserved)
)


@pytest.mark.parametrize("proxies", [1, 2])
@given(sent=st.lists(st.one_of(_ipv4, st.just("unknown"), st.just("")), max_size=5), real=_peer, hops=_ipv4)
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_behind_proxies_whatever_a_client_sends_the_address_the_outer_proxy_saw_counts(
    settings, proxies, sent, real, hops
):
    from axes.helpers import get_client_ip_address
    from django.test import RequestFactory

    # What settings.py sets for NESTLAB_PROXY_COUNT=proxies.
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    settings.AXES_IPWARE_PROXY_COUNT = proxies - 1
    settings.IPWARE_STRICT = False
    # The outer proxy appends the client it saw; each inner proxy appends the proxy before it.
    chain = [*sent, real] + [hops] * (proxies - 1)
    request = RequestFactory().post(
        "/api/v1/auth/token/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=", ".join(chain)
    )
    assert get_client_ip_address(request) == real
