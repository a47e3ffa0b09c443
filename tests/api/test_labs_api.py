"""Labs, templates and courses through the API: services called, mass assignment refused."""

from __future__ import annotations

import pytest

from labs.models import Lab, LabTemplateVersion
from workers.models import Host

pytestmark = pytest.mark.django_db


def test_lab_fast_representation_equals_the_declared_fields(world):
    from rest_framework import serializers as drf

    from labs.api.serializers import LabSerializer

    class Declared(LabSerializer):
        to_representation = drf.ModelSerializer.to_representation

    for lab in (world.lab, Lab.objects.select_related("host").get(pk=world.globex_lab.pk)):
        assert LabSerializer(lab).data == Declared(lab).data
    world.lab.host = None
    assert LabSerializer(world.lab).data == Declared(world.lab).data


def test_create_ignores_fields_the_caller_may_not_set(world, api):
    other_host = Host.objects.create(
        name="hv99", endpoint="hv99.example.test", username="x", logical_cpus=4, memory_mb=65536, storage_gb=100
    )
    response = api("student").post(
        "/api/v1/labs/",
        {
            "template": world.acme_template.pk,
            "name": "mine",
            "state": "running",
            "host": other_host.pk,
            "vm_name": "evil",
            "expires_at": "2099-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    lab = Lab.objects.get(pk=response.json()["id"])
    assert (lab.state, lab.host_id, lab.owner, lab.tenant) == ("requested", None, world.users["student"], world.acme)
    assert lab.vm_name == f"nestlab-{lab.pk}"
    assert lab.expires_at.year < 2099


def test_student_cannot_request_a_lab_for_someone_else(world, api):
    response = api("student").post(
        "/api/v1/labs/", {"template": world.acme_template.pk, "owner": world.users["student2"].pk}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "not_allowed"


def test_cannot_name_another_tenants_rows(world, api):
    response = api("admin").post(
        "/api/v1/labs/",
        {
            "template": world.acme_template.pk,
            "owner": world.users["globex_admin"].pk,
            "tenant": "globex",
            "course": world.globex_course.pk,
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"owner", "tenant", "course"}


def test_student_needs_a_self_service_template(world, api):
    world.acme_template.self_service = False
    world.acme_template.save()
    response = api("student").post("/api/v1/labs/", {"template": world.acme_template.pk}, format="json")
    assert response.status_code == 403


def test_instructor_requests_a_course_lab_for_a_student(world, api):
    newcomer = world.users["student2"]
    from labs.services import enrollment_add

    enrollment_add(course=world.course, student=newcomer)
    response = api("instructor").post(
        "/api/v1/labs/",
        {"template": world.acme_template.pk, "owner": newcomer.pk, "course": world.course.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    lab_id = response.json()["id"]
    # the student owner sees it, and so does the instructor of that course
    assert api("student2").get(f"/api/v1/labs/{lab_id}/").status_code == 200
    assert api("instructor").get(f"/api/v1/labs/{lab_id}/").status_code == 200
    assert api("instructor2").get(f"/api/v1/labs/{lab_id}/").status_code == 404


def test_list_filters_and_orders(world, api):
    client = api("admin")
    assert client.get("/api/v1/labs/?state=running").json()["count"] == 2
    assert client.get("/api/v1/labs/?state=stopped").json()["count"] == 0
    assert client.get(f"/api/v1/labs/?course={world.course2.pk}").json()["results"][0]["id"] == str(world.lab2.pk)
    names = [row["name"] for row in client.get("/api/v1/labs/?ordering=-name").json()["results"]]
    assert names == sorted(names, reverse=True)
    assert client.get("/api/v1/labs/?tenant=globex").json()["count"] == 0  # no leak through filters


def test_lifecycle_action_returns_202_with_the_lab(world, api):
    response = api("student").post(f"/api/v1/labs/{world.lab.pk}/stop/")
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "stopping"
    events = api("student").get(f"/api/v1/labs/{world.lab.pk}/events/").json()["results"]
    assert [e["event"] for e in events][-1] == "stop"


def test_connection_gives_an_rdp_file_with_the_vm_id_when_known(world, api):
    # the worker stores the GUID the host reports on the lab when it builds the VM
    Lab.objects.filter(pk=world.lab.pk).update(vm_id="7c0a6c5e-3c4e-4f7a-9d1e-0a1b2c3d4e5f")
    body = api("student").get(f"/api/v1/labs/{world.lab.pk}/connection/").json()
    assert body["host"] == "hv01.example.test" and body["port"] == 2179
    assert body["vm_id"] == "7c0a6c5e-3c4e-4f7a-9d1e-0a1b2c3d4e5f"
    assert "pcb:s:7c0a6c5e-3c4e-4f7a-9d1e-0a1b2c3d4e5f" in body["rdp"]
    rdp = api("student").get(f"/api/v1/labs/{world.lab.pk}/connection/?format=rdp")
    assert rdp.status_code == 200
    assert rdp["Content-Type"].startswith("application/x-rdp")
    assert rdp["Content-Disposition"] == f'attachment; filename="{world.lab.vm_name}.rdp"'
    assert b"full address:s:hv01.example.test:2179\r\n" in rdp.content


def test_connection_falls_back_to_the_vm_name(world, api):
    body = api("student").get(f"/api/v1/labs/{world.lab.pk}/connection/").json()
    assert body["vm_id"] is None
    assert f"pcb:s:{world.lab.vm_name}" in body["rdp"]


def test_connection_needs_a_vm(world, api):
    Lab.objects.filter(pk=world.lab.pk).update(state="requested", host=None)
    response = api("student").get(f"/api/v1/labs/{world.lab.pk}/connection/?format=rdp")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/json"


def test_editing_a_template_shape_adds_a_version(world, api):
    response = api("admin").patch(f"/api/v1/templates/{world.acme_template.pk}/", {"memory_mb": 8192}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["latest"]["version"] == 2
    assert response.json()["latest"]["memory_mb"] == 8192
    assert LabTemplateVersion.objects.filter(template=world.acme_template).count() == 2
    assert world.lab.template_version.version == 1


def test_editing_template_settings_does_not_add_a_version(world, api):
    response = api("admin").patch(
        f"/api/v1/templates/{world.acme_template.pk}/",
        {"self_service": False, "description": "Windows Server 2022"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["self_service"], response.json()["latest"]["version"]) == (False, 1)
    # and students can no longer self-serve from it
    assert api("student").post("/api/v1/labs/", {"template": world.acme_template.pk}, format="json").status_code == 403


def test_only_platform_admins_make_global_templates(world, api):
    body = {
        "name": "global-one",
        "vcpus": 2,
        "memory_mb": 4096,
        "disk_gb": 10,
        "base_image_path": "C:\\Images\\base.vhdx",
    }
    assert api("admin").post("/api/v1/templates/", body, format="json").status_code == 400
    created = api("platform").post("/api/v1/templates/", body, format="json")
    assert created.status_code == 201 and created.json()["tenant"] is None
    # every member of every tenant can read it
    assert api("globex_admin").get(f"/api/v1/templates/{created.json()['id']}/").status_code == 200
    assert api("student").get(f"/api/v1/templates/{created.json()['id']}/").status_code == 200


def test_course_instructors_must_be_members(world, api):
    response = api("admin").post(
        "/api/v1/courses/",
        {
            "tenant": "acme",
            "name": "X",
            "template": world.acme_template.pk,
            "instructors": [world.users["globex_admin"].pk],
            "starts_at": "2030-01-01T00:00:00Z",
            "ends_at": "2030-01-02T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "instructors" in response.json()


def test_new_course_grants_its_instructor(world, api):
    response = api("admin").post(
        "/api/v1/courses/",
        {
            "tenant": "acme",
            "name": "New",
            "template": world.acme_template.pk,
            "instructors": [world.users["instructor2"].pk],
            "starts_at": "2030-01-01T00:00:00Z",
            "ends_at": "2030-01-02T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    course_id = response.json()["id"]
    assert api("instructor2").get(f"/api/v1/courses/{course_id}/enrollments/").status_code == 200
    assert api("instructor").get(f"/api/v1/courses/{course_id}/").status_code == 404


def test_an_instructors_issue_dry_run_names_no_host_and_says_whether_the_class_fits(world, api):
    Lab.objects.filter(pk=world.lab.pk).update(state="deleted")  # the student needs a lab again
    response = api("instructor").post(f"/api/v1/courses/{world.course.pk}/issue/?dry_run=1")
    assert response.status_code == 200, response.content
    body = response.json()
    assert "hv01" not in response.content.decode()
    assert body["capacity_left"] == [] and all("host" not in entry for entry in body["labs"])
    assert (body["fits"], body["capacity"]) == (1, "room for the 1 lab")


def test_a_platform_admins_issue_dry_run_shows_the_hosts(world, api):
    Lab.objects.filter(pk=world.lab.pk).update(state="deleted")  # the student needs a lab again
    response = api("platform").post(f"/api/v1/courses/{world.course.pk}/issue/?dry_run=1")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [entry["host"] for entry in body["labs"]] == ["hv01"]
    assert [row["host"] for row in body["capacity_left"]] == ["hv01"]
    assert body["capacity"] == "room for the 1 lab"
