"""The host admin goes through the host services, as the API does: state changes only by the
Drain and Enable actions (``host_drain``/``host_enable``), and a new host needs a password
(``host_password_check``, which ``host_create`` applies)."""

import pytest
from django.core.exceptions import ValidationError

from tests import factories
from workers.models import Host, HostState
from workers.services.hosts import host_create

pytestmark = pytest.mark.django_db

FORM = {
    "name": "hv1",
    "endpoint": "hv1.example.test",
    "port": 5986,
    "transport": "ntlm",
    "use_tls": "on",
    "username": "svc-nestlab",
    "new_password": "Top-Secret-42",
    "site": "default",
    "logical_cpus": 32,
    "memory_mb": 131072,
    "memory_reserved_mb": 4096,
    "storage_gb": 2000,
    "vcpu_overcommit": "4",
    "max_parallel_operations": 4,
    "vm_root": r"C:\Nestlab\Labs",
    "allocations-TOTAL_FORMS": 0,
    "allocations-INITIAL_FORMS": 0,
}


def test_the_admin_cannot_set_a_hosts_state_directly(admin_client):
    host = factories.host("hv1")
    response = admin_client.post(f"/admin/workers/host/{host.pk}/change/", {**FORM, "state": "draining"})
    assert response.status_code == 302, response.content.decode()[:2000]
    host.refresh_from_db()
    assert (host.state, host.site) == (HostState.ENABLED, "default")
    page = admin_client.get(f"/admin/workers/host/{host.pk}/change/").content.decode()
    assert 'name="state"' not in page


def test_the_drain_action_drains_through_the_service(admin_client):
    enabled, offline = factories.host("hv1"), factories.host("hv2", state=HostState.OFFLINE)
    response = admin_client.post(
        "/admin/workers/host/", {"action": "drain", "_selected_action": [enabled.pk, offline.pk]}
    )
    assert response.status_code == 302
    enabled.refresh_from_db()
    offline.refresh_from_db()
    assert enabled.state == HostState.DRAINING
    # host_drain's rule: an offline host stays offline and comes back drained.
    assert (offline.state, offline.resume_state) == (HostState.OFFLINE, HostState.DRAINING)


def test_the_enable_action_enables_through_the_service(admin_client):
    draining, offline = factories.host("hv1", state=HostState.DRAINING), factories.host("hv2", state=HostState.OFFLINE)
    response = admin_client.post(
        "/admin/workers/host/", {"action": "enable", "_selected_action": [draining.pk, offline.pk]}
    )
    assert response.status_code == 302
    draining.refresh_from_db()
    offline.refresh_from_db()
    assert draining.state == HostState.ENABLED
    assert (offline.state, offline.resume_state) == (HostState.OFFLINE, HostState.ENABLED)


def test_the_admin_refuses_a_new_host_without_a_password(admin_client):
    response = admin_client.post("/admin/workers/host/add/", {**FORM, "new_password": ""})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["new_password"] == ["A new host needs a password."]
    assert not Host.objects.exists()


def test_a_host_added_in_the_admin_is_made_by_host_create(admin_client):
    response = admin_client.post("/admin/workers/host/add/", FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    host = Host.objects.get(name="hv1")
    assert (host.state, host.get_password(), host.endpoint) == (HostState.ENABLED, "Top-Secret-42", "hv1.example.test")


def test_host_create_refuses_a_host_without_a_password_and_saves_nothing(platform_admin):
    fields = {
        "name": "hv1",
        "endpoint": "hv1.example.test",
        "username": "svc",
        "logical_cpus": 8,
        "memory_mb": 65536,
        "storage_gb": 500,
    }
    for password in (None, ""):
        with pytest.raises(ValidationError) as refused:
            host_create(actor=platform_admin, password=password, **fields)
        assert refused.value.message_dict == {"password": ["A new host needs a password."]}
    with pytest.raises(ValidationError) as refused:
        host_create(actor=platform_admin, password="", **{**fields, "port": 0})
    assert set(refused.value.message_dict) == {"password", "port"}
    with pytest.raises(ValidationError) as refused:
        host_create(actor=platform_admin, password="secret", **fields, state=HostState.DRAINING)
    assert set(refused.value.message_dict) == {"state"}
    assert not Host.objects.exists()


def test_host_password_is_write_only(admin_client):
    form = {**FORM, "state": "enabled"}
    response = admin_client.post("/admin/workers/host/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    host = Host.objects.get(name="hv1")
    assert host.get_password() == "Top-Secret-42"
    page = admin_client.get(f"/admin/workers/host/{host.pk}/change/").content.decode()
    assert "Top-Secret-42" not in page and host.password_ciphertext not in page
    response = admin_client.post(f"/admin/workers/host/{host.pk}/change/", {**form, "new_password": ""})
    assert response.status_code == 302
    assert Host.objects.get(pk=host.pk).get_password() == "Top-Secret-42"


def test_the_admin_refuses_a_vm_root_the_host_would_refuse(admin_client):
    form = {
        **FORM,
        "username": "svc",
        "new_password": "pw",
        "vm_root": "C:\\Nestlab\\..\\Windows",
        "external_adapter": "Ethernet'2",
        "state": "enabled",
    }
    page = admin_client.post("/admin/workers/host/add/", form)
    assert page.status_code == 200 and not Host.objects.exists()
    text = page.content.decode()
    assert "VM root folder must be an absolute local Windows path" in text
    assert "Network adapter name may contain only" in text
