"""The lab services ask tenants.permissions themselves, so every entry point (the API, the admin,
and the portal to come) gets the same answer: someone without the grant changes nothing."""

import pytest

from config.errors import NotAllowed
from labs.lifecycle import transition
from labs.models import Lab, LabCheckpoint, LabEvent
from labs.services import (
    lab_checkpoint,
    lab_checkpoint_remove,
    lab_delete,
    lab_request,
    lab_reset,
    lab_restore,
    lab_start,
    lab_stop,
)
from labs.states import LabEventName, LabState
from tests import factories


def _running(lab):
    transition(lab, LabEventName.PLACE)
    transition(lab, LabEventName.BUILT)
    return lab


def _stopped(lab):
    _running(lab)
    transition(lab, LabEventName.STOP)
    transition(lab, LabEventName.STOPPED)
    return lab


# operation, how to put the lab in a state the operation accepts, the call
OPERATIONS = {
    "start": (_stopped, lambda actor, lab: lab_start(actor=actor, lab=lab)),
    "stop": (_running, lambda actor, lab: lab_stop(actor=actor, lab=lab)),
    "reset": (_running, lambda actor, lab: lab_reset(actor=actor, lab=lab)),
    "checkpoint": (_running, lambda actor, lab: lab_checkpoint(actor=actor, lab=lab, name="before")),
    "restore": (_running, lambda actor, lab: lab_restore(actor=actor, lab=lab, name="kept")),
    "checkpoint_remove": (_running, lambda actor, lab: lab_checkpoint_remove(actor=actor, lab=lab, name="kept")),
    "delete": (_running, lambda actor, lab: lab_delete(actor=actor, lab=lab)),
}


@pytest.fixture
def student_lab(acme, acme_admin, acme_student, acme_template):
    lab = lab_request(actor=acme_admin, template=acme_template, owner=acme_student)
    LabCheckpoint.objects.create(lab=lab, name="kept")
    return lab


def _snapshot(lab):
    row = Lab.objects.get(pk=lab.pk)
    return row.state, LabEvent.objects.filter(lab=row).count(), sorted(row.checkpoints.values_list("name", flat=True))


REFUSALS = [
    *((operation, persona) for operation in OPERATIONS for persona in ("another_student", "globex_admin")),
    # The owner may operate (start, stop, reset) a lab they were given, but not change or delete it.
    *((operation, "owning_student") for operation in OPERATIONS if operation not in ("start", "stop", "reset")),
]


@pytest.mark.parametrize(("operation", "persona"), REFUSALS)
def test_someone_without_the_grant_is_refused_and_nothing_changes(
    operation, persona, student_lab, acme, acme_student, globex_admin
):
    prepare, call = OPERATIONS[operation]
    prepare(student_lab)
    actor = {
        "another_student": factories.member(acme, "acme-other", "student"),
        "globex_admin": globex_admin,
        "owning_student": acme_student,
    }[persona]
    before = _snapshot(student_lab)
    with pytest.raises(NotAllowed):
        call(actor, Lab.objects.get(pk=student_lab.pk))
    assert _snapshot(student_lab) == before


@pytest.mark.parametrize("operation", ["start", "stop", "reset"])
def test_the_owner_operates_their_own_lab(operation, student_lab, acme_student):
    prepare, call = OPERATIONS[operation]
    prepare(student_lab)
    lab = call(acme_student, Lab.objects.get(pk=student_lab.pk))
    assert lab.state in (LabState.STARTING, LabState.STOPPING, LabState.RESETTING)


def test_the_system_may_do_anything(student_lab):
    _running(student_lab)
    lab_stop(actor=None, lab=Lab.objects.get(pk=student_lab.pk), reason="schedule")
    assert Lab.objects.get(pk=student_lab.pk).state == LabState.STOPPING
