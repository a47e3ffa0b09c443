"""Revoke a user's API tokens when their password changes or the account is deactivated.

These hooks sit on the user model's save because a password can change in many places
(``set_password`` + ``save``, the admin, Django's password forms, ``manage.py changepassword``)
and each must revoke; the rule itself is ``services.tokens_revoke_all``.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from accounts import services

User = get_user_model()

_WATCHED = {"password", "is_active"}


@receiver(pre_save, sender=User, dispatch_uid="accounts.note_credential_change")
def note_credential_change(sender, instance, update_fields=None, raw=False, **kwargs):
    instance._revoke_tokens_because = None
    if raw or instance.pk is None:
        return
    if update_fields is not None and not _WATCHED & set(update_fields):
        return  # e.g. last_login on every sign-in: no query
    # ``set_password`` leaves the raw password in ``_password`` until save: a real change. Django's
    # transparent hash upgrade on sign-in resets it to None and saves only "password": not a change.
    if getattr(instance, "_password", None) is not None:
        instance._revoke_tokens_because = "password changed"
        return
    before = User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    if before["is_active"] and not instance.is_active:
        instance._revoke_tokens_because = "account deactivated"
    elif before["password"] != instance.password and set(update_fields or ()) != {"password"}:
        instance._revoke_tokens_because = "password changed"


@receiver(post_save, sender=User, dispatch_uid="accounts.revoke_tokens_on_credential_change")
def revoke_tokens_on_credential_change(sender, instance, created=False, raw=False, **kwargs):
    reason = getattr(instance, "_revoke_tokens_because", None)
    if reason and not created and not raw:
        instance._revoke_tokens_because = None
        services.tokens_revoke_all(user=instance, reason=reason)
