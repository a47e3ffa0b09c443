"""Check whether a host can run nested labs, and say how to fix what it cannot."""

from django.core.management.base import BaseCommand, CommandError

from workers.models import Host
from workers.services.hosts import host_doctor_run

MARKS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


class Command(BaseCommand):
    help = "Connect to a host, gather its facts, and report each requirement for nested labs. Exit 1 on a failure."

    def add_arguments(self, parser):
        parser.add_argument("host", help="the host's name")

    def handle(self, *args, host, **options):
        row = Host.objects.filter(name=host).first()
        if row is None:
            known = ", ".join(Host.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"No host named {host!r}. Known hosts: {known}.")
        checks = host_doctor_run(host_id=row.pk)
        for check in checks:
            self.stdout.write(f"{MARKS[check.status]}  {check.name}: {check.detail}")
            if check.fix and check.status != "pass":
                self.stdout.write(f"      fix: {check.fix}")
        failed = [check.name for check in checks if check.status == "fail"]
        if failed:
            raise CommandError(f"{row.name} cannot run nested labs yet: {', '.join(failed)}.")
        self.stdout.write(self.style.SUCCESS(f"{row.name} is ready for nested labs."))
