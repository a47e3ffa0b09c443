"""API tokens: issue and revoke. Every entry point (API, admin, the user-model hooks) uses these.

Tokens are django-rest-knox ``AuthToken`` rows: only a SHA-512 digest and the first characters
(``token_key``, used to find the row) are stored, so the key itself is shown once, when issued.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from knox.models import AuthToken

log = logging.getLogger(__name__)


def token_issue(*, user: AbstractBaseUser) -> tuple[AuthToken, str]:
    """A new token for ``user``; returns the row and the key (the only time the key exists in clear).

    Its lifetime is ``REST_KNOX["TOKEN_TTL"]`` from now, renewed on use (see settings).
    """
    instance, key = AuthToken.objects.create(user=user)
    log.info("API token issued for user %s (prefix %s)", user.get_username(), instance.token_key[:8])
    return instance, key


def token_revoke(*, token: AuthToken) -> None:
    """Revoke one token (log out). Idempotent."""
    AuthToken.objects.filter(pk=token.pk).delete()
    log.info("API token revoked for user %s (prefix %s)", token.user.get_username(), token.token_key[:8])


def tokens_revoke_all(*, user: AbstractBaseUser, reason: str) -> int:
    """Revoke every token of ``user`` (log out everywhere, password change, deactivation).

    Returns how many were revoked. Idempotent.
    """
    count, _ = AuthToken.objects.filter(user=user).delete()
    if count:
        log.info("Revoked %d API token(s) of user %s: %s", count, user.get_username(), reason)
    return count
