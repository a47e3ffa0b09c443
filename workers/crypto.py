"""Encryption at rest for host credentials.

Keys come from NESTLAB_ENCRYPTION_KEY (Fernet keys, comma-separated, newest first). Encrypting
uses the first key; decrypting tries each, so keys can be rotated without downtime:
put a new key first, run ``manage.py rotate_host_credentials``, then drop the old one.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("NESTLAB_ENCRYPTION_KEY is not set; host credentials cannot be stored.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "NESTLAB_ENCRYPTION_KEY: each key must be 32 url-safe base64-encoded bytes (a Fernet key)."
        ) from None


def cipher() -> MultiFernet:
    return _cipher(tuple(settings.NESTLAB_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored host credential cannot be decrypted with any NESTLAB_ENCRYPTION_KEY; "
            "was the key changed without rotation?"
        ) from None


def rotate(token: str) -> str:
    return cipher().rotate(token.encode()).decode()
