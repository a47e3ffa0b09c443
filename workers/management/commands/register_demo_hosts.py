"""Register the three simulated hosts that ``make run`` starts (deploy/Procfile.dev). Idempotent."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workers.models import Host

DEMO_HOSTS = [
    {"name": "hv1", "port": 15985},
    {"name": "hv2", "port": 15986},
    {"name": "hv3", "port": 15987},
]


class Command(BaseCommand):
    help = "Register the simulated Hyper-V hosts hv1..hv3 of `make run` (127.0.0.1:15985-15987)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even though DEBUG is off.")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("register_demo_hosts registers simulators; it runs only with DEBUG on or with --force.")
        for spec in DEMO_HOSTS:
            host, created = Host.objects.get_or_create(
                name=spec["name"],
                defaults={
                    "endpoint": "127.0.0.1",
                    "port": spec["port"],
                    "transport": "plaintext",
                    "use_tls": False,
                    "username": "nestlab",
                    "logical_cpus": 32,
                    "memory_mb": 131072,
                    "storage_gb": 2048,
                    "vm_root": r"C:\Nestlab\Labs",
                },
            )
            if created:
                host.set_password("nestlab-demo")
                host.save(update_fields=["password_ciphertext"])
            self.stdout.write(f"{'registered' if created else 'kept'} simulated host {host.name} on port {host.port}")
