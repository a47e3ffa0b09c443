from collections import deque

import pytest

from config.errors import InvalidTransition
from labs import states
from labs.lifecycle import transition
from labs.models import LabEvent
from labs.states import INITIAL, LIVE, STABLE, TRANSIENT, TRANSITIONS, LabEventName, LabState


def test_every_state_is_reachable_from_the_initial_state():
    seen = {INITIAL}
    queue = deque([INITIAL])
    while queue:
        state = queue.popleft()
        for (source, _event), target in TRANSITIONS.items():
            if source == state and target not in seen:
                seen.add(target)
                queue.append(target)
    assert seen == set(LabState.values)


def test_named_sets_partition_the_states():
    assert STABLE.isdisjoint(TRANSIENT)
    assert STABLE | TRANSIENT == set(LabState.values)
    assert LabState.DELETED not in LIVE and LabState.FAILED not in LIVE


def test_every_transient_state_can_fail_and_every_live_state_can_be_deleted():
    for state in TRANSIENT:
        assert TRANSITIONS[(state, LabEventName.FAIL)] == LabState.FAILED
    for state in LIVE - {LabState.DELETING}:
        assert TRANSITIONS[(state, LabEventName.DELETE)] == LabState.DELETING


def test_deleted_is_final():
    assert not [key for key in TRANSITIONS if key[0] == LabState.DELETED]


@pytest.mark.parametrize("state", LabState.values)
def test_every_pair_outside_the_table_is_refused(state):
    for event in LabEventName.values:
        if (state, event) in TRANSITIONS:
            assert states.target_of(state, event) == TRANSITIONS[(state, event)]
        else:
            with pytest.raises(InvalidTransition, match=f"A lab that is {state} cannot {event}"):
                states.target_of(state, event)


@pytest.fixture
def lab(acme, acme_admin, acme_template):
    from labs.services import lab_request

    return lab_request(actor=acme_admin, template=acme_template)


def test_transition_writes_the_state_and_one_event(lab, acme_admin, db):
    transition(lab, LabEventName.PLACE, actor=acme_admin, message="placed")
    lab.refresh_from_db()
    assert lab.state == LabState.PROVISIONING
    event = LabEvent.objects.filter(lab=lab).order_by("-id").first()
    assert (event.event, event.from_state, event.to_state, event.actor) == (
        "place",
        "requested",
        "provisioning",
        acme_admin,
    )


def test_illegal_transition_changes_nothing(lab, db):
    events_before = LabEvent.objects.filter(lab=lab).count()
    with pytest.raises(InvalidTransition):
        transition(lab, LabEventName.STOP)
    lab.refresh_from_db()
    assert lab.state == LabState.REQUESTED
    assert LabEvent.objects.filter(lab=lab).count() == events_before


def test_a_stale_copy_loses_the_compare_and_set(lab, db):
    from labs.models import Lab

    stale = Lab.objects.get(pk=lab.pk)
    transition(lab, LabEventName.PLACE)
    with pytest.raises(InvalidTransition, match="changed from requested to provisioning"):
        transition(stale, LabEventName.PLACE)
    assert stale.state == LabState.PROVISIONING
    assert LabEvent.objects.filter(lab=lab, event="place").count() == 1


def test_events_are_append_only(lab, db):
    event = LabEvent.objects.filter(lab=lab).first()
    event.message = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


def test_state_diagram_lists_every_transition():
    diagram = states.state_diagram()
    assert diagram.startswith("stateDiagram-v2")
    labelled = {}
    for line in diagram.splitlines()[2:-1]:
        edge, events = line.strip().split(": ")
        source, target = edge.split(" --> ")
        for event in events.split(", "):
            labelled[(source, event)] = target
    assert labelled == TRANSITIONS
    assert "requested --> provisioning: place" in diagram


def test_the_readme_shows_the_diagram_generated_from_the_table():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert states.state_diagram() in readme, "regenerate it with `python manage.py lab_states`"


def test_unless_moved_on_steps_aside_only_for_a_lab_someone_else_moved(acme, acme_admin, acme_template):
    from labs.lifecycle import unless_moved_on
    from labs.services import lab_request

    lab = lab_request(actor=acme_admin, template=acme_template)
    with unless_moved_on() as moved:
        transition(lab, LabEventName.START)  # not allowed from requested
        raise AssertionError("the block stops at the refused transition")
    assert moved and isinstance(moved.error, InvalidTransition)

    with unless_moved_on() as moved:
        transition(lab, LabEventName.DELETE)
    assert not moved and lab.state == LabState.DELETING

    with pytest.raises(ValueError), unless_moved_on():
        raise ValueError("other errors pass through")
