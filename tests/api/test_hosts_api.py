"""Hosts: platform admins only; the password is write-only."""

from __future__ import annotations

import pytest

from tests.api.conftest import HOST
from workers.models import Host

pytestmark = pytest.mark.django_db


def test_password_is_accepted_and_never_returned(world, api):
    response = api("platform").post("/api/v1/hosts/", HOST, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert "password" not in body and "password_ciphertext" not in body and body["has_password"] is True
    host = Host.objects.get(name="hv02")
    assert host.get_password() == "Sup3r-s3cret"
    assert "Sup3r-s3cret" not in response.content.decode()
    listing = api("platform").get("/api/v1/hosts/").content.decode()
    assert "Sup3r-s3cret" not in listing and host.password_ciphertext not in listing


def test_new_host_needs_a_password(world, api):
    response = api("platform").post("/api/v1/hosts/", {**HOST, "password": ""}, format="json")
    assert response.status_code == 400 and "password" in response.json()


def test_editing_without_password_keeps_it_and_state_is_read_only(world, api):
    before = world.host.password_ciphertext
    response = api("platform").patch(
        f"/api/v1/hosts/{world.host.pk}/", {"site": "berlin", "state": "offline"}, format="json"
    )
    assert response.status_code == 200, response.content
    world.host.refresh_from_db()
    assert (world.host.site, world.host.state, world.host.password_ciphertext) == ("berlin", "enabled", before)


def test_hosts_do_not_exist_for_tenant_people(world, api):
    for persona in ("student", "instructor", "admin", "globex_admin"):
        assert api(persona).get("/api/v1/hosts/").status_code == 404
        assert api(persona).get(f"/api/v1/hosts/{world.host.pk}/").status_code == 404
