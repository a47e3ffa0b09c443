"""Template writes the API needs that labs/services.py does not have yet (it belongs there)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from labs.models import LabTemplate

TEMPLATE_EDITABLE = ("name", "description", "self_service", "active")


@transaction.atomic
def template_update(*, template: LabTemplate, **fields) -> LabTemplate:
    """Change what is not the machine shape: name, description, self-service, retired or not.

    Shape changes go through ``template_revise`` (a new version). Raises ValidationError.
    """
    unknown = set(fields) - set(TEMPLATE_EDITABLE)
    if unknown:
        raise ValidationError({name: "Not editable here; shape changes add a version." for name in sorted(unknown)})
    template = LabTemplate.objects.select_for_update().get(pk=template.pk)
    for name, value in fields.items():
        setattr(template, name, value)
    template.full_clean()
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise ValidationError({"name": f"A template named {template.name!r} already exists here."}) from None
    return template
