import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import override_settings

from tests import factories
from workers.models import Host


def test_the_password_is_encrypted_at_rest(db):
    factories.host("hv1", password="Sup3r-Secret!")
    with connection.cursor() as cursor:
        cursor.execute("SELECT password_ciphertext FROM workers_host WHERE name = 'hv1'")
        (stored,) = cursor.fetchone()
    assert "Sup3r-Secret!" not in stored
    assert Host.objects.get(name="hv1").get_password() == "Sup3r-Secret!"


def test_the_password_never_shows_in_repr_or_str(db):
    host = factories.host("hv1", password="Sup3r-Secret!")
    assert "Sup3r" not in repr(host) and "Sup3r" not in str(host)


def test_keys_rotate_without_losing_credentials(db):
    from io import StringIO

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    host = factories.host("hv1", password="rotate-me")
    new_key = Fernet.generate_key().decode()
    from django.conf import settings

    with override_settings(NESTLAB_ENCRYPTION_KEYS=[new_key, *settings.NESTLAB_ENCRYPTION_KEYS]):
        call_command("rotate_host_credentials", stdout=StringIO())
    with override_settings(NESTLAB_ENCRYPTION_KEYS=[new_key]):
        assert Host.objects.get(pk=host.pk).get_password() == "rotate-me"


def test_a_wrong_key_is_a_clear_configuration_error(db):
    from cryptography.fernet import Fernet

    host = factories.host("hv1")
    with override_settings(NESTLAB_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
        with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
            host.get_password()
