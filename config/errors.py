"""The one family of Nestlab's errors, and every domain error.

``NestlabError`` is the root. Its two branches:

- ``DomainError``: what services raise. The API's exception handler turns these into 4xx answers
  with a machine-readable ``code``; the ``message`` is written to be shown to a person as it is.
- ``workers.hyperv.errors.HypervisorError``: what a hypervisor driver raises, with the host's own
  words in ``host_message`` (that module keeps them beside the drivers, which import no Django).

Celery tasks retry only errors marked ``transient``. Every message is written for the person who
has to act on it. This module imports nothing (no Django), so the drivers may use it.
"""

from __future__ import annotations

from typing import ClassVar


class NestlabError(Exception):
    """Root of every error Nestlab raises on purpose. ``transient``: retrying can help."""

    transient: ClassVar[bool] = False


class DomainError(NestlabError):
    """Base of every error a service raises for a user or operator to see."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, **detail):
        super().__init__(message)
        self.message = message
        self.detail = detail

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **self.detail}


class QuotaExceeded(DomainError):
    """A request would take a tenant, student or course past one of its limits."""

    code = "quota_exceeded"
    http_status = 409

    def __init__(self, *, quota: str, used: float, requested: float, limit: float, unit: str = ""):
        suffix = f" {unit}" if unit else ""
        super().__init__(
            f"Quota '{quota}' exceeded: {used:g}{suffix} in use + {requested:g}{suffix} requested "
            f"> limit {limit:g}{suffix}.",
            quota=quota,
            used=used,
            requested=requested,
            limit=limit,
        )


class InvalidTransition(DomainError):
    """The lab is not in a state that allows the action."""

    code = "invalid_transition"
    http_status = 409


class NoCapacity(DomainError):
    """No enabled host has room for the lab right now. Capacity frees up, so this is transient."""

    code = "no_capacity"
    http_status = 409
    transient = True


class NoSuitableHost(DomainError):
    """No enabled host can run the template's VM nested at all (its configuration version, say):
    waiting does not help; the template or the fleet has to change."""

    code = "no_suitable_host"
    http_status = 409


class NotAllowed(DomainError):
    """The actor may see the object but not do this to it."""

    code = "not_allowed"
    http_status = 403


class TenantInactive(DomainError):
    """The tenant is inactive and cannot request labs."""

    code = "tenant_inactive"
    http_status = 409


class TenantInUse(DomainError):
    """The tenant has labs (their history is kept), so it cannot be deleted; deactivate it instead."""

    code = "tenant_in_use"
    http_status = 409


class AlreadyMember(DomainError):
    """The person is already a member of the tenant."""

    code = "already_member"
    http_status = 409


class InvitationNotFound(DomainError):
    """No open invitation with that token is addressed to the caller (unknown, used or not theirs)."""

    code = "not_found"
    http_status = 404


class RosterTooLarge(DomainError):
    """A roster over the size limit, however it arrived."""

    code = "too_large"
    http_status = 413


class HostNotReady(DomainError):
    """The host doctor fails the host, so nothing is built on it (host_smoke refuses it)."""

    code = "host_not_ready"
    http_status = 409


class HostBusy(DomainError):
    """Every operation slot of the host stayed taken; the task is re-enqueued to try again shortly."""

    code = "host_busy"
    http_status = 503
    transient = True
    wait_and_retry = True


class LabBusy(DomainError):
    """Another worker is doing host work for this lab; the task polls again shortly."""

    code = "lab_busy"
    http_status = 409
    transient = True
    wait_and_retry = True


class NetworkSetupError(DomainError):
    """Nestlab could not give a lab its network on its host (a VLAN-mode host without an external
    adapter, a value it could not reserve). Permanent: the build fails with this reason."""

    code = "network_setup_failed"
    http_status = 502


class PoolExhausted(NetworkSetupError):
    """No VLAN or NAT prefix is left in the pool for a tenant. Permanent until an operator acts."""

    code = "network_pool_exhausted"
