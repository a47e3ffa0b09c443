"""The lab lifecycle in motion: the only code that writes ``Lab.state`` and ``LabEvent``.

The states, events and the transition table are data in ``labs/states.py``. ``transition()`` does
a compare-and-set update (so two workers can never both move the same lab), appends a LabEvent,
and raises ``InvalidTransition`` for anything the table does not allow. ``lab_note()`` and
``lab_notes_add()`` append events that record something without changing the state.
``unless_moved_on()`` is how background work steps aside when someone else moved a lab first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from config.errors import InvalidTransition
from labs.models import Lab, LabEvent
from labs.states import target_of


def transition(lab, event: str, *, actor=None, message: str = "", **changes):
    """Move ``lab`` along ``event`` by compare-and-set, and append the LabEvent.

    ``changes`` are other Lab fields written in the same UPDATE (for example ``host`` or
    ``last_error``). Raises InvalidTransition if the table forbids the move, or if another
    process moved the lab first (the in-memory ``lab`` is then refreshed). Returns the lab,
    updated in place.
    """
    source = lab.state
    target = target_of(source, event)
    now = timezone.now()
    # No savepoint inside a caller's transaction (two fewer round trips): a lost compare-and-set
    # is raised after the block, so it never poisons the caller's transaction; a database error
    # inside it aborts the caller's transaction anyway, as it should.
    with transaction.atomic(savepoint=False):
        updated = Lab.objects.filter(pk=lab.pk, state=source).update(
            state=target, state_changed_at=now, updated_at=now, **changes
        )
        if updated == 1:
            LabEvent.objects.create(
                lab_id=lab.pk, at=now, actor=actor, event=event, from_state=source, to_state=target, message=message
            )
    if updated != 1:
        lab.refresh_from_db(fields=["state"])
        raise InvalidTransition(
            f"The lab changed from {source} to {lab.state} while '{event}' was being applied; try again.",
            state=lab.state,
            event=event,
        )
    lab.state = target
    lab.state_changed_at = now
    lab.updated_at = now
    for field, value in changes.items():
        setattr(lab, field, value)
    return lab


def lab_note(*, lab: Lab, event: str, message: str = "", actor=None) -> LabEvent:
    """Append an event that records something without changing the state (a build step, a warning)."""
    return LabEvent.objects.create(
        lab_id=lab.pk,
        at=timezone.now(),
        actor=actor,
        event=event,
        from_state=lab.state,
        to_state=lab.state,
        message=message,
    )


def lab_notes_add(*, lab: Lab, events) -> None:
    """Append several state-keeping events at once: ``events`` is a list of (event, when)."""
    LabEvent.objects.bulk_create(
        LabEvent(lab_id=lab.pk, at=when, event=event, from_state=lab.state, to_state=lab.state)
        for event, when in events
    )


@dataclass
class MovedOn:
    """What ``unless_moved_on`` saw: the refusal, if the lab had moved on (else None)."""

    error: InvalidTransition | None = None

    def __bool__(self) -> bool:
        return self.error is not None


@contextmanager
def unless_moved_on() -> Iterator[MovedOn]:
    """Run the block, and treat an ``InvalidTransition`` in it as "someone else moved the lab first".

    Background work (the reconciler, the schedules, a task whose lab was deleted meanwhile) uses
    it: the other move owns the lab now, so the block simply stops, and nothing is raised. The
    yielded ``MovedOn`` is truthy afterwards when that happened, and holds the refusal::

        with unless_moved_on() as moved:
            transition(lab, event)
            return True
        return False
    """
    outcome = MovedOn()
    try:
        yield outcome
    except InvalidTransition as exc:
        outcome.error = exc
