"""What the API accepts, the host accepts: values a Hyper-V host would refuse are a 400 now,
naming the field and the rule, and change nothing (they used to fail the lab minutes later)."""

from __future__ import annotations

import pytest

from labs.models import Lab, LabCheckpoint, LabTemplate, LabTemplateVersion
from labs.states import LabState
from tenants.models import Tenant
from tests.api.conftest import HOST
from workers.models import Host

pytestmark = pytest.mark.django_db

TEMPLATE = {"name": "rules", "vcpus": 2, "memory_mb": 4096, "disk_gb": 10, "base_image_path": "C:\\Images\\base.vhdx"}


def _refused(response, field, words):
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body, body
    assert words in str(body[field]), body[field]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("a" * 101, "at most 100"),
        ("CON", "device name"),
        ("lpt1.before", "device name"),
        ("snap.", "must not end with a dot"),
        ("snap*", "may contain only"),
        ("before 'upgrade'", "may contain only"),
        ("Nestlab-clean", "reserved"),
        ("café", "may contain only"),
    ],
)
def test_a_checkpoint_name_the_host_would_refuse_is_a_400(world, api, name, words):
    response = api("admin").post(f"/api/v1/labs/{world.lab.pk}/checkpoint/", {"name": name}, format="json")
    _refused(response, "name", words)
    world.lab.refresh_from_db()
    assert world.lab.state == LabState.RUNNING and not LabCheckpoint.objects.filter(lab=world.lab).exists()


@pytest.mark.parametrize("name", ["before upgrade", "x" * 65 + " y", "a" * 100, "v1.2_final-3", "CONSOLE"])
def test_checkpoint_names_the_host_accepts_are_taken(world, api, name):
    response = api("admin").post(f"/api/v1/labs/{world.lab.pk}/checkpoint/", {"name": name}, format="json")
    assert response.status_code == 202, response.content
    assert Lab.objects.get(pk=world.lab.pk).state == LabState.CHECKPOINTING


def test_checkpoint_names_are_unique_ignoring_case(world, api):
    url = f"/api/v1/labs/{world.lab.pk}/checkpoint/"
    assert api("admin").post(url, {"name": "Snap"}, format="json").status_code == 202
    Lab.objects.filter(pk=world.lab.pk).update(state=LabState.RUNNING)
    _refused(api("admin").post(url, {"name": "SNAP"}, format="json"), "name", "already has a checkpoint")


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("base_image_path", "C:\\Images\\..\\base.vhdx", "no '..'"),
        ("base_image_path", "C:\\ Images\\base.vhdx", "no leading spaces"),
        ("base_image_path", "C:\\Images\\NUL\\base.vhdx", "device name"),
        ("base_image_path", "C:\\Images\\con.vhdx", "device name"),
        ("base_image_path", "C:\\Images\\base.iso", ".vhdx or .vhd"),
        ("memory_mb", 4097, "multiple of 2 MB"),
        ("config_version", "\u0669.0", "ASCII digits"),
        ("config_version", "\uff19.0", "ASCII digits"),
    ],
)
def test_a_template_value_the_host_would_refuse_is_a_400(world, api, field, value, words):
    response = api("admin").post("/api/v1/templates/", {**TEMPLATE, "tenant": "acme", field: value}, format="json")
    _refused(response, field, words)
    assert not LabTemplate.objects.filter(name="rules").exists()
    change = api("admin").patch(f"/api/v1/templates/{world.acme_template.pk}/", {field: value}, format="json")
    _refused(change, field, words)
    assert LabTemplateVersion.objects.filter(template=world.acme_template).count() == 1


@pytest.mark.parametrize(
    ("slug", "words"),
    [("con", "device name"), ("-dash", "start and end"), ("dash-", "start and end"), ("_x", "")],
)
def test_a_tenant_slug_the_host_would_refuse_is_a_400(world, api, slug, words):
    response = api("platform").post("/api/v1/tenants/", {"slug": slug, "name": "Bad"}, format="json")
    _refused(response, "slug", words)
    assert not Tenant.objects.filter(name="Bad").exists()


def test_tenant_slugs_are_stored_lower_case_and_unique_ignoring_case(world, api):
    created = api("platform").post("/api/v1/tenants/", {"slug": "Initech", "name": "Initech"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["slug"] == "initech" and Tenant.objects.filter(slug="initech").exists()
    _refused(
        api("platform").post("/api/v1/tenants/", {"slug": "ACME", "name": "Acme 2"}, format="json"),
        "slug",
        "already exists",
    )
    assert Tenant.objects.filter(slug__iexact="acme").count() == 1


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("vm_root", "C:\\Nestlab\\..\\Windows", "no '..'"),
        ("vm_root", "Nestlab\\Labs", "absolute local Windows path"),
        ("vm_root", "\\\\server\\share", "absolute local Windows path"),
        ("vm_root", "C:\\Labs\\aux", "device name"),
        ("external_adapter", "Ethernet'2", "may contain only"),
        ("external_adapter", "Ethernet*", "may contain only"),
    ],
)
def test_a_host_folder_or_adapter_the_host_would_refuse_is_a_400(world, api, field, value, words):
    _refused(api("platform").post("/api/v1/hosts/", {**HOST, field: value}, format="json"), field, words)
    assert not Host.objects.filter(name="hv02").exists()
    _refused(api("platform").patch(f"/api/v1/hosts/{world.host.pk}/", {field: value}, format="json"), field, words)


def test_a_plain_host_folder_and_adapter_are_accepted(world, api):
    body = {**HOST, "vm_root": "D:\\Hyper-V\\Labs (nested)", "external_adapter": "SLOT 3 Port 1"}
    assert api("platform").post("/api/v1/hosts/", body, format="json").status_code == 201
