"""The lab lifecycle in motion: the only code that writes ``Lab.state`` and ``LabEvent``.

The states, events and the transition table are data in ``labs/states.py``. ``transition()`` does
a compare-and-set update (so two workers can never both move the same lab), appends a LabEvent,
and raises ``InvalidTransition`` for anything the table does not allow. ``lab_note()`` and
``lab_notes_add()`` append events that record something without changing the state.
"""

from __future__ import annotations

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
