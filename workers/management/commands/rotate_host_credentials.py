"""Re-encrypt every stored host password with the newest NESTLAB_ENCRYPTION_KEY (see workers.crypto)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from workers import crypto
from workers.models import Host


class Command(BaseCommand):
    help = "Re-encrypt host passwords with the first NESTLAB_ENCRYPTION_KEY, so older keys can be dropped."

    def handle(self, *args, **options):
        rotated = 0
        with transaction.atomic():
            for host in Host.objects.select_for_update(no_key=True).exclude(password_ciphertext=""):
                host.password_ciphertext = crypto.rotate(host.password_ciphertext)
                host.save(update_fields=["password_ciphertext"])
                rotated += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the passwords of {rotated} hosts with the newest key."))
