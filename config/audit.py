"""One structured log line per change a service makes: who did it, to what, and what changed.

Every service that changes a tenant, membership, quota, template, course or host calls
``audit_log``; lab changes are recorded as LabEvents (``labs.lifecycle``). The line carries the
fields in ``extra`` (``actor``, ``actor_id``, ``change``, ``object``, and the change's own
details), so a JSON log formatter or a later audit table can take them as they are. Never pass
a secret in ``details``: name the fields that changed instead.
"""

from __future__ import annotations

import logging

SYSTEM = "system"
"""The actor of changes no person made (the beat's schedules, the reconciler, commands)."""


def actor_name(actor) -> str:
    if actor is None:
        return SYSTEM
    return getattr(actor, "username", None) or str(actor)


def object_label(obj) -> str:
    """``app.model:pk``, e.g. ``workers.host:3``."""
    return f"{obj._meta.label_lower}:{obj.pk}"


def audit_log(log: logging.Logger, change: str, *, actor, obj, **details) -> None:
    """Log that ``actor`` made ``change`` to ``obj`` (at INFO, with the fields in ``extra``)."""
    who = actor_name(actor)
    what = object_label(obj)
    log.info(
        "%s: %s by %s",
        change,
        what,
        who,
        extra={"actor": who, "actor_id": getattr(actor, "pk", None), "change": change, "object": what, **details},
    )
