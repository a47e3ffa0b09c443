"""DELETE /api/v1/labs/{id}/checkpoints/{name}/: lab_checkpoint_remove through the API (who may call
it is in the permission matrix)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from labs.models import Lab, LabCheckpoint

pytestmark = pytest.mark.django_db


def _url(lab, name: str) -> str:
    return f"/api/v1/labs/{lab.pk}/checkpoints/{quote(name)}/"


def test_a_named_checkpoint_is_removed_through_the_service(world, api, django_capture_on_commit_callbacks):
    LabCheckpoint.objects.create(lab=world.lab, name="before exam.v2")
    with django_capture_on_commit_callbacks() as sent:
        response = api("instructor").delete(_url(world.lab, "before exam.v2"))
    assert response.status_code == 202, response.content
    assert response.json()["id"] == str(world.lab.pk)
    event = world.lab.events.get(event="checkpoint_remove")
    assert (event.message, event.actor) == ("before exam.v2", world.users["instructor"])
    assert len(sent) == 1  # the removal task, once the transaction commits


def test_an_unknown_checkpoint_is_refused_naming_it(world, api):
    response = api("admin").delete(_url(world.lab, "nope"))
    assert response.status_code == 400
    assert response.json() == {"name": ["This lab has no checkpoint named 'nope'."]}
    assert not world.lab.events.filter(event="checkpoint_remove").exists()


def test_a_busy_lab_cannot_remove_checkpoints(world, api):
    LabCheckpoint.objects.create(lab=world.lab, name="cp0")
    Lab.objects.filter(pk=world.lab.pk).update(state="resetting")
    response = api("admin").delete(_url(world.lab, "cp0"))
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


@pytest.mark.parametrize("name", ["a\x00b", "nestlab-clean", " ", "x" * 101])
def test_a_name_no_checkpoint_can_have_is_refused_by_the_rule(world, api, name):
    response = api("admin").delete(_url(world.lab, name))
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
