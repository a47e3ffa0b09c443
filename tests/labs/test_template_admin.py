"""The template admin goes through the template services, as the API does: adding a template makes
its version 1 (``template_create``), a shape edit adds a version (``template_revise``), and the
versions themselves are read-only, numbered by the services."""

import pytest

from labs.models import LabTemplate, LabTemplateVersion

pytestmark = pytest.mark.django_db

IMAGE = r"C:\NestlabImages\win2022-base.vhdx"
SHAPE = {
    "vcpus": 4,
    "memory_mb": 8192,
    "disk_gb": 60,
    "base_image_path": IMAGE,
    "generation": 2,
    "config_version": "9.0",
    "secure_boot": "MicrosoftWindows",
    "network_scope": "tenant",
    "network_mode": "private",
    "default_lifetime": "7 00:00:00",
    "max_continuous_running": "",
}


@pytest.fixture
def admin_client(client, platform_admin):
    client.force_login(platform_admin)
    return client


def _versions(template, *rows):
    """The read-only inline's management form, with its existing rows."""
    data = {"versions-TOTAL_FORMS": len(rows), "versions-INITIAL_FORMS": len(rows)}
    for i, row in enumerate(rows):
        data[f"versions-{i}-id"] = row.pk
        data[f"versions-{i}-template"] = template.pk
    return data


def _change(admin_client, template, **edits):
    rows = list(template.versions.order_by("pk"))
    form = {
        "name": template.name,
        "description": template.description,
        "active": "on",
        **SHAPE,
        **_versions(template, *rows),
        **edits,
    }
    return admin_client.post(f"/admin/labs/labtemplate/{template.pk}/change/", form)


def test_a_template_added_in_the_admin_gets_its_version_1(admin_client, acme):
    response = admin_client.post(
        "/admin/labs/labtemplate/add/",
        {
            "tenant": acme.pk,
            "name": "admin-made",
            "description": "",
            "active": "on",
            **SHAPE,
            "versions-TOTAL_FORMS": 0,
            "versions-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    template = LabTemplate.objects.get(name="admin-made")
    version = template.versions.get()
    assert (version.version, version.vcpus, version.memory_mb, version.disk_gb) == (1, 4, 8192, 60)


def test_a_bad_shape_is_refused_on_its_field_and_nothing_is_made(admin_client, acme):
    response = admin_client.post(
        "/admin/labs/labtemplate/add/",
        {
            "tenant": acme.pk,
            "name": "too-small",
            "active": "on",
            **SHAPE,
            "vcpus": 1,
            "memory_mb": 512,
            "versions-TOTAL_FORMS": 0,
            "versions-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["vcpus"] == ["Nested virtualization needs at least 2 vCPUs."]
    assert "memory_mb" in errors
    assert not LabTemplate.objects.filter(name="too-small").exists()


def test_a_shape_edit_in_the_admin_adds_a_version_and_keeps_the_old_one(admin_client, acme_template):
    assert _change(admin_client, acme_template, vcpus=8).status_code == 302
    first, second = acme_template.versions.order_by("version")
    assert (first.version, first.vcpus) == (1, 2)  # labs built from it keep it
    assert (second.version, second.vcpus, second.memory_mb) == (2, 8, 8192)


def test_editing_only_the_name_adds_no_version(admin_client, acme_template):
    latest = acme_template.versions.get()
    shape = {name: getattr(latest, name) for name in ("vcpus", "memory_mb", "disk_gb")}
    response = _change(admin_client, acme_template, name="renamed", **shape)
    assert response.status_code == 302, response.content.decode()[:3000]
    acme_template.refresh_from_db()
    assert acme_template.name == "renamed"
    assert acme_template.versions.count() == 1


def test_versions_cannot_be_added_or_changed_by_hand_in_the_admin(admin_client, acme_template):
    version = acme_template.versions.get()
    latest = {name: getattr(version, name) for name in ("vcpus", "memory_mb", "disk_gb")}
    form = {
        "name": acme_template.name,
        "active": "on",
        **SHAPE,
        **latest,
        "versions-TOTAL_FORMS": 2,
        "versions-INITIAL_FORMS": 1,
        "versions-0-id": version.pk,
        "versions-0-template": acme_template.pk,
        "versions-0-version": 1,
        "versions-0-vcpus": 16,
        "versions-1-template": acme_template.pk,
        "versions-1-version": 7,
        **{f"versions-1-{name}": value for name, value in SHAPE.items()},
    }
    admin_client.post(f"/admin/labs/labtemplate/{acme_template.pk}/change/", form)
    assert list(acme_template.versions.values_list("version", "vcpus")) == [(1, 2)]


def test_a_template_without_versions_gets_version_1_from_the_admin(admin_client, acme):
    bare = LabTemplate.objects.create(tenant=acme, name="bare")  # as the old admin could leave one
    assert _change(admin_client, bare).status_code == 302
    assert list(LabTemplateVersion.objects.filter(template=bare).values_list("version", "vcpus")) == [(1, 4)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("vcpus", 1),
        ("vcpus", 241),
        ("memory_mb", 1024),
        ("memory_mb", 12 * 1024 * 1024 + 1),
        ("disk_gb", 65537),
        ("default_lifetime", "366 00:00:00"),
        ("config_version", "9;x"),
    ],
)
def test_the_api_and_the_admin_refuse_a_shape_with_the_same_words(admin_client, platform_admin, acme, field, value):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(platform_admin)
    body = {"tenant": "acme", "name": "shape-check", **SHAPE, "max_continuous_running": None, field: value}
    refused_by_api = api.post("/api/v1/templates/", body, format="json")
    assert refused_by_api.status_code == 400
    page = admin_client.post(
        "/admin/labs/labtemplate/add/",
        {
            "tenant": acme.pk,
            "name": "shape-check",
            "active": "on",
            **SHAPE,
            field: value,
            "versions-TOTAL_FORMS": 0,
            "versions-INITIAL_FORMS": 0,
        },
    )
    assert page.status_code == 200
    assert refused_by_api.json()[field] == page.context["adminform"].form.errors[field]
    assert not LabTemplate.objects.filter(name="shape-check").exists()
