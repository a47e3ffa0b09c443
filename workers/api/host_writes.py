"""Creating and editing host records from the API (the admin does the same through its form).

These belong beside host_drain/host_enable in ``workers/services/hosts.py``; they live here until
that module grows them. The password is encrypted before it reaches the row and is never returned.
"""

from __future__ import annotations

from django.db import transaction

from workers.models import Host


@transaction.atomic
def host_create(*, actor, password: str, **fields) -> Host:
    """Add a host (enabled). Raises ValidationError naming the field."""
    host = Host(**fields)
    host.set_password(password)
    host.full_clean()
    host.save()
    return host


@transaction.atomic
def host_update(*, actor, host: Host, password: str | None = None, **fields) -> Host:
    """Change a host's connection or capacity settings; a blank password keeps the stored one."""
    host = Host.objects.select_for_update().get(pk=host.pk)
    for name, value in fields.items():
        setattr(host, name, value)
    if password:
        host.set_password(password)
    host.full_clean()
    host.save()
    return host
