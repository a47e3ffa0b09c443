"""What every service module shares. No model imports here: the apps' services import this."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


def model_update(
    *,
    instance: models.Model,
    fields: dict,
    allowed: tuple[str, ...],
    refusal: str = "This cannot be changed here.",
) -> tuple[models.Model, list[str]]:
    """Set those of ``fields`` whose value differs from ``instance``'s, validate, and save only them.

    The partial update every ``<entity>_update`` service does (as in the HackSoft styleguide):

    * a name not in ``allowed`` raises ValidationError naming each such field (``refusal`` says
      why), before anything is set;
    * nothing changed: no validation, no write;
    * otherwise ``full_clean()`` (ValidationError naming the field and the rule; the row is not
      written) and ``save(update_fields=...)`` with the changed fields and any ``auto_now`` field.

    Returns the instance and the names of the fields it changed (empty when nothing did). The
    caller holds the transaction and, where two writers may meet, the row lock.
    """
    refused = sorted(set(fields) - set(allowed))
    if refused:
        raise ValidationError({name: refusal for name in refused})
    changed = [name for name, value in fields.items() if getattr(instance, name) != value]
    if not changed:
        return instance, []
    for name in changed:
        setattr(instance, name, fields[name])
    instance.full_clean()
    stamped = [f.name for f in instance._meta.concrete_fields if getattr(f, "auto_now", False)]
    instance.save(update_fields=[*changed, *(name for name in stamped if name not in changed)])
    return instance, changed
