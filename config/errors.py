"""The one family of domain errors.

Services raise these; the API's exception handler turns them into 4xx answers with a
machine-readable ``code``, the portal and admin show the message, and Celery tasks retry only
those marked ``transient``. Every message is written for the person who has to act on it.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user or operator may see."""

    code = "error"
    http_status = 400
    transient = False

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


class HostUnreachable(DomainError):
    code = "host_unreachable"
    http_status = 503
    transient = True


class HostError(DomainError):
    code = "host_error"
    http_status = 502


class NotAllowed(DomainError):
    """The actor may see the object but not do this to it."""

    code = "not_allowed"
    http_status = 403
