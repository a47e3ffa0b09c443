"""Host administration: add and edit hosts, drain and enable them, and run the host doctor."""

from __future__ import annotations

import logging
import socket
from dataclasses import asdict, replace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from config.audit import audit_log
from config.services import model_update
from labs.models import LabTemplateVersion
from tenants import permissions as tenant_permissions
from workers import crypto
from workers.dispatch import TaskName, send_host_task_on_commit
from workers.hyperv.doctor import Check, doctor_checks
from workers.hyperv.errors import HypervisorError
from workers.models import Host, HostState
from workers.services.hostcalls import driver_for

log = logging.getLogger(__name__)

#: What an operator sets on a host (API and admin). Its state changes only through drain and enable.
HOST_EDITABLE = (
    "name",
    "endpoint",
    "port",
    "transport",
    "use_tls",
    "username",
    "site",
    "logical_cpus",
    "memory_mb",
    "memory_reserved_mb",
    "storage_gb",
    "vcpu_overcommit",
    "max_parallel_operations",
    "vm_root",
    "external_adapter",
)


def host_password_check(*, password: str | None) -> None:
    """A new host needs a password (an edit may leave it blank to keep the stored one).

    Raises ValidationError naming ``password``. ``host_create`` applies it; a form that must
    refuse before anything is saved (the admin's) calls it from its own validation.
    """
    if not password:
        raise ValidationError({"password": "A new host needs a password."})


@transaction.atomic
def host_create(*, actor, password: str | None = None, **fields) -> Host:
    """Add a host (enabled). The password is encrypted before it reaches the row.

    Raises NotAllowed unless the actor is a platform admin, ValidationError naming each refused
    field (the password's rule is ``host_password_check``); nothing is saved then.
    """
    tenant_permissions.require(actor, "host.manage", None)
    refused = sorted(set(fields) - set(HOST_EDITABLE))
    if refused:
        raise ValidationError({name: "This cannot be set here." for name in refused})
    host = Host(**fields)
    errors = {}
    try:
        host_password_check(password=password)
        host.set_password(password)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        host.full_clean()
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    host.save()
    audit_log(log, "host added", actor=actor, obj=host, host=host.name, fields=sorted(fields))
    return host


@transaction.atomic
def host_update(*, actor, host: Host, password: str | None = None, **fields) -> Host:
    """Change a host's connection or capacity settings (``HOST_EDITABLE``); a blank password keeps
    the stored one.

    Raises NotAllowed unless the actor is a platform admin, ValidationError naming the field for
    bad fields; nothing changes then."""
    tenant_permissions.require(actor, "host.manage", host)
    host = Host.objects.select_for_update(no_key=True, of=("self",)).get(pk=host.pk)
    if password:
        fields = {**fields, "password_ciphertext": crypto.encrypt(password)}
    host, _ = model_update(instance=host, fields=fields, allowed=(*HOST_EDITABLE, "password_ciphertext"))
    # Names of the fields, never their values: the password must not reach a log.
    audit_log(
        log,
        "host changed",
        actor=actor,
        obj=host,
        host=host.name,
        fields=sorted(name for name in fields if name != "password_ciphertext"),
        password_changed=bool(password),
    )
    return host


class HostChange(models.TextChoices):
    """What moves a host between enabled, draining and offline (see ``host_state_change``)."""

    DRAIN = "drain"  # an admin: take no new labs
    ENABLE = "enable"  # an admin: take new labs again
    LOST = "lost"  # the reconciler: the host does not answer
    ANSWERED = "answered"  # the reconciler: the host answers


def _states_after(state: str, resume_state: str, change: str) -> tuple[str, str]:
    """(state, resume_state) after ``change``. An offline host keeps what it returns to in
    ``resume_state``: an admin's drain or enable while it is offline changes only that, and it
    takes effect when the host answers again."""
    if change in (HostChange.DRAIN, HostChange.ENABLE):
        wanted = HostState.DRAINING if change == HostChange.DRAIN else HostState.ENABLED
        return (state, wanted) if state == HostState.OFFLINE else (wanted, resume_state)
    if change == HostChange.LOST:
        return (state, resume_state) if state == HostState.OFFLINE else (HostState.OFFLINE, state)
    if state == HostState.OFFLINE:  # answered
        return resume_state or HostState.ENABLED, ""
    return state, resume_state


@transaction.atomic
def host_state_change(*, actor, host: Host, change: str, **fields) -> Host:
    """Apply ``change`` to the host's state under its row lock, with other ``fields`` (last_error,
    last_seen) in the same save. The only code that moves a host between enabled, draining and
    offline; idempotent. Logs who did it when the state changes."""
    locked = Host.objects.select_for_update(no_key=True, of=("self",)).get(pk=host.pk)
    was = (locked.state, locked.resume_state)
    locked.state, locked.resume_state = _states_after(locked.state, locked.resume_state, change)
    after = (locked.state, locked.resume_state)
    changed = [name for name, old, new in zip(("state", "resume_state"), was, after, strict=True) if old != new]
    for name, value in fields.items():
        setattr(locked, name, value)
    if changed or fields:
        locked.save(update_fields=[*changed, *fields])
    if changed:
        audit_log(
            log,
            f"host {change}",
            actor=actor,
            obj=locked,
            host=locked.name,
            was=was[0],
            state=locked.state,
            resume_state=locked.resume_state,
        )
    return locked


def host_drain(*, actor, host: Host) -> Host:
    """Take no new labs on this host; the labs it has keep running. An offline host stays drained
    when it answers again. Idempotent. Raises NotAllowed unless the actor is a platform admin."""
    tenant_permissions.require(actor, "host.manage", host)
    return host_state_change(actor=actor, host=host, change=HostChange.DRAIN)


def host_enable(*, actor, host: Host) -> Host:
    """Take new labs again. An offline host is enabled once the reconciler hears from it.
    Idempotent. Raises NotAllowed unless the actor is a platform admin."""
    tenant_permissions.require(actor, "host.manage", host)
    return host_state_change(actor=actor, host=host, change=HostChange.ENABLE)


def host_doctor_request(*, actor, host: Host) -> None:
    """Run the doctor on a worker (it talks to the host); the report lands on the Host row.

    Raises NotAllowed unless the actor is a platform admin."""
    tenant_permissions.require(actor, "host.manage", host)
    send_host_task_on_commit(TaskName.HOST_DOCTOR, host)
    audit_log(log, "host doctor requested", actor=actor, obj=host, host=host.name)


def base_images_in_use() -> list[str]:
    """Every base image a current template version needs, so the doctor checks each."""
    return sorted(
        set(LabTemplateVersion.objects.filter(template__active=True).values_list("base_image_path", flat=True))
    )


def config_versions_in_use() -> list[str]:
    """Every configuration version a current template version asks for, so the doctor checks
    each against the versions the host supports."""
    return sorted(
        set(LabTemplateVersion.objects.filter(template__active=True).values_list("config_version", flat=True))
    )


def management_addresses(endpoint: str) -> list[str]:
    """The addresses the worker reaches ``endpoint`` at: what must stay on the host's management
    NIC. Empty if the name does not resolve here (the connect check then says so)."""
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(endpoint, None)})
    except OSError:
        return []


def host_doctor_run(*, host_id: int) -> list[Check]:
    """Connect, gather facts, and judge every requirement for nested labs. Stores both on the Host.

    Never raises for host trouble: a host that cannot be reached gets a failed 'connect' check
    that says why. Base images are checked after the facts, in their own scripts, so a template's
    image path (refused, or one too many) fails only the base-images check and never hides the
    state of the host.
    """
    host = Host.objects.get(pk=host_id)
    images = base_images_in_use()
    driver = driver_for(host)
    images_error = None
    readiness = None
    readiness_error = None
    try:
        with driver.session():
            facts = driver.host_facts([])
            try:
                readiness = driver.host_readiness(external_adapter=host.external_adapter or None)
            except HypervisorError as exc:
                readiness_error = f"{type(exc).__name__}: {exc.host_message}"
            try:
                facts = replace(facts, base_images=tuple(driver.base_images_present(images)))
            except HypervisorError as exc:
                images_error = f"{type(exc).__name__}: {exc.host_message}"
    except HypervisorError as exc:
        checks = [
            Check(
                "connect",
                "fail",
                f"{type(exc).__name__}: {exc.host_message}",
                "Check the endpoint, port, transport and credentials, and that WinRM listens.",
            )
        ]
        Host.objects.filter(pk=host_id).update(doctor_report=[asdict(check) for check in checks])
        return checks
    checks = doctor_checks(
        facts,
        transport=host.transport,
        use_tls=host.use_tls,
        is_simulator=host.transport == "plaintext" and settings.NESTLAB_ALLOW_PLAINTEXT_WINRM,
        base_images=images,
        base_images_error=images_error,
        readiness=readiness,
        username=host.username,
        vm_root=host.vm_root,
        template_versions=config_versions_in_use(),
        external_adapter=host.external_adapter or None,
        management_addresses=management_addresses(host.endpoint),
    )
    if readiness_error is not None:
        checks.append(
            Check(
                "readiness",
                "fail",
                f"The host could not answer the readiness questions: {readiness_error}",
                "Run the doctor again; if it fails the same way, send this report (deploy/REAL_HOST.md).",
            )
        )
    Host.objects.filter(pk=host_id).update(
        facts=_jsonable({**asdict(facts), "readiness": asdict(readiness) if readiness else None}),
        doctor_report=[asdict(check) for check in checks],
        last_seen=timezone.now(),
    )
    return checks


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value
