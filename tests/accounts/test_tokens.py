"""API tokens (django-rest-knox): hashed at rest, expire when idle, revocable, revoked on a
password change or deactivation, never shown in the admin."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.forms import PasswordChangeForm
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts import services

pytestmark = pytest.mark.django_db

PASSWORD = "nestlab-demo"


def _obtain(username: str, password: str = PASSWORD, **extra):
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json", **extra)


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _works(key: str) -> bool:
    status = _client(key).get("/api/v1/labs/").status_code
    assert status in (200, 401)
    return status == 200


def test_token_endpoint_keeps_its_body_and_adds_the_expiry(acme_student):
    before = timezone.now()
    response = _obtain("acme-student1")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expiry"}
    expiry = timezone.datetime.fromisoformat(body["expiry"])
    assert timedelta(hours=9, minutes=59) < expiry - before <= timedelta(hours=10, seconds=5)
    assert _works(body["token"])


def test_wrong_password_is_a_400_in_drf_shape(acme_student):
    response = _obtain("acme-student1", "wrong")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not AuthToken.objects.exists()


def test_expired_token_is_refused_and_deleted(acme_student):
    instance, key = services.token_issue(user=acme_student)
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    response = _client(key).get("/api/v1/labs/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert not AuthToken.objects.exists()


def test_each_use_moves_the_expiry_on_so_it_means_inactivity(acme_student):
    instance, key = services.token_issue(user=acme_student)
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() + timedelta(minutes=5))
    assert _works(key)
    instance.refresh_from_db()
    assert instance.expiry > timezone.now() + timedelta(hours=9, minutes=59)


def test_an_absolute_maximum_caps_the_renewal(acme_student, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "AUTO_REFRESH_MAX_TTL": timedelta(hours=24)}
    instance, key = services.token_issue(user=acme_student)
    created = timezone.now() - timedelta(hours=23, minutes=30)
    AuthToken.objects.filter(pk=instance.pk).update(created=created, expiry=timezone.now() + timedelta(minutes=5))
    assert _works(key)
    instance.refresh_from_db()
    assert instance.expiry == created + timedelta(hours=24)
    AuthToken.objects.filter(pk=instance.pk).update(
        created=created - timedelta(hours=1), expiry=created - timedelta(hours=1) + timedelta(hours=24)
    )
    assert not _works(key)  # past the maximum however recently it was used


def test_logout_revokes_only_this_token(acme_student):
    first, second = _obtain("acme-student1").json()["token"], _obtain("acme-student1").json()["token"]
    response = _client(first).post("/api/v1/auth/logout/")
    assert response.status_code == 204
    assert not _works(first)
    assert _works(second)


def test_logout_all_revokes_every_token_of_the_user_only(acme_student, acme_student2):
    first, second = _obtain("acme-student1").json()["token"], _obtain("acme-student1").json()["token"]
    other = _obtain("acme-student2").json()["token"]
    assert _client(first).post("/api/v1/auth/logout-all/").status_code == 204
    assert not _works(first) and not _works(second)
    assert _works(other)


def test_logout_all_works_for_a_session_too(acme_student):
    key = _obtain("acme-student1").json()["token"]
    client = APIClient()
    client.force_login(acme_student)
    assert client.post("/api/v1/auth/logout-all/").status_code == 204
    assert not _works(key)


def test_logout_needs_a_token(acme_student):
    assert APIClient().post("/api/v1/auth/logout/").status_code == 401
    assert APIClient().post("/api/v1/auth/logout-all/").status_code == 401


def test_set_password_and_save_revokes_tokens(acme_student, acme_student2):
    key = _obtain("acme-student1").json()["token"]
    other = _obtain("acme-student2").json()["token"]
    acme_student.set_password("a-new-password-42")
    acme_student.save()
    assert not _works(key)
    assert _works(other)


def test_password_change_form_revokes_tokens(acme_student):
    key = _obtain("acme-student1").json()["token"]
    form = PasswordChangeForm(
        acme_student,
        {"old_password": PASSWORD, "new_password1": "Another-pass-4711", "new_password2": "Another-pass-4711"},
    )
    assert form.is_valid(), form.errors
    form.save()
    assert not _works(key)


def test_password_change_in_the_admin_revokes_tokens(client, platform_admin, acme_student):
    key = _obtain("acme-student1").json()["token"]
    client.force_login(platform_admin)
    response = client.post(
        f"/admin/auth/user/{acme_student.pk}/password/",
        {"password1": "Another-pass-4711", "password2": "Another-pass-4711"},
    )
    assert response.status_code == 302
    assert not _works(key)


def test_deactivation_revokes_tokens(acme_student):
    key = _obtain("acme-student1").json()["token"]
    acme_student.is_active = False
    acme_student.save()
    assert not AuthToken.objects.filter(user=acme_student).exists()
    assert not _works(key)


def test_a_token_of_an_account_deactivated_without_save_is_refused_anyway(acme_student):
    key = _obtain("acme-student1").json()["token"]
    type(acme_student).objects.filter(pk=acme_student.pk).update(is_active=False)  # no save, no hook
    assert not _works(key)


def test_other_saves_and_the_transparent_hash_upgrade_keep_tokens(acme_student, settings):
    key = _obtain("acme-student1").json()["token"]
    acme_student.first_name = "Ada"
    acme_student.save()
    # Stored with MD5 (the test hasher); making PBKDF2 the preferred one rehashes on sign-in.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    second = _obtain("acme-student1").json()["token"]
    acme_student.refresh_from_db()
    assert acme_student.password.startswith("pbkdf2_")
    assert _works(key) and _works(second)


def test_tokens_are_stored_hashed(acme_student):
    key = _obtain("acme-student1").json()["token"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuthToken._meta.db_table}")
        rows = cursor.fetchall()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0])
    assert key not in stored
    assert AuthToken.objects.get().digest == hashlib.sha512(key.encode()).hexdigest()


def test_the_admin_never_shows_a_token(client, platform_admin, acme_student):
    key = _obtain("acme-student1").json()["token"]
    digest = AuthToken.objects.get().digest
    client.force_login(platform_admin)
    page = client.get("/admin/knox/authtoken/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "acme-student1" in text
    assert key not in text and key[:15] not in text
    assert digest not in text and digest[:20] not in text
    assert client.get("/admin/knox/authtoken/add/").status_code == 403
    assert client.get(f"/admin/knox/authtoken/{digest}/change/").status_code == 403


def test_a_token_that_is_not_utf8_is_a_401_not_a_500(acme_student):
    response = APIClient().get("/api/v1/labs/", HTTP_AUTHORIZATION="Token \xe9\xe9")
    assert response.status_code == 401


def test_the_upgrade_drops_drf_authtokens_clear_text_table(db):
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", None)])
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp, user_id int)")
        cursor.execute("INSERT INTO authtoken_token VALUES ('f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed', NULL, 1)")
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0001_drop_drf_authtoken_table")])
    assert "authtoken_token" not in connection.introspection.table_names()


def test_the_openapi_schema_describes_the_auth_endpoints(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    token = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert token.get("security", []) in ([], [{}])  # no credentials needed
    assert {"200", "400", "429"} <= set(token["responses"])
    answer = token["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][answer]["properties"]) == {"token", "expiry"}
    for path in ("/api/v1/auth/logout/", "/api/v1/auth/logout-all/"):
        assert "204" in schema["paths"][path]["post"]["responses"]
    assert schema["paths"]["/api/v1/auth/logout/"]["post"]["security"] == [{"tokenAuth": []}]
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }


def test_an_admin_revokes_a_users_tokens_from_the_users_list(client, platform_admin, acme_student, acme_student2):
    key = _obtain("acme-student1").json()["token"]
    other = _obtain("acme-student2").json()["token"]
    client.force_login(platform_admin)
    response = client.post(
        "/admin/auth/user/", {"action": "revoke_api_tokens", "_selected_action": [acme_student.pk]}, follow=True
    )
    assert "Revoked 1 API token(s) of 1 user(s)." in response.content.decode()
    assert not _works(key)
    assert _works(other)
